"""The gallery in a real browser: Debian's Chromium, headless, loads the index and every run
page from ``file://`` and finds no console error, no broken image, no dead local link, and an
audio player that decodes its WAV; screenshots of the index and of run pages are saved and
their paths printed, to be looked at.

The gallery holds the fabricated runs of conftest.py and a real ``seqlab run product --preset
quick``. Skipped where Chromium is not installed, unless SEQLAB_REQUIRE_BROWSER=1 (CI installs
it and sets it): then it fails.
"""

import os
from pathlib import Path
from urllib.parse import unquote, urlsplit
from urllib.request import url2pathname

import pytest

from seqlab import experiments
from seqlab.report import build_gallery

from ..runs import run_cli
from .browser import CHROMIUM, INSTALL, Browser
from .conftest import fabricate_results

PAGE_STATE = """(() => ({
  generator: document.querySelector('meta[name=generator]')?.content,
  images: [...document.images].map(i => [i.getAttribute('src'), i.complete, i.naturalWidth]),
  addresses: [...document.querySelectorAll('[href], [src]')]
    .map(e => e.href || e.src).filter(a => !a.startsWith('data:')),
  ids: [...document.querySelectorAll('[id]')].map(e => e.id),
  overflow: document.documentElement.scrollWidth - document.documentElement.clientWidth,
}))()"""

AUDIO_STATE = """Promise.all([...document.querySelectorAll('audio')].map(a => new Promise(done => {
  if (a.readyState >= 1) return done([a.getAttribute('src'), a.duration]);
  a.addEventListener('loadedmetadata', () => done([a.getAttribute('src'), a.duration]));
  a.addEventListener('error', () => done([a.getAttribute('src'), 'error ' + a.error.code]));
  setTimeout(() => done([a.getAttribute('src'), 'timeout']), 10000);
})))"""


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    if not CHROMIUM.exists():
        if os.environ.get("SEQLAB_REQUIRE_BROWSER") == "1":
            pytest.fail(f"SEQLAB_REQUIRE_BROWSER=1 but {CHROMIUM} is missing; run `{INSTALL}`")
        pytest.skip(f"Chromium is not installed; run `{INSTALL}`")
    with Browser(tmp_path_factory.mktemp("chromium-profile")) as chromium:
        yield chromium


@pytest.fixture(scope="module")
def site(tmp_path_factory, quick_runs) -> Path:
    """A gallery of the fabricated runs and every experiment's real quick run."""
    results = fabricate_results(tmp_path_factory.mktemp("docs") / "results")
    real = results / "real" / "product-quick"
    assert run_cli("run", "product", "--preset", "quick", "--out", real, "--quiet") == 0
    sources = [results]
    for name in experiments.REGISTRY:
        try:
            sources.append(quick_runs(name))
        except pytest.skip.Exception:  # its data is not installed here (not in CI)
            continue
    site = tmp_path_factory.mktemp("gallery") / "site"
    gallery = build_gallery(sources, site)
    assert gallery.runs == 6 + len(sources) - 1
    return site


def check_page(browser: Browser, page: Path, site: Path) -> dict:
    """Load ``page``; fail on a logged error, a broken image, a missing local target."""
    errors = browser.load(page.as_uri())
    assert errors == [], (page, errors)
    state = browser.evaluate(PAGE_STATE)
    assert state["generator"] == "seqlab report", page  # the page itself, not an error page
    for src, complete, width in state["images"]:
        assert complete and width > 0, (page, src)
    for address in state["addresses"]:
        parts = urlsplit(address)
        assert parts.scheme == "file", (page, address)  # nothing from outside the site
        target = Path(url2pathname(unquote(parts.path)))
        assert target.is_file() and target.is_relative_to(site), (page, address)
        if target == page and parts.fragment:
            assert parts.fragment in state["ids"], (page, address)
    assert state["overflow"] <= 0, f"{page} is wider than the window by {state['overflow']} px"
    return state


def test_every_page_loads_clean_in_chromium_and_screenshots_are_saved(
    browser, site, tmp_path_factory, capsys
):
    pages = [site / "index.html", *sorted((site / "runs").glob("*.html"))]
    for page in pages:
        check_page(browser, page, site)
    browser.load((site / "runs" / "product-quick.html").as_uri())
    players = browser.evaluate(AUDIO_STATE)
    assert players and all(isinstance(duration, float) and duration > 0.2
                           for _, duration in players), players  # fmt: skip

    shots = tmp_path_factory.mktemp("screenshots")
    saved = []
    for name in ("index", "runs/product-quick", "runs/real--product-quick", "runs/delay-killed"):
        browser.load((site / f"{name}.html").as_uri())
        saved.append(browser.screenshot(shots / f"{name.replace('/', '-')}.png"))
    for path in saved:
        assert path.stat().st_size > 10_000, path
    with capsys.disabled():
        print("\ngallery screenshots (look at them):", *map(str, saved), sep="\n  ")


def test_the_checks_catch_a_broken_page(browser, tmp_path):
    """A page with a missing image and a logged error fails check_page: the test above could
    fail."""
    page = tmp_path / "broken.html"
    page.write_text('<meta name="generator" content="seqlab report"><img src="gone.png">'
                    '<script>console.error("boom")</script>')  # fmt: skip
    errors = browser.load(page.as_uri())
    assert any("gone.png" in e for e in errors) and any("boom" in e for e in errors)
    with pytest.raises(AssertionError):
        check_page(browser, page, tmp_path)

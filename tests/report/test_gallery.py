"""The static gallery from fabricated run folders: every run listed and linked, every address
inside the site, user text escaped, damaged runs shown rather than fatal, nothing external."""

import re
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

from seqlab.errors import InputError
from seqlab.report import build_gallery
from seqlab.report.command import main

from .conftest import SCRIPT_CAPTION, fabricate_results
from .fabricate import make_run


class Page(HTMLParser):
    """The addresses (``src``/``href``) and ``id``s of one HTML file, and its text."""

    def __init__(self, path: Path):
        super().__init__()
        self.path, self.addresses, self.ids, self.tags, self.text = path, [], set(), [], []
        self.feed(path.read_text(encoding="utf-8"))

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        for name, value in attrs:
            if name in ("src", "href") and value is not None:
                self.addresses.append((tag, value))
            if name == "id":
                self.ids.add(value)

    def handle_data(self, data):
        self.text.append(data)

    def links(self, tag: str = "a") -> list[str]:
        return [value for t, value in self.addresses if t == tag]


def pages(site: Path) -> list[Page]:
    return [Page(p) for p in sorted(site.rglob("*.html")) if "files" not in p.parts]


def text_of(page: Page) -> str:
    return re.sub(r"\s+", " ", "".join(page.text))


def test_the_index_links_every_run_page_in_experiment_then_date_order(built):
    assert built.gallery.runs == 5 and built.gallery.index == built.site / "index.html"
    index = Page(built.gallery.index)
    pages_linked = [href for href in index.links() if href.startswith("runs/")]
    expected = [p.relative_to(built.site).as_posix() for p in built.gallery.pages]
    assert list(dict.fromkeys(pages_linked)) == expected
    names = [Path(p).stem for p in expected]
    assert names == ["charlm-quick--seqlab-gru", "delay-killed", "product-quick",
                     "product-later", "broken"]  # fmt: skip
    assert all(p.is_file() for p in built.gallery.pages)


def test_every_address_in_every_page_is_a_file_of_the_site(built):
    checked = 0
    for page in pages(built.site):
        for tag, value in page.addresses:
            if value.startswith("data:"):
                continue  # the empty favicon: stops the browser asking for /favicon.ico
            parts = urlsplit(value)
            assert not parts.scheme and not parts.netloc, (page.path, value)
            target = (page.path.parent / unquote(parts.path)).resolve() if parts.path else page.path
            assert target.is_file(), (page.path, tag, value)
            assert target.is_relative_to(built.site.resolve()), (page.path, value)
            if parts.fragment:
                assert parts.fragment in Page(target).ids, (page.path, value)
            checked += 1
    assert checked > 60


def test_nothing_points_outside_the_site(built):
    for path in built.site.rglob("*.html"):
        html = path.read_text(encoding="utf-8")
        assert not re.search(r"""(src|href|action)\s*=\s*["']?\s*(https?:)?//""", html), path
        assert "@import" not in html and "url(" not in html
    css = (built.site / "style.css").read_text()
    assert "url(" not in css and "@import" not in css


def test_a_run_page_shows_its_headline_figures_audio_heatmap_sample_and_settings(built):
    page = Page(built.site / "runs" / "product-quick.html")
    text = text_of(page)
    assert "PASS" in text and "FAIL" in text and "99.5%" in text and "1.4702 nats/char" in text
    assert "931,660" in text and "target >= 99%" in text
    assert "product-quick/files/figures/loss.png" in page.links("img")
    assert page.links("audio") == ["product-quick/files/audio/tone.wav"]
    assert page.links("iframe") == ["product-quick/files/alignment.html"]
    assert "But soft, <what> light & shade." in text  # sample.txt, in a <pre>, escaped
    assert "model.hidden_size" in text and "data.batch_size" in text  # dotted, as --set takes
    assert "abc1234" in text and "2.13.0" in text  # env.json
    assert page.links("img").count("product-quick/curves/metrics.png") == 1


def test_the_report_is_rendered_with_its_table_and_image_relinked(built):
    page = Page(built.site / "runs" / "product-quick.html")
    html = page.path.read_text(encoding="utf-8")
    assert "<table>" in html and "<td>0.123</td>" in html
    assert '<img src="product-quick/files/figures/loss.png" alt="loss curve"' in html
    assert '<a href="product-quick/files/config.json">configuration</a>' in html
    text = text_of(page)
    assert "paper (https://example.org/paper)" in text  # an outside link stays as text
    assert "A <b>raw tag</b> stays text." in text and "A &lt;b&gt;raw tag&lt;/b&gt;" in html


def test_user_text_is_escaped_not_run(built):
    html = (built.site / "runs" / "charlm-quick--seqlab-gru.html").read_text(encoding="utf-8")
    assert "&lt;script&gt;alert(&#34;caption&#34;)&lt;/script&gt; &amp; the loss" in html
    for page in pages(built.site):
        assert "script" not in page.tags, page.path
    assert SCRIPT_CAPTION in text_of(Page(built.site / "runs" / "charlm-quick--seqlab-gru.html"))


def test_a_killed_run_and_a_damaged_summary_still_get_a_row_and_a_page(built):
    index = text_of(Page(built.gallery.index))
    assert "no summary (stopped before it finished)" in index
    assert "summary unreadable" in index
    killed = Page(built.site / "runs" / "delay-killed.html")
    # without a summary: its figures found under figures/, one loss curve per training
    assert "delay-killed/files/figures/loss.png" in killed.links("img")
    curves = [src for src in killed.links("img") if "/curves/" in src]
    assert curves == ["delay-killed/curves/lstm.png", "delay-killed/curves/rnn.png"]
    broken = text_of(Page(built.site / "runs" / "broken.html"))
    assert "summary.json is not a seqlab summary" in broken
    assert any("broken" in w and "summary.json" in w for w in built.gallery.warnings)


def test_the_index_shows_three_headlines_a_thumbnail_and_the_duration(built):
    index = Page(built.gallery.index)
    text = text_of(index)
    assert text.count("exact match") == 3 and "parameters: 931,660" not in text
    assert "and 1 more on its page" in text and "6 min 07 s" in text
    thumbs = index.links("img")
    assert len(thumbs) == 5 and all(t.startswith("thumbs/") for t in thumbs)
    from PIL import Image

    with Image.open(built.site / thumbs[0]) as thumb:
        assert max(thumb.size) <= 320


def test_a_second_build_replaces_the_first_with_the_same_bytes(built, tmp_path):
    again = build_gallery([built.results], built.site)
    assert again.runs == built.gallery.runs
    site2 = tmp_path / "site2"
    build_gallery([built.results], site2)
    files = sorted(p.relative_to(built.site) for p in built.site.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(site2) for p in site2.rglob("*") if p.is_file())
    for rel in files:
        assert (built.site / rel).read_bytes() == (site2 / rel).read_bytes(), rel


def test_a_single_run_folder_and_the_gallery_inside_the_searched_folder(tmp_path):
    run = make_run(tmp_path / "docs" / "results" / "product-1")
    gallery = build_gallery([run], tmp_path / "one")
    assert [p.name for p in gallery.pages] == ["product-1.html"]
    # the gallery written inside the folder it searches is not read back as runs next time
    (run / "report.md").write_text("[config](config.json)\n")
    for _ in range(2):
        gallery = build_gallery([tmp_path / "docs"], tmp_path / "docs" / "gallery")
        assert gallery.runs == 1


def test_what_it_refuses(tmp_path):
    with pytest.raises(InputError, match="no such file"):
        build_gallery([tmp_path / "nowhere"], tmp_path / "site")
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="no run folder found"):
        build_gallery([tmp_path / "empty"], tmp_path / "site")
    make_run(tmp_path / "runs" / "a")
    precious = tmp_path / "precious"
    precious.mkdir()
    (precious / "notes.txt").write_text("mine")
    with pytest.raises(InputError, match="not a gallery"):
        build_gallery([tmp_path / "runs"], precious)
    assert (precious / "notes.txt").read_text() == "mine"
    assert not list(tmp_path.glob(".precious*"))


def test_python_m_seqlab_report(tmp_path, capsys):
    fabricate_results(tmp_path / "results")
    assert main([str(tmp_path / "results"), "--out", str(tmp_path / "site")]) == 0
    out, err = capsys.readouterr()
    assert "gallery of 5 runs: file://" in out and "broken" in err
    assert main([str(tmp_path / "missing"), "--out", str(tmp_path / "site")]) == 2
    assert "no such file" in capsys.readouterr().err


def test_missing_artefacts_and_links_out_of_the_run_folder_are_reported_not_copied(tmp_path):
    run = make_run(tmp_path / "runs" / "product-1")
    (run / "audio" / "tone.wav").unlink()
    (tmp_path / "runs" / "secret.png").write_bytes(b"not the run's")
    (run / "report.md").write_text("![escape](../secret.png) ![gone](figures/gone.png)\n")
    (run / "metrics.jsonl").write_text('{"step": 1, "split": "train", "loss": "nan"}\n')
    gallery = build_gallery([tmp_path / "runs"], tmp_path / "site")
    page = Page(gallery.pages[0])
    text = text_of(page)
    assert "audio/tone.wav is missing from the run folder" in text
    assert "[image not in the gallery: escape (../secret.png)]" in text
    assert "[image not in the gallery: gone (figures/gone.png)]" in text
    assert not list((tmp_path / "site").rglob("secret.png"))
    assert "Loss curves" not in text  # a diverged run's only loss is no curve
    assert any("audio/tone.wav" in w for w in gallery.warnings)
    assert any("../secret.png lies outside the run folder" in w for w in gallery.warnings)

"""The gallery committed in docs/gallery is the one `make gallery` writes from docs/results with
this code: rebuilt here, every file is byte for byte the same (run `make gallery` after changing
a run folder or the gallery's code)."""

from pathlib import Path

from seqlab.report import build_gallery

DOCS = Path(__file__).resolve().parents[2] / "docs"


def files(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def test_the_committed_gallery_is_up_to_date(tmp_path):
    site = tmp_path / "gallery"
    gallery = build_gallery([DOCS / "results"], site)
    assert gallery.runs == 12 and not gallery.warnings
    built, committed = files(site), files(DOCS / "gallery")
    assert sorted(built) == sorted(committed)
    stale = [name for name in built if built[name] != committed[name]]
    assert not stale, f"docs/gallery is out of date ({stale[:5]}); run `make gallery`"

"""The files of one run inside the gallery: what is copied from the run folder, the metrics
curves drawn for it and its thumbnail.

    SITE/runs/SLUG.html                 the run's page (written by gallery.py)
    SITE/runs/SLUG/files/PATH           copies of the run folder's files the page shows
    SITE/runs/SLUG/curves/NAME.png      loss against step, one per training
    SITE/thumbs/SLUG.png                the index's thumbnail

Addresses returned here are relative to ``SITE/runs/`` (where the page lies), percent-encoded.
"""

import logging
import re
import shutil
from pathlib import Path
from urllib.parse import quote, unquote, urlsplit

from PIL import Image, UnidentifiedImageError

from ..viz.training import loss_by_step, loss_points
from .runs import RunRecord

log = logging.getLogger(__name__)

# A run may list a checkpoint-sized "data" artefact; the gallery links what it can carry.
MAX_COPY_BYTES = 50 * 2**20
THUMBNAIL = (320, 200)
TEXT_CHARS = 20_000


class RunFiles:
    """Puts one run's files into the site under ``root`` and says where they went; every
    problem is appended to ``warnings`` (and logged), never raised."""

    def __init__(self, root: Path, run: RunRecord, slug: str, warnings: list[str]):
        self.root, self.run, self.slug, self.warnings = root, run, slug, warnings
        self.copied: dict[str, str] = {}

    def warn(self, message: str) -> None:
        message = f"{self.run.name}: {message}"
        log.warning(message)
        self.warnings.append(message)

    def source(self, rel: str) -> Path | None:
        """The run folder's file at ``rel`` (a path relative to it); None, with a warning, when
        it is missing, a folder, or outside the run folder."""
        path = (self.run.dir / rel).resolve()
        if not path.is_relative_to(self.run.dir.resolve()):
            self.warn(f"{rel} lies outside the run folder; not copied")
            return None
        if not path.is_file():
            self.warn(f"{rel} is not in the run folder")
            return None
        return path

    def copy(self, rel: str) -> str | None:
        """Copy the run folder's ``rel`` into the site once; its address, or None when it is
        not there or too large to carry."""
        path = self.source(rel)
        if path is None:
            return None
        inside = path.relative_to(self.run.dir.resolve()).as_posix()
        if inside not in self.copied:
            size = path.stat().st_size
            if size > MAX_COPY_BYTES:
                self.warn(f"{rel} is {size / 2**20:.0f} MiB; not copied into the gallery")
                return None
            target = self.root / "runs" / self.slug / "files" / inside
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, target)
            self.copied[inside] = f"{quote(self.slug)}/files/{quote(inside)}"
        return self.copied[inside]

    def relink(self, href: str) -> str | None:
        """A relative address from ``report.md`` (percent-encoded, maybe with a fragment) as
        the address of the copied file; None when the target is not in the run folder."""
        parts = urlsplit(href)
        if not parts.path:
            return None
        new = self.copy(unquote(parts.path))
        return None if new is None else new + (f"#{parts.fragment}" if parts.fragment else "")

    def read_text(self, rel: str) -> str | None:
        """The start of a text artefact, to show in a ``<pre>``."""
        path = self.source(rel)
        if path is None:
            return None
        with path.open(encoding="utf-8", errors="replace") as f:
            text = f.read(TEXT_CHARS + 1)
        return text if len(text) <= TEXT_CHARS else text[:TEXT_CHARS] + "\n… (cut here)"

    def curves(self) -> list[dict]:
        """One PNG of loss against step per training that logged a finite loss: ``name`` (the
        training, "" for the run's own metrics), ``href`` and ``file`` (its path) of each."""
        drawn = []
        for name, rows in self.run.trainings.items():
            if not (loss_points(rows, "train") or loss_points(rows, "valid")):
                continue
            stem = re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-.") or "metrics"
            target = self.root / "runs" / self.slug / "curves" / f"{stem}.png"
            target.parent.mkdir(parents=True, exist_ok=True)
            loss_by_step(rows, title=name or self.run.name).savefig(target, dpi=100)
            href = f"{quote(self.slug)}/curves/{quote(stem)}.png"
            drawn.append({"name": name, "href": href, "file": target})
        return drawn

    def thumbnail(self, image: Path) -> str | None:
        """A small PNG of ``image`` (a file already in the site) for the index; its address
        relative to the site's root, or None when ``image`` is not a picture Pillow reads."""
        target = self.root / "thumbs" / f"{self.slug}.png"
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            with Image.open(image) as picture:
                picture.thumbnail(THUMBNAIL)
                picture.save(target, optimize=True)
        except (OSError, UnidentifiedImageError) as err:
            self.warn(f"no thumbnail from {image.name} ({err})")
            return None
        return f"thumbs/{quote(self.slug)}.png"

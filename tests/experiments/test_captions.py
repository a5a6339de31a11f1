"""`seqlab run captions` and `seqlab caption` end to end: the run folder, its numbers and
figures, one image through a trained run, and one-line errors for bad images and folders."""

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from seqlab.data import digit_scenes as ds
from seqlab.experiments.captions.command import read_image
from seqlab.experiments.captions.experiment import PRESETS
from seqlab.experiments.captions.task import bleu_scores, noun_roles, vocabulary

from ..runs import run_cli


@pytest.fixture(scope="module")
def captions_run(quick_runs):
    return quick_runs("captions")


@pytest.fixture(scope="module")
def scene():
    return ds.draw_scenes(ds.load_digits(), "test", 4, seed=0, index=5)[3]


def test_the_quick_run_scores_every_model_with_greedy_and_beam(captions_run):
    summary = json.loads((captions_run / "summary.json").read_text())
    results = summary["details"]["results"]
    assert set(results) == {"attention", "no-regulariser", "mean"}
    for kind, r in results.items():
        for how in ("greedy", "beam"):
            s = r[how]
            assert {f"bleu{n}" for n in range(1, 5)} <= set(s)
            assert 0 <= s["exact"] <= 1 and set(s["exact_by_objects"]) == {"1", "2", "3", "4"}
            assert 0 <= s["attention"]["captions_scored"] <= 1
        assert r["regulariser"] == (PRESETS["quick"].regulariser if kind == "attention" else 0)
    names = [h["name"] for h in summary["headline"]]
    assert "exact-caption match, attention (greedy)" in names
    assert sum("noun attention precision" in n for n in names) == 3
    figures = {a["path"] for a in summary["artefacts"]}
    assert figures == {"figures/attention.png", "figures/attention-no-regulariser.png",
                       "figures/training.png"}  # fmt: skip
    assert summary["details"]["test_size"] == 24


def test_bleu_takes_every_reference_and_a_repeated_one_changes_nothing():
    hyps = ["a two below a seven", "a five"]
    one = bleu_scores(hyps, [["a seven above a two", "a two below a seven"], ["a five"]])
    assert one["bleu4"] == pytest.approx(100.0)
    assert bleu_scores(["a two below a seven"], [["a seven above a two"]])["bleu1"] < 100


def test_noun_roles_follow_the_reference_of_the_same_form(scene):
    refs = ds.captions((7, 2), "column")
    pair = ds.Scene(scene.image, (7, 2), ((0, 0, 20, 20), (0, 30, 20, 50)),
                    tuple(tuple(t) for t, _ in refs), tuple(tuple(r) for _, r in refs))  # fmt: skip
    assert noun_roles(("a", "two", "below", "a", "seven"), pair) == (-1, 1, -1, -1, 0)
    assert noun_roles(("a", "one", "above", "a", "one"), pair) == (-1, 0, -1, -1, 1)  # wrong digits
    assert noun_roles(("a", "two", "left", "of", "a", "seven"), pair) is None


def _png(path, array, mode="L"):
    Image.fromarray(array).convert(mode).save(path)
    return path


def test_caption_prints_a_caption_and_writes_the_attention_of_every_word(
    captions_run, scene, tmp_path, capsys
):
    image = _png(tmp_path / "scene.png", np.round(scene.image * 255).astype(np.uint8))
    plots = tmp_path / "plots"
    assert run_cli("caption", captions_run, image, "--plot", plots, "--beam", "1") == 0
    out, err = capsys.readouterr()
    words = out.split()
    assert set(words) <= set(vocabulary().tokens)
    assert "attention model, greedy" in err
    written = sorted(p.name for p in plots.iterdir())
    assert "attention.png" in written
    assert len([p for p in written if p.startswith("word-")]) == len(words) + ("cut" not in err)


def test_an_image_is_made_into_a_canvas_with_notes(scene, tmp_path):
    pixels = np.round(scene.image * 255).astype(np.uint8)
    same, notes = read_image(_png(tmp_path / "a.png", pixels))
    assert notes == [] and np.abs(same - scene.image).max() <= 0.5 / 255
    light = np.full((40, 80, 3), 255, dtype=np.uint8)  # dark ink on white, wide, in colour
    light[10:30, 30:50] = (0, 0, 80)
    canvas, notes = read_image(_png(tmp_path / "b.png", light, "RGB"))
    assert canvas.shape == (ds.CANVAS, ds.CANVAS) and canvas.dtype == np.float32
    text = "; ".join(notes)
    for part in ("colour image converted", "padded from 80×40", "resized", "inverted"):
        assert part in text
    assert canvas[0, 0] == 0.0 and canvas.max() > 0.9  # background black, ink bright


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p: p.write_bytes(b""), "is empty (0 bytes)"),
        (lambda p: p.write_text("not an image\n"), "is not an image pillow can read"),
        (lambda p: Image.fromarray(np.zeros((56, 56), np.uint16) + 300).save(p),
         "16-bit, 32-bit or floating point"),
        (lambda p: Image.fromarray(np.zeros((4, 4), np.uint8)).save(p), "at least 8 pixels"),
        (lambda p: None, "no such image file"),
    ],
)  # fmt: skip
def test_bad_images_get_one_line_errors(captions_run, tmp_path, capsys, make, message):
    path = tmp_path / "image.png"
    make(path)
    assert run_cli("caption", captions_run, path) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1, err


def test_caption_says_when_a_run_folder_keeps_no_checkpoints(captions_run, scene, tmp_path, capsys):
    copy = Path(shutil.copytree(captions_run, tmp_path / "kept"))
    for path in copy.rglob("*.pt"):
        path.unlink()
    image = _png(tmp_path / "scene.png", np.round(scene.image * 255).astype(np.uint8))
    assert run_cli("caption", copy, image) == 2
    assert "keeps no checkpoints" in capsys.readouterr().err


def test_caption_refuses_a_run_of_another_experiment(quick_runs, scene, tmp_path, capsys):
    image = _png(tmp_path / "scene.png", np.round(scene.image * 255).astype(np.uint8))
    assert run_cli("caption", quick_runs("product"), image) == 2
    err = capsys.readouterr().err
    assert "run of 'product', which does not offer `seqlab caption`" in err and "captions" in err


def test_trainings_in_two_processes_equal_the_trainings_in_one(captions_run, tmp_path):
    out = tmp_path / "parallel"
    argv = ["run", "captions", "--preset", "quick", "--set", "workers=2", "--out", out, "--quiet"]
    assert run_cli(*argv) == 0
    alone = json.loads((captions_run / "summary.json").read_text())["details"]["results"]
    side_by_side = json.loads((out / "summary.json").read_text())["details"]["results"]
    for kind in ("attention", "no-regulariser", "mean"):
        assert side_by_side[kind]["valid"] == alone[kind]["valid"]
        assert side_by_side[kind]["greedy"]["bleu4"] == alone[kind]["greedy"]["bleu4"]

"""`seqlab run translate-dates` / `translate-bible` and `seqlab translate` end to end: the run
folder, its numbers against the models it saved, resuming, and every bad input's message."""

import json
import os
import random
import shutil
import subprocess

import pytest
import torch

from seqlab.data import dates
from seqlab.data.vocab import char_tokens
from seqlab.decode import greedy
from seqlab.experiments import rundir
from seqlab.experiments.translate_dates import build_corpus, source_vocabulary
from seqlab.experiments.translation_run import load_trained
from seqlab.train import distributed
from seqlab.train.metrics import read_metrics

from ..runs import TORCHRUN, ctrl_c_at_update, run_cli

HAVE_BIBLE = shutil.which("diatheke") is not None or os.environ.get("SEQLAB_REQUIRE_BIBLE") == "1"


@pytest.fixture(scope="module")
def dates_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "dates"
    assert run_cli("run", "translate-dates", "--preset", "quick", "--out", out, "--quiet") == 0
    return out


def test_quick_dates_run_leaves_everything(dates_run):
    names = {p.name for p in dates_run.iterdir()}
    assert {"config.json", "summary.json", "report.md", "source_vocab.json"} <= names
    for figure in ("alignments.png", "training.png"):
        assert (dates_run / "figures" / figure).stat().st_size > 10_000
    for kind in ("additive", "none"):
        assert (dates_run / "trainings" / kind / "result.json").exists()
    s = json.loads((dates_run / "summary.json").read_text())
    assert list(s["results"]) == ["additive", "none"] and s["test_size"] == 64
    report = (dates_run / "report.md").read_text()
    for r in s["results"].values():
        assert 0 <= r["exact_greedy"] <= 1 and 0 <= r["exact_beam"] <= 1
        assert f"{r['exact_greedy']:.1%}" in report


def test_summary_scores_are_what_the_saved_model_does(dates_run):
    """Re-decode the test dates with the saved attention model: the same exact match."""
    run = rundir.reopen(str(dates_run), distributed.Context())
    model, source_vocab, target_vocab, kind = load_trained(run, None)
    assert kind == "additive"
    corpus = build_corpus(run.cfg)
    pairs = corpus.extra["test_pairs"]
    model.eval()
    right = 0
    for p in pairs:
        ids = torch.tensor([source_vocab.encode(char_tokens(p.source))])
        state = model.encode(ids, torch.tensor([ids.shape[1]]))
        (hyp,) = greedy(model.step, state, 1, target_vocab.bos, target_vocab.eos, 12)
        right += "".join(target_vocab.decode(hyp.tokens)) == p.target
    s = json.loads((dates_run / "summary.json").read_text())
    assert s["results"]["additive"]["exact_greedy"] == right / len(pairs)


def test_resume_of_a_finished_run_reads_it_back(dates_run, capsys):
    before = json.loads((dates_run / "summary.json").read_text())
    assert run_cli("run", "translate-dates", "--resume", dates_run, "--quiet") == 0
    after = json.loads((dates_run / "summary.json").read_text())
    assert after["results"] == before["results"]


def test_translate_prints_a_translation_and_saves_its_alignment(dates_run, tmp_path, capsys):
    plot = tmp_path / "a.png"
    assert run_cli("translate", dates_run, "3 mai 1998", "--beam", "1", "--plot", plot) == 0
    out, err = capsys.readouterr()
    line = out.strip()
    assert line and set(line) <= set("-0123456789")
    assert "attention (additive) model, greedy" in err and str(plot) in err
    assert plot.stat().st_size > 5_000
    # greedy through the CLI = greedy on the saved model
    run = rundir.reopen(str(dates_run), distributed.Context())
    model, sv, tv, _ = load_trained(run, None)
    ids = torch.tensor([sv.encode(char_tokens("3 mai 1998"))])
    (hyp,) = greedy(model.eval().step, model.encode(ids, torch.tensor([10])), 1, tv.bos, tv.eos, 12)
    assert line == "".join(tv.decode(hyp.tokens))
    assert run_cli("translate", dates_run, "3 mai 1998", "--model", "none") == 0
    assert "fixed context model, beam 3" in capsys.readouterr().err


@pytest.mark.parametrize(
    "argv,message",
    [
        (["   "], "empty"),
        (["3 mai 1998 ☃"], "☃"),
        (["3 mai 1998", "--beam", "0"], "--beam 0"),
        (["3 mai 1998", "--model", "dot"], "trained additive, none"),
        (["3 mai 1998", "--model", "none", "--plot", "x.png"], "no attention"),
    ],
)
def test_bad_translate_inputs_get_clear_errors(dates_run, argv, message, capsys):
    assert run_cli("translate", dates_run, *argv) == 2
    assert message in capsys.readouterr().err


def test_translate_refuses_a_model_that_has_not_finished(dates_run, tmp_path, capsys):
    cut = tmp_path / "cut"
    shutil.copytree(dates_run, cut)
    (cut / "trainings" / "additive" / "result.json").unlink()  # as if killed while training
    assert run_cli("translate", cut, "3 mai 1998") == 2
    err = capsys.readouterr().err
    assert "has not finished training" in err and f"--resume {cut}" in err


def test_translate_refuses_a_run_of_another_experiment(tmp_path, capsys):
    out = tmp_path / "product"
    assert run_cli("run", "product", "--preset", "quick", "--out", out, "--quiet") == 0
    capsys.readouterr()
    assert run_cli("translate", out, "3 mai 1998") == 2
    err = capsys.readouterr().err
    assert "run of 'product', which does not translate" in err and "translate-dates" in err


def test_bad_settings_name_the_key(tmp_path, capsys):
    code = run_cli("run", "translate-dates", "--preset", "quick", "--set", "models=additive,luong",
                   "--out", tmp_path / "x")  # fmt: skip
    assert code == 2 and "models='additive,luong'" in capsys.readouterr().err


def test_dates_vocabulary_covers_every_format():
    vocab = source_vocabulary()
    rng = random.Random(5)
    for p in dates.sample_pairs(3000, "test", rng):
        assert not vocab.unknown(char_tokens(p.source)), p


@pytest.mark.skipif(not HAVE_BIBLE, reason="needs diatheke (apt-get install diatheke ...)")
def test_quick_bible_run_and_translate(tmp_path, capsys):
    out = tmp_path / "bible"
    assert run_cli("run", "translate-bible", "--preset", "quick", "--out", out, "--quiet") == 0
    s = json.loads((out / "summary.json").read_text())
    for r in s["results"].values():
        assert 0 <= r["bleu_greedy"] <= 100 and r["by_length"]
    assert (out / "figures" / "bleu_by_length.png").stat().st_size > 10_000
    capsys.readouterr()
    assert run_cli("translate", out, "qwertyuiop and God") == 2
    assert "qwertyuiop" in capsys.readouterr().err
    assert run_cli("translate", out, "qwertyuiop and God", "--allow-unknown") == 0
    out_text, err = capsys.readouterr()
    assert out_text.strip() and "read as <unk>: qwertyuiop" in err


def valid_rows(folder):
    return [r for r in read_metrics(folder / "metrics.jsonl") if r["split"] == "valid"]


def test_two_processes_train_like_one(dates_run, tmp_path):
    """torchrun with 2 CPU processes: each rank takes half of every batch; the replicas stay
    identical and validate like the single-process quick run."""
    out = tmp_path / "ddp"
    argv = ["run", "translate-dates", "--preset", "quick", "--out", str(out), "--quiet"]
    done = subprocess.run([*TORCHRUN, *argv], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert json.loads((out / "env.json").read_text())["processes"] == 2
    for kind in ("additive", "none"):
        rows = [valid_rows(run / "trainings" / kind) for run in (out, dates_run)]
        assert [r["step"] for r in rows[0]] == [r["step"] for r in rows[1]] == [30, 60]
        for two, one in zip(*rows, strict=True):
            assert two["rank_param_spread"] == 0.0
            assert two["loss"] == pytest.approx(one["loss"], rel=1e-5)
            assert two["exact"] == one["exact"]


def test_ctrl_c_mid_training_then_resume_gives_the_uninterrupted_run(dates_run, tmp_path):
    cut = tmp_path / "cut"
    with ctrl_c_at_update(40):
        argv = ["run", "translate-dates", "--preset", "quick", "--quiet", "--out", cut]
        assert run_cli(*argv) == 130
    folder = cut / "trainings" / "additive"
    assert not (folder / "result.json").exists()
    assert torch.load(folder / "checkpoint.pt", weights_only=True)["step"] == 40
    assert run_cli("run", "translate-dates", "--resume", cut, "--quiet") == 0
    # continued from step 40, not started over: every logged step once
    train = [r["step"] for r in read_metrics(folder / "metrics.jsonl") if r["split"] == "train"]
    assert train == [10, 20, 30, 40, 50, 60]
    for kind in ("additive", "none"):
        a, b = valid_rows(dates_run / "trainings" / kind), valid_rows(cut / "trainings" / kind)
        assert [r["step"] for r in b] == [30, 60]
        assert [r["loss"] for r in b] == pytest.approx([r["loss"] for r in a], rel=1e-5)
    whole = json.loads((dates_run / "summary.json").read_text())["results"]
    resumed = json.loads((cut / "summary.json").read_text())["results"]
    for kind in whole:
        assert resumed[kind]["exact_greedy"] == whole[kind]["exact_greedy"]
        assert resumed[kind]["exact_beam"] == whole[kind]["exact_beam"]

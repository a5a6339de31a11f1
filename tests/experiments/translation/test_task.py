"""The shared translation pieces: batches, the Trainer task's metrics, corpus decoding, BLEU
buckets and the settings that are refused."""

from dataclasses import replace

import pytest
import torch

from seqlab.decode import beam_search, greedy
from seqlab.errors import ConfigError
from seqlab.experiments.translation.bible import BibleDataConfig, bleu, bleu_by_length
from seqlab.experiments.translation.dates import TranslateDatesConfig
from seqlab.experiments.translation.report import budget
from seqlab.experiments.translation.task import (
    DecodeConfig,
    TranslationTask,
    build_model,
    collate,
    decode_corpus,
)
from seqlab.models import Seq2SeqConfig
from seqlab.train import Context

BOS, EOS = 1, 2


def test_collate_pads_and_shifts():
    source, lengths, previous, target = collate([[5, 6, 7], [8]], [[9], [10, 11]], BOS, EOS)
    assert source.tolist() == [[5, 6, 7], [8, 0, 0]] and lengths.tolist() == [3, 1]
    assert previous.tolist() == [[BOS, 9, 0], [BOS, 10, 11]]
    assert target.tolist() == [[9, EOS, 0], [10, 11, EOS]]


def small_model(kind="additive"):
    torch.manual_seed(0)
    rnn = Seq2SeqConfig(embedding_size=6, hidden_size=5, attention_size=4, readout_size=8)
    return build_model(TranslateDatesConfig(rnn=rnn), kind, 12, 9).eval()


def sources(n=7, seed=0):
    g = torch.Generator().manual_seed(seed)
    return [torch.randint(4, 12, (int(k),), generator=g).tolist() for k in range(1, n + 1)]


@pytest.mark.parametrize("beam", [1, 3])
def test_decode_corpus_equals_one_sentence_at_a_time(beam):
    """Batches are sorted by length and padded; each answer is what the sentence gets alone."""
    model, srcs = small_model(), sources()
    # a limit that does not depend on the source, so each sentence gets the same one alone
    cfg = DecodeConfig(beam=beam, max_length_ratio=0.0, max_length_extra=6, batch_size=3)
    together = decode_corpus(model, srcs, BOS, EOS, cfg, beam)
    for src, hyp in zip(srcs, together, strict=True):
        state = model.encode(torch.tensor([src]), torch.tensor([len(src)]))
        limit = cfg.max_length(len(src))
        if beam == 1:
            (alone,) = greedy(model.step, state, 1, BOS, EOS, limit)
        else:
            (alone,) = beam_search(model.step, state, 1, BOS, EOS, limit, beam, 1.0)
        assert hyp.alignment.shape[1] == len(src)  # cut to the sentence's own length
        assert hyp.tokens == alone.tokens and hyp.finished == alone.finished
        assert hyp.log_prob == pytest.approx(alone.log_prob, abs=1e-5)
        torch.testing.assert_close(hyp.alignment, alone.alignment, atol=1e-5, rtol=1e-5)


def test_task_metrics_count_tokens_and_exact_sentences():
    model = small_model()
    srcs = sources(4)
    targets = [[5, 6], [7], [8, 8, 8], [6]]
    task = TranslationTask(lambda step: (srcs, targets), (srcs, targets), BOS, EOS, 2, exact=True)
    metrics = task.evaluate(model, Context())
    tokens = sum(len(t) + 1 for t in targets)  # EOS counts
    assert metrics["loss"][1] == tokens and metrics["token_accuracy"][1] == tokens
    assert metrics["exact"][1] == 4
    # the exact count is what greedy decoding gets right
    right = 0
    for s, t in zip(srcs, targets, strict=True):
        state = model.encode(torch.tensor([s]), torch.tensor([len(s)]))
        (hyp,) = greedy(model.step, state, 1, BOS, EOS, 5)
        right += hyp.tokens == t and hyp.finished
    assert metrics["exact"][0] == right
    loss, _, items = task.train_step(model, task.train_batch(0, Context()), None)
    assert items == 4 and torch.isclose(loss, torch.tensor(metrics["loss"][0] / tokens))


def test_bleu_buckets_by_source_length():
    refs = ["el principio", "y dijo dios sea la luz", "a b c d e f g h i j k l"]
    srcs = [[4] * 3, [4] * 9, [4] * 15]
    buckets = bleu_by_length(srcs, refs, refs, width=10)
    assert [(x, n) for x, _, n in buckets] == [(5.0, 2), (15.0, 1)]
    assert all(b == pytest.approx(100.0) for _, b, _ in buckets)
    assert bleu(["x y z"], ["a b c"]) == pytest.approx(0.0)


@pytest.mark.parametrize(
    "make,match",
    [
        (lambda: Seq2SeqConfig(cell="rnn"), "rnn.cell='rnn'"),
        (lambda: TranslateDatesConfig(models="additive,luong"), "models='additive,luong'"),
        (lambda: DecodeConfig(beam=0), "decode.beam=0"),
        (lambda: BibleDataConfig(test_books="Esther,Hezekiah"), "data.test_books"),
        (lambda: BibleDataConfig(valid_books="Ruth", test_books="Ruth"), "no book also in"),
    ],
)
def test_bad_settings_name_the_field(make, match):
    with pytest.raises(ConfigError, match=match):
        make()


def test_the_budget_line_names_each_models_own_optimiser():
    cfg = TranslateDatesConfig()  # two recurrent models on train, the Transformer on its own
    line = budget(cfg)
    assert line.startswith("2,500 steps each, batch 128, gradient clipping at 1; ")
    assert "Adam lr 0.003 with cosine decay to ×0.05 (attention (additive), fixed context)" in line
    assert "the noam schedule (200 warm-up steps, then 1/√step) (Transformer)" in line
    recurrent_only = replace(cfg, models="additive,none")
    assert budget(recurrent_only) == (
        "2,500 steps each, batch 128, Adam lr 0.003 with cosine decay to ×0.05, "
        "gradient clipping at 1"
    )

"""The `transformer` section of the translation experiments: its checks, its training
overrides (the budget stays the run's), label smoothing in the training loss only."""

import pytest
import torch

from seqlab.errors import ConfigError
from seqlab.experiments.translation.dates import PRESETS
from seqlab.experiments.translation.task import TranslationTask, collate, training_of
from seqlab.models.transformer import Transformer, TransformerConfig
from seqlab.train import Context


def test_the_transformer_trains_with_its_overrides_and_the_runs_budget():
    cfg = PRESETS["default"]
    train, smoothing = training_of(cfg, "transformer")
    assert (train.schedule, train.warmup_steps, train.lr, train.beta2) == ("noam", 200, 2e-3, 0.98)
    assert (train.max_steps, train.time_budget) == (cfg.train.max_steps, cfg.train.time_budget)
    assert smoothing == 0.0
    assert training_of(cfg, "additive") == (cfg.train, 0.0)  # the GRUs keep the run's


@pytest.mark.parametrize(
    "kw,message",
    [
        (dict(d_model=30, heads=4), "transformer.heads=4: expected an integer >= 1 that divides"),
        (dict(positional="rope"), "transformer.positional='rope'"),
        (dict(schedule="warm"), "transformer.schedule='warm'"),
        (dict(label_smoothing=1.0), "transformer.label_smoothing=1.0"),
    ],
)
def test_bad_sections_are_config_errors(kw, message):
    with pytest.raises(ConfigError, match=message.replace("(", r"\(")):
        TransformerConfig(**kw)


def test_label_smoothing_changes_the_training_loss_but_not_validation():
    torch.manual_seed(0)
    model = Transformer(12, 9, d_model=16, nhead=2, num_encoder_layers=1, num_decoder_layers=1)
    pairs = ([[4, 5, 6], [7, 8]], [[4, 5], [6, 7, 8]])
    plain = TranslationTask(lambda step: pairs, pairs, 1, 2)
    smooth = TranslationTask(lambda step: pairs, pairs, 1, 2, label_smoothing=0.1)
    model.eval()  # no dropout: the same logits for both
    batch = collate(*pairs, 1, 2)
    loss_plain, _, _ = plain.train_step(model, batch, None)
    loss_smooth, _, _ = smooth.train_step(model, batch, None)
    assert loss_smooth.item() != pytest.approx(loss_plain.item())
    assert plain.evaluate(model, Context()) == smooth.evaluate(model, Context())

"""charlm's recurrent variants: `--set model.peephole=full` (the lecture's V_o c_t) and
`--set model.reset=before` (the lecture's GRU), their one-line errors, and runs saved before
the keys existed."""

import json

import pytest

from seqlab import cli
from seqlab.config import from_dict, keys, override
from seqlab.errors import ConfigError, InputError
from seqlab.experiments.charlm import PRESETS, CharLMExperimentConfig
from seqlab.models.charlm import CharLM, CharLMConfig, describe_charlm
from seqlab.models.layers import recurrent_layer
from seqlab.train import checkpoint

from ..runs import charlm_args, ctrl_c_at_update


def test_charlm_takes_the_peephole_and_reset_keys():
    cfg = override(PRESETS["quick"], ["model.cell=lstm", "model.peephole=full"])
    model = CharLM.from_config(cfg.model, 50)
    assert model.rnn.peephole == "full"
    assert model.rnn.weight_peephole_l0.shape == (64, 64)
    assert describe_charlm(cfg.model) == "1×64 LSTM (seqlab, peephole V_o c_t)"
    cfg = override(PRESETS["quick"], ["model.reset=before"])  # the quick preset's GRU
    assert CharLM.from_config(cfg.model, 50).rnn.reset == "before"
    assert describe_charlm(cfg.model) == "1×64 GRU (seqlab, reset before)"
    cfg = override(cfg, ["model.reset=after", "model.cell=lstm", "model.peephole=none"])
    assert cfg.model.peephole is None


@pytest.mark.parametrize(
    "settings, message",
    [
        (["model.peephole=round"], "model.peephole='round': expected none, diagonal or full"),
        (["model.reset=never"], "model.reset='never': expected one of after, before"),
        (["model.peephole=full"], "model.peephole='full': expected none unless cell=lstm"),
        (["model.cell=lstm", "model.reset=before"], "model.reset='before': expected after"),
        (["model.cell=lstm", "model.backend=torch.nn", "model.peephole=diagonal"],
         "with backend seqlab or auto"),
        (["model.backend=torch", "model.reset=before"], "with backend seqlab or auto"),
    ],
)  # fmt: skip
def test_charlm_variant_keys_that_do_not_fit_say_so(settings, message):
    with pytest.raises(ConfigError, match=message.replace("(", r"\(")):
        override(PRESETS["quick"], settings)


def test_the_layer_factory_refuses_variants_torch_lacks():
    with pytest.raises(InputError, match="peephole='full' needs cell='lstm'"):
        recurrent_layer("gru", 4, 8, peephole="full")
    with pytest.raises(InputError, match="reset='before' needs cell='gru'"):
        recurrent_layer("gru", 4, 8, backend="torch.nn", reset="before")
    with pytest.raises(InputError, match="peephole='side'"):
        recurrent_layer("lstm", 4, 8, peephole="side")


def test_configurations_saved_before_the_keys_still_load():
    saved = json.loads(json.dumps({"model": {"cell": "gru", "hidden_size": 32}}))
    cfg = from_dict(CharLMExperimentConfig, saved)
    assert cfg.model.peephole is None and cfg.model.reset == "after"
    assert CharLMConfig() == CharLMConfig(peephole=None, reset="after")  # today's behaviour
    assert {"model.peephole", "model.reset"} <= set(keys(cfg))


def test_a_charlm_run_saved_before_the_keys_still_resumes(corpus_file, tmp_path):
    out = tmp_path / "old"
    settings = charlm_args(corpus_file, train__max_steps=20, train__eval_every=10)
    with ctrl_c_at_update(10):
        assert cli.main([*settings, "--out", str(out)]) == 130
    # At their defaults the new keys stay out of the checkpoint's fingerprint, so it is the one
    # an older seqlab wrote; make the config as old too.
    fingerprint = checkpoint.load(out / "checkpoint.pt")["fingerprint"]
    assert "model.cell" in fingerprint and not {"model.peephole", "model.reset"} & set(fingerprint)
    record = json.loads((out / "config.json").read_text())
    del record["config"]["model"]["peephole"], record["config"]["model"]["reset"]
    (out / "config.json").write_text(json.dumps(record))
    assert cli.main(["run", "charlm", "--resume", str(out), "--quiet"]) == 0
    assert json.loads((out / "summary.json").read_text())["details"]["steps"] == 20


def test_a_charlm_run_with_a_variant_resumes_only_as_that_variant(corpus_file, tmp_path, capsys):
    out = tmp_path / "before"
    settings = charlm_args(corpus_file, train__max_steps=20, model__reset="before")
    with ctrl_c_at_update(10):
        assert cli.main([*settings, "--out", str(out)]) == 130
    assert checkpoint.load(out / "checkpoint.pt")["fingerprint"]["model.reset"] == "before"
    record = json.loads((out / "config.json").read_text())
    record["config"]["model"]["reset"] = "after"
    (out / "config.json").write_text(json.dumps(record))
    assert cli.main(["run", "charlm", "--resume", str(out), "--quiet"]) == 2
    assert "differs in ['model.reset']" in capsys.readouterr().err

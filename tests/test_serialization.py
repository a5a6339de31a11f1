"""Whole seqlab modules saved with torch.save load with torch.load's defaults (weights_only)."""

import io
import pickle

import pytest
import torch

import seqlab
from seqlab import attention, models
from seqlab.models import (
    selfattentive,
    seq2seq,
    tagger,
    topologies,
    transformer_layers,
)
from seqlab.serialization import TORCH_PARTS, seqlab_module_classes

F64 = torch.float64


def _round_trip(module):
    buffer = io.BytesIO()
    torch.save(module, buffer)
    buffer.seek(0)
    return torch.load(buffer)  # weights_only=True, torch's default


def _assert_same_module(loaded, module):
    assert type(loaded) is type(module)
    assert repr(loaded) == repr(module)
    expected = module.state_dict()
    assert list(loaded.state_dict()) == list(expected)
    for name, tensor in loaded.state_dict().items():
        assert torch.equal(tensor, expected[name]), name


ENGINE = [
    lambda: seqlab.LSTM(3, 4, 2, bidirectional=True, dropout=0.5, batch_first=True),
    lambda: seqlab.LSTM(3, 4, peephole="full", layer_norm=True, backend="seqlab"),
    lambda: seqlab.LSTM(3, 4, peephole="diagonal"),
    lambda: seqlab.GRU(3, 4, 2, reset="before", layer_norm=True),
    lambda: seqlab.RNN(3, 4, nonlinearity="sigmoid", bias=False),
    lambda: seqlab.LSTMCell(3, 4, peephole="full"),
    lambda: seqlab.GRUCell(3, 4, reset="before"),
    lambda: seqlab.RNNCell(3, 4, nonlinearity="relu"),
]


@pytest.mark.parametrize("make", ENGINE)
def test_engine_modules_load_whole(make):
    module = make().to(F64)
    loaded = _round_trip(module)
    _assert_same_module(loaded, module)
    shape = (2, 3) if "Cell" in type(module).__name__ else (5, 2, 3)
    x = torch.randn(shape, dtype=F64)
    torch.testing.assert_close(loaded.eval()(x), module.eval()(x), rtol=0, atol=0)


@pytest.mark.parametrize(
    "make",
    [
        lambda: attention.AdditiveAttention(6, 7, 5),
        lambda: attention.GeneralAttention(6, 7),
        lambda: attention.DotAttention(),
        lambda: attention.StructuredSelfAttention(6, 5, 3),
        lambda: attention.MultiheadAttention(8, 2, batch_first=True),
        lambda: attention.MultiheadAttention(8, 2, kdim=3, vdim=5, bias=False),
    ],
)
def test_attention_modules_load_whole(make):
    module = make()
    _assert_same_module(_round_trip(module), module)


# Every model class of seqlab.models, small, in each configuration that changes what it holds.
MODELS = {
    models.CharLM: [
        {"vocab_size": 11, "embedding_size": 4, "hidden_size": 5, "cell": cell, "backend": backend}
        for cell in ("lstm", "gru", "rnn")
        for backend in ("seqlab", "auto", "torch.nn")
    ]
    + [{"vocab_size": 11, "hidden_size": 5, "num_layers": 2, "dropout": 0.1, "layer_norm": True}],
    models.Seq2Seq: [
        dict(source_vocab=9, target_vocab=8, hidden_size=4, embedding_size=3, attention=a, cell=c)
        for a in seq2seq.ATTENTIONS
        for c in seq2seq.CELLS
    ],
    tagger.SequenceTagger: [{"cell": "rnn", "input_size": 3, "hidden_size": 4, "output_size": 2}],
    topologies.SequenceClassifier: [
        {"vocab_size": 7, "embedding_size": 3, "hidden_size": 4, "num_classes": 2, "cell": "gru"}
    ],
    topologies.Decoder: [{"vocab_size": 7, "embedding_size": 3, "hidden_size": 4, "cell": "lstm"}],
    topologies.ClassToSequence: [
        dict(num_classes=3, vocab_size=7, embedding_size=3, hidden_size=4, cell="lstm")
    ],
    selfattentive.SelfAttentiveClassifier: [
        dict(vocab_size=9, num_classes=2, embedding_size=3, hidden_size=4, attention_size=5, hops=2)
    ],
    selfattentive.KeywordClassifier: [
        dict(vocab_size=9, num_classes=3, embedding_size=3, hidden_size=4)
    ],
    topologies.EncoderDecoder: [
        {"vocab_size": 7, "embedding_size": 3, "hidden_size": 4, "cell": "gru"}
    ],
    models.Transformer: [
        dict(
            source_vocab=9,
            target_vocab=8,
            d_model=8,
            nhead=2,
            num_encoder_layers=1,
            num_decoder_layers=1,
            dim_feedforward=6,
            positional=p,
            norm_first=n,
        )
        for p in ("sinusoidal", "learned")
        for n in (False, True)
    ],
    models.TransformerLM: [
        dict(vocab_size=9, d_model=8, nhead=2, num_layers=2, dim_feedforward=6, positional=p)
        for p in ("sinusoidal", "learned")
    ],
    transformer_layers.PositionalEncoding: [dict(d_model=8, kind="learned", max_len=5)],
    transformer_layers.EncoderLayer: [dict(d_model=8, nhead=2, dim_feedforward=6)],
    transformer_layers.DecoderLayer: [dict(d_model=8, nhead=2, activation="gelu")],
    transformer_layers.Stack: [
        dict(layer_cls=transformer_layers.EncoderLayer, num_layers=2, d_model=8, nhead=2)
    ],
    transformer_layers._Layer: [dict(d_model=4, nhead=2, dim_feedforward=8)],
    models.Captioner: [
        dict(
            vocab_size=9,
            image_size=16,
            context=c,
            channels=2,
            annotation_size=4,
            embedding_size=3,
            hidden_size=5,
            attention_size=4,
        )
        for c in ("attention", "mean")
    ],
    models.FrameClassifier: [dict(input_size=3, hidden_size=3, classes=2)],
    models.Separator: [dict(n_fft=16, hop=4, hidden_size=3, num_layers=1)],
}


def test_every_model_class_is_tested_here():
    listed = {c for c in seqlab_module_classes() if c.__module__.startswith("seqlab.models.")}
    missing = sorted(c.__qualname__ for c in listed - set(MODELS))
    assert not missing, f"add a small construction of {missing} to MODELS in this file"


@pytest.mark.parametrize(
    "cls,kwargs", [(cls, kw) for cls, configs in MODELS.items() for kw in configs]
)
def test_models_load_whole(cls, kwargs):
    model = cls(**kwargs)
    _assert_same_module(_round_trip(model), model)
    # What a whole model holds is seqlab's classes and the torch.nn parts listed for it.
    allowed = set(seqlab_module_classes()) | set(TORCH_PARTS)
    assert {type(m) for m in model.modules()} <= allowed


def test_a_loaded_charlm_computes_what_the_saved_one_did():
    model = models.CharLM(11, 4, 5, num_layers=2, cell="lstm").eval()
    loaded = _round_trip(model).eval()
    ids = torch.randint(0, 11, (2, 6))
    logits, (h, c) = model(ids)
    loaded_logits, (loaded_h, loaded_c) = loaded(ids)
    for a, b in [(loaded_logits, logits), (loaded_h, h), (loaded_c, c)]:
        assert torch.equal(a, b)


class UserModel(torch.nn.Module):
    """A user's own model around a seqlab LSTM: only its own class is the user's to list."""

    def __init__(self):
        super().__init__()
        self.rnn = seqlab.LSTM(3, 4, peephole="full")


def test_a_user_model_lists_only_its_own_class():
    buffer = io.BytesIO()
    torch.save(UserModel(), buffer)
    buffer.seek(0)
    with pytest.raises(pickle.UnpicklingError, match="UserModel"):  # torch's rule for it
        torch.load(buffer)
    buffer.seek(0)
    with torch.serialization.safe_globals([UserModel]):
        loaded = torch.load(buffer)
    assert isinstance(loaded.rnn, seqlab.LSTM) and loaded.rnn.peephole == "full"


def test_a_users_safe_globals_block_leaves_seqlabs_entries_in_place():
    # torch's context manager removes what it lists on exit, also what seqlab had added.
    with torch.serialization.safe_globals([torch.nn.Linear, torch.nn.Embedding, seqlab.LSTM]):
        pass
    model = models.CharLM(11, 4, 5, cell="lstm")
    _assert_same_module(_round_trip(model), model)

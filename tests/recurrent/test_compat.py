"""What code written against torch.nn's recurrent modules reads of seqlab's, and the conversion
both ways (which is also how seqlab modules get quantised)."""

import pytest
import torch
from torch import nn

import seqlab
from seqlab import BackendError

F64 = torch.float64

TWINS = [  # (seqlab module, torch module built alike)
    (lambda: seqlab.LSTM(3, 5, 2, bidirectional=True, proj_size=2, batch_first=True),
     lambda: nn.LSTM(3, 5, 2, bidirectional=True, proj_size=2, batch_first=True)),
    (lambda: seqlab.GRU(3, 5, 2, bias=False, dropout=0.2),
     lambda: nn.GRU(3, 5, 2, bias=False, dropout=0.2)),
    (lambda: seqlab.RNN(3, 5, nonlinearity="relu", bidirectional=True),
     lambda: nn.RNN(3, 5, nonlinearity="relu", bidirectional=True)),
]  # fmt: skip
CELLS = [
    (lambda: seqlab.LSTMCell(3, 5), lambda: nn.LSTMCell(3, 5)),
    (lambda: seqlab.GRUCell(3, 5, bias=False), lambda: nn.GRUCell(3, 5, bias=False)),
    (
        lambda: seqlab.RNNCell(3, 5, nonlinearity="relu"),
        lambda: nn.RNNCell(3, 5, nonlinearity="relu"),
    ),
]


def _flat(values):
    if isinstance(values, torch.Tensor):
        return [values]
    return [t for v in values for t in _flat(v)]


def _assert_same_outputs(a, b, x):
    for got, want in zip(_flat(a(x)), _flat(b(x)), strict=True):
        torch.testing.assert_close(got, want, atol=1e-12, rtol=0)


@pytest.mark.parametrize("make_ours,make_theirs", TWINS + CELLS)
def test_seqlab_modules_are_not_torch_subclasses(make_ours, make_theirs):
    ours, theirs = make_ours(), make_theirs()
    assert isinstance(ours, nn.Module) and not isinstance(ours, type(theirs))


@pytest.mark.parametrize("make_ours,make_theirs", TWINS)
def test_mode_all_weights_and_flat_weights_read_as_torchs(make_ours, make_theirs):
    ours, theirs = make_ours(), make_theirs()
    ours.load_state_dict(theirs.state_dict())
    assert ours.mode == theirs.mode
    assert ours._flat_weights_names == theirs._flat_weights_names
    for a, b in zip(ours._flat_weights, theirs._flat_weights, strict=True):
        assert torch.equal(a, b)
    assert [len(w) for w in ours.all_weights] == [len(w) for w in theirs.all_weights]
    for a, b in zip(_flat(ours.all_weights), _flat(theirs.all_weights), strict=True):
        assert torch.equal(a, b)
    # Computed from the parameters on every read: never out of step with them.
    with torch.no_grad():
        ours.weight_hh_l0.add_(1.0)
    assert (
        ours._flat_weights[1] is ours.weight_hh_l0 and ours.all_weights[0][1] is ours.weight_hh_l0
    )


def test_mode_of_the_variants_torch_lacks():
    assert seqlab.RNN(2, 3, nonlinearity="sigmoid").mode == "RNN_SIGMOID"
    assert seqlab.LSTM(2, 3, peephole="full").mode == "LSTM"
    names = seqlab.LSTM(2, 3, peephole="full")._flat_weights_names
    assert names[:4] == ["weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0"]
    assert names[4:] == ["weight_peephole_l0"]


@pytest.mark.parametrize("make_ours,make_theirs", TWINS + CELLS)
def test_to_torch_and_back_give_the_same_numbers(make_ours, make_theirs):
    ours = make_ours().to(F64).eval()
    twin = seqlab.to_torch(ours)
    assert type(twin) is type(make_theirs())
    assert next(twin.parameters()).dtype == F64
    shape = (4, 3) if "Cell" in type(ours).__name__ else (4, 2, 3)
    x = torch.randn(shape, dtype=F64)
    _assert_same_outputs(twin, ours, x)
    back = seqlab.from_torch(twin, backend="seqlab")
    assert type(back) is type(ours) and back.backend == "seqlab"
    _assert_same_outputs(back, twin, x)


@pytest.mark.parametrize(
    "make",
    [
        lambda: seqlab.LSTM(3, 5, peephole="diagonal"),
        lambda: seqlab.GRU(3, 5, reset="before"),
        lambda: seqlab.GRUCell(3, 5, layer_norm=True),
        lambda: seqlab.RNN(3, 5, nonlinearity="sigmoid"),
    ],
)
def test_to_torch_refuses_the_variants_torch_lacks(make):
    with pytest.raises(BackendError, match="has no torch.nn twin"):
        seqlab.to_torch(make())


class Model(nn.Module):
    """A model holding seqlab modules beside torch's, one of them twice (shared)."""

    def __init__(self):
        super().__init__()
        self.embed = nn.Embedding(10, 4)
        self.encoder = seqlab.LSTM(4, 6, 2, batch_first=True)
        self.step = seqlab.GRUCell(6, 6)
        self.again = self.step
        self.readout = nn.Linear(6, 10)

    def forward(self, ids):
        out, _ = self.encoder(self.embed(ids))  # (B, T, H)
        return self.readout(self.again(out[:, -1], self.step(out[:, 0])))


def test_whole_models_convert_both_ways_and_keep_sharing():
    model = Model().to(F64).eval()
    ids = torch.randint(0, 10, (3, 5))
    converted = seqlab.to_torch(model)
    assert type(converted.encoder) is nn.LSTM and type(converted.step) is nn.GRUCell
    assert converted.again is converted.step
    assert type(model.encoder) is seqlab.LSTM  # the model itself is left alone
    _assert_same_outputs(converted, model, ids)
    back = seqlab.from_torch(converted)
    assert type(back.encoder) is seqlab.LSTM and back.again is back.step
    _assert_same_outputs(back, model, ids)


# torch's own notices about its deprecated quantisation API, raised by the calls under test
@pytest.mark.filterwarnings("ignore:torch.ao.quantization is deprecated:DeprecationWarning")
@pytest.mark.filterwarnings("ignore:torch.quantize_per_tensor:UserWarning")
def test_quantize_dynamic_leaves_seqlab_modules_float_and_quantises_their_torch_twins():
    from torch.ao.nn.quantized import dynamic

    model = Model().eval()
    ids = torch.randint(0, 10, (3, 5))
    spec = {nn.Linear, nn.LSTM, nn.GRUCell}
    quantised = torch.ao.quantization.quantize_dynamic(model, spec, dtype=torch.qint8)
    # Only torch's own types are swapped: seqlab's stay as they were, float.
    assert type(quantised.encoder) is seqlab.LSTM and type(quantised.step) is seqlab.GRUCell
    assert type(quantised.readout) is dynamic.Linear
    quantised = torch.ao.quantization.quantize_dynamic(seqlab.to_torch(model), spec, torch.qint8)
    assert type(quantised.encoder) is dynamic.LSTM and type(quantised.step) is dynamic.GRUCell
    torch.testing.assert_close(quantised(ids), model(ids), atol=0.05, rtol=0)

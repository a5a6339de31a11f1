"""Every bad input a user can give the engine gets an error naming what was wrong."""

import pytest
import torch
from torch.nn.utils.rnn import pack_padded_sequence

import seqlab
from seqlab import InputError, ShapeError

FAMILIES = ["RNN", "LSTM", "GRU"]


def _module(family, **kw):
    return getattr(seqlab, family)(3, 4, 2, **kw)


def _state(family, shape):
    h = torch.zeros(shape)
    return (h, torch.zeros(shape)) if family == "LSTM" else h


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("backend", ["seqlab", "torch"])
class TestBadInput:
    def test_wrong_rank(self, family, backend):
        with pytest.raises(ShapeError, match=r"input must be 3-D .* got shape \(2, 5, 3, 1\)"):
            _module(family, backend=backend)(torch.zeros(2, 5, 3, 1))

    def test_wrong_feature_size(self, family, backend):
        with pytest.raises(ShapeError, match=r"input has 7 features .* input_size=3"):
            _module(family, backend=backend)(torch.zeros(5, 2, 7))

    def test_empty_sequence(self, family, backend):
        with pytest.raises(ShapeError, match="no time steps"):
            _module(family, backend=backend)(torch.zeros(0, 2, 3))

    def test_empty_batch(self, family, backend):
        with pytest.raises(ShapeError, match="empty batch"):
            _module(family, backend=backend)(torch.zeros(5, 0, 3))

    def test_state_shape(self, family, backend):
        with pytest.raises(ShapeError, match=r"h_0 has shape \(2, 3, 4\); expected \(2, 2, 4\)"):
            _module(family, backend=backend)(torch.zeros(5, 2, 3), _state(family, (2, 3, 4)))

    def test_dtype_mismatch(self, family, backend):
        with pytest.raises(InputError, match="input has dtype torch.float64"):
            _module(family, backend=backend)(torch.zeros(5, 2, 3, dtype=torch.float64))

    def test_state_dtype_mismatch(self, family, backend):
        hx = _state(family, (2, 2, 4))
        hx = tuple(h.double() for h in hx) if isinstance(hx, tuple) else hx.double()
        with pytest.raises(InputError, match="h_0 has dtype torch.float64"):
            _module(family, backend=backend)(torch.zeros(5, 2, 3), hx)

    def test_device_mismatch(self, family, backend):
        with pytest.raises(InputError, match="input is on meta"):
            _module(family, backend=backend)(torch.zeros(5, 2, 3, device="meta"))

    @pytest.mark.parametrize(
        "lengths,message",
        [
            ([5, 6], r"lengths must lie in \[1, 5\]"),
            ([0, 3], r"lengths must lie in \[1, 5\]"),
            ([5, 3, 2], r"lengths has shape \(3,\); expected \(2,\)"),
            (torch.tensor([5.0, 3.0]), "lengths must hold integers"),
        ],
    )
    def test_bad_lengths(self, family, backend, lengths, message):
        with pytest.raises((InputError, ShapeError), match=message):
            _module(family, backend=backend)(torch.zeros(5, 2, 3), lengths=lengths)

    def test_packed_and_lengths_together(self, family, backend):
        packed = pack_padded_sequence(torch.zeros(5, 2, 3), [5, 3])
        with pytest.raises(InputError, match="either a PackedSequence or lengths"):
            _module(family, backend=backend)(packed, lengths=[5, 3])


@pytest.mark.parametrize("family", FAMILIES)
def test_constructor_arguments(family):
    cls = getattr(seqlab, family)
    with pytest.raises(InputError, match="hidden_size=0"):
        cls(3, 0)
    with pytest.raises(InputError, match="num_layers=1.5"):
        cls(3, 4, 1.5)
    with pytest.raises(InputError, match="dropout=2"):
        cls(3, 4, dropout=2)
    with pytest.raises(InputError, match="backend='cuda'"):
        cls(3, 4, backend="cuda")


def test_lstm_state_must_be_a_pair():
    with pytest.raises(InputError, match=r"tuple \(h_0, c_0\)"):
        seqlab.LSTM(3, 4)(torch.zeros(5, 2, 3), torch.zeros(1, 2, 4))


def test_sigmoid_rnn_has_no_torch_kernel():
    with pytest.raises(seqlab.BackendError, match="no sigmoid"):
        seqlab.RNN(3, 4, nonlinearity="sigmoid", backend="torch")(torch.zeros(5, 2, 3))
    with pytest.raises(InputError, match="nonlinearity='gelu'"):
        seqlab.RNN(3, 4, nonlinearity="gelu")


@pytest.mark.parametrize("family", FAMILIES)
def test_cell_bad_inputs(family):
    cell = getattr(seqlab, family + "Cell")(3, 4)
    with pytest.raises(ShapeError, match=r"cell input must be 2-D .* got \(2, 2, 3\)"):
        cell(torch.zeros(2, 2, 3))
    with pytest.raises(ShapeError, match="5 features"):
        cell(torch.zeros(2, 5))
    bad = torch.zeros(3, 4)
    with pytest.raises(ShapeError, match=r"shape \(3, 4\); expected \(2, 4\)"):
        cell(torch.zeros(2, 3), (bad, bad) if family == "LSTM" else bad)


def test_unknown_options_are_named():
    with pytest.raises(InputError, match=r"LSTMCell got unexpected argument\(s\) \['proj_size'\]"):
        seqlab.LSTMCell(3, 4, proj_size=2)  # torch.nn.LSTMCell has no projection either
    with pytest.raises(InputError, match=r"GRU got unexpected argument\(s\) \['proj_size'\]"):
        seqlab.GRU(3, 4, proj_size=0)  # as torch.nn.GRU, which refuses even 0
    with pytest.raises(InputError, match=r"\['peephole'\].*\['reset', 'layer_norm'\]"):
        seqlab.GRU(3, 4, peephole="full")
    with pytest.raises(InputError, match=r"\['reset'\]"):
        seqlab.RNNCell(3, 4, reset="before")


def test_projection_size_errors():
    assert seqlab.LSTM(3, 4, proj_size=0).proj_size == 0  # torch's default: no projection
    assert seqlab.LSTM(3, 4, 1, True, False, 0.0, False, 2).proj_size == 2  # torch's order
    with pytest.raises(InputError, match="proj_size=4 must be smaller than hidden_size=4"):
        seqlab.LSTM(3, 4, proj_size=4)
    for bad in (-1, 1.5, True):
        with pytest.raises(InputError, match=r"proj_size=.*expected an integer >= 0"):
            seqlab.LSTM(3, 4, proj_size=bad)
    lstm = seqlab.LSTM(3, 4, 2, proj_size=2)
    x, h, c = torch.zeros(5, 1, 3), torch.zeros(2, 1, 2), torch.zeros(2, 1, 4)
    assert lstm(x, (h, c))[0].shape == (5, 1, 2)
    with pytest.raises(
        ShapeError, match=r"h_0 has shape \(2, 1, 4\); expected \(2, 1, 2\).*proj_size"
    ):
        lstm(x, (c, c))
    with pytest.raises(
        ShapeError, match=r"c_0 has shape \(2, 1, 2\); expected \(2, 1, 4\).*hidden"
    ):
        lstm(x, (h, h))

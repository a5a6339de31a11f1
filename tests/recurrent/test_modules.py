"""seqlab's RNN, LSTM and GRU against their torch.nn twins after a weight copy."""

import pytest
import torch
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

import seqlab

from .helpers import assert_close_all

F64 = torch.float64
FAMILIES = ["RNN", "LSTM", "GRU"]
LAYOUTS = [  # (num_layers, bidirectional, batch_first)
    (1, False, False),
    (2, False, True),
    (1, True, False),
    (2, True, True),
]


def _pair(
    family,
    I,
    H,
    layers=1,
    bidirectional=False,
    batch_first=False,
    dtype=F64,
    backend="seqlab",
    **kw,
):
    torch_mod = getattr(torch.nn, family)(
        I, H, layers, batch_first=batch_first, bidirectional=bidirectional, dtype=dtype, **kw
    )
    ours = getattr(seqlab, family)(
        I,
        H,
        layers,
        batch_first=batch_first,
        bidirectional=bidirectional,
        backend=backend,
        dtype=dtype,
        **kw,
    )
    ours.load_state_dict(torch_mod.state_dict())
    return ours, torch_mod


def _flatten(result):
    out, state = result
    if isinstance(out, torch.nn.utils.rnn.PackedSequence):
        out = out.data
    return [out, *state] if isinstance(state, tuple) else [out, state]


def _initial_state(family, shape, dtype=F64):
    h0 = torch.randn(shape, dtype=dtype, requires_grad=True)
    if family != "LSTM":
        return h0, [h0]
    c0 = torch.randn(shape, dtype=dtype, requires_grad=True)
    return (h0, c0), [h0, c0]


def _check_parity(ours, theirs, args_ours, args_theirs, leaves, atol):
    a, b = _flatten(ours(*args_ours)), _flatten(theirs(*args_theirs))
    assert_close_all(a, b, atol=atol)
    weights = [torch.randn_like(t) for t in a]
    inputs_a = leaves + list(ours.parameters())
    inputs_b = leaves + list(theirs.parameters())
    ga = torch.autograd.grad(
        sum((t * w).sum() for t, w in zip(a, weights, strict=True)), inputs_a, retain_graph=True
    )  # the inputs may share a graph
    gb = torch.autograd.grad(sum((t * w).sum() for t, w in zip(b, weights, strict=True)), inputs_b)
    names = [f"leaf{k}" for k in range(len(leaves))] + [n for n, _ in ours.named_parameters()]
    assert_close_all(ga, gb, atol=atol * 10, names=names)


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("layers,bidirectional,batch_first", LAYOUTS)
def test_parity_float64(family, layers, bidirectional, batch_first, tier):
    ours, theirs = _pair(family, 4, 6, layers, bidirectional, batch_first)
    T, B, D = 7, 3, 2 if bidirectional else 1
    x = torch.randn((B, T, 4) if batch_first else (T, B, 4), dtype=F64, requires_grad=True)
    hx, leaves = _initial_state(family, (layers * D, B, 6))
    _check_parity(ours, theirs, (x, hx), (x, hx), [x, *leaves], atol=1e-12)


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("dtype,atol", [(F64, 1e-11), (torch.float32, 2e-5)])
def test_parity_at_a_size_that_takes_the_fused_pointwise_path(family, dtype, atol, tier):
    # B·H >= 4096 switches tanh to the sigmoid identity inside the kernels.
    ours, theirs = _pair(family, 8, 128, 2, True, True, dtype=dtype)
    x = torch.randn(40, 5, 8, dtype=dtype, requires_grad=True)
    _check_parity(ours, theirs, (x,), (x,), [x], atol=atol)


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("bidirectional", [False, True])
def test_packed_and_lengths_match_torch_packed(family, bidirectional, tier):
    ours, theirs = _pair(family, 3, 5, 2, bidirectional)
    T, B, D = 6, 4, 2 if bidirectional else 1
    lengths = torch.tensor([3, 6, 1, 4])
    x = torch.randn(T, B, 3, dtype=F64, requires_grad=True)
    hx, leaves = _initial_state(family, (2 * D, B, 5))
    packed = pack_padded_sequence(x, lengths, enforce_sorted=False)
    _check_parity(ours, theirs, (packed, hx), (packed, hx), [x, *leaves], atol=1e-12)

    # lengths= on the padded tensor: same numbers, zeros past each length.
    out, state = ours(x, hx, lengths=lengths)
    ref_out, ref_state = theirs(pack_padded_sequence(x, lengths, enforce_sorted=False), hx)
    ref_out, _ = pad_packed_sequence(ref_out, total_length=T)
    assert_close_all(_flatten((out, state)), _flatten((ref_out, ref_state)), atol=1e-12)
    assert torch.count_nonzero(out[3:, 0]) == 0


@pytest.mark.parametrize("family", FAMILIES)
def test_auto_and_torch_backends_agree_with_seqlab(family):
    x = torch.randn(5, 2, 3, dtype=F64)
    lengths = torch.tensor([5, 2])
    results = []
    for backend in ("seqlab", "auto", "torch"):
        torch.manual_seed(1)
        m = getattr(seqlab, family)(3, 4, 2, bidirectional=True, backend=backend, dtype=F64)
        results.append(_flatten(m(x, lengths=lengths)))
    assert_close_all(results[1], results[0], atol=1e-12)
    assert_close_all(results[2], results[0], atol=1e-12)


@pytest.mark.parametrize("family", FAMILIES)
def test_state_dict_moves_both_ways(family):
    theirs = getattr(torch.nn, family)(3, 4, 2, bidirectional=True)
    ours = getattr(seqlab, family)(3, 4, 2, bidirectional=True)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    ours.load_state_dict(theirs.state_dict())
    back = getattr(torch.nn, family)(3, 4, 2, bidirectional=True)
    back.load_state_dict(ours.state_dict())
    for k, v in theirs.state_dict().items():
        assert torch.equal(back.state_dict()[k], v), k


@pytest.mark.parametrize("layers,bidirectional,batch_first", LAYOUTS)
@pytest.mark.parametrize("backend", ["seqlab", "torch"])
def test_projection_parity(layers, bidirectional, batch_first, backend):
    ours, theirs = _pair(
        "LSTM", 4, 6, layers, bidirectional, batch_first, backend=backend, proj_size=3
    )
    T, B, D = 7, 3, 2 if bidirectional else 1
    x = torch.randn((B, T, 4) if batch_first else (T, B, 4), dtype=F64, requires_grad=True)
    h0 = torch.randn(layers * D, B, 3, dtype=F64, requires_grad=True)  # proj_size features
    c0 = torch.randn(layers * D, B, 6, dtype=F64, requires_grad=True)  # hidden_size features
    _check_parity(ours, theirs, (x, (h0, c0)), (x, (h0, c0)), [x, h0, c0], atol=1e-12)


@pytest.mark.parametrize("dtype,atol", [(F64, 1e-12), (torch.float32, 2e-5)])
def test_projection_parity_packed_and_large(dtype, atol):
    ours, theirs = _pair("LSTM", 8, 128, 2, True, dtype=dtype, proj_size=32)
    x = torch.randn(12, 40, 8, dtype=dtype, requires_grad=True)  # B·H >= 4096: tanh via σ
    packed = pack_padded_sequence(x, torch.randint(1, 13, (40,)), enforce_sorted=False)
    _check_parity(ours, theirs, (packed,), (packed,), [x], atol=atol)
    assert list(ours.state_dict()) == list(theirs.state_dict())  # weight_hr last, as torch
    back = torch.nn.LSTM(8, 128, 2, bidirectional=True, proj_size=32, dtype=dtype)
    back.load_state_dict(ours.state_dict())


@pytest.mark.parametrize("family", FAMILIES)
def test_unbatched_input(family):
    ours, theirs = _pair(family, 3, 4, 2)
    x = torch.randn(5, 3, dtype=F64, requires_grad=True)
    hx, leaves = _initial_state(family, (2, 4))
    _check_parity(ours, theirs, (x, hx), (x, hx), [x, *leaves], atol=1e-12)


@pytest.mark.parametrize("family", FAMILIES)
def test_cell_matches_torch_cell(family):
    theirs = getattr(torch.nn, family + "Cell")(3, 5, dtype=F64)
    ours = getattr(seqlab, family + "Cell")(3, 5, backend="seqlab", dtype=F64)
    ours.load_state_dict(theirs.state_dict())
    x = torch.randn(4, 3, dtype=F64, requires_grad=True)
    hx, leaves = _initial_state(family, (4, 5))

    def run(cell):
        state = cell(x, hx)
        return cell(x * 0.5, state)  # two steps, so the state path is differentiated

    a, b = run(ours), run(theirs)
    a = list(a) if isinstance(a, tuple) else [a]
    b = list(b) if isinstance(b, tuple) else [b]
    assert_close_all(a, b, atol=1e-12)
    w = [torch.randn_like(t) for t in a]
    ga = torch.autograd.grad(
        sum((t * v).sum() for t, v in zip(a, w, strict=True)), [x, *leaves, *ours.parameters()]
    )
    gb = torch.autograd.grad(
        sum((t * v).sum() for t, v in zip(b, w, strict=True)), [x, *leaves, *theirs.parameters()]
    )
    assert_close_all(ga, gb, atol=1e-12)


def test_dropout_acts_between_layers_in_training_only():
    m = seqlab.LSTM(3, 8, 2, dropout=0.5, backend="seqlab")
    x = torch.randn(4, 2, 3)
    m.train()
    assert not torch.equal(m(x)[0], m(x)[0])
    m.eval()
    assert torch.equal(m(x)[0], m(x)[0])


@pytest.mark.parametrize(
    "make,expect_torch",
    [
        (lambda: seqlab.LSTM(3, 4), True),  # oneDNN's fused LSTM is the faster one
        (lambda: seqlab.LSTM(3, 4, peephole="full"), False),  # torch has no such model
        (lambda: seqlab.LSTM(3, 4, proj_size=2), False),  # oneDNN has no projection
        (lambda: seqlab.GRU(3, 4), False),  # seqlab's GRU beats ATen's per-step loop
        (lambda: seqlab.RNN(3, 4), False),
        (lambda: seqlab.LSTMCell(3, 4), True),
        (lambda: seqlab.GRUCell(3, 4, reset="before"), False),
    ],
)
def test_auto_backend_choice(make, expect_torch):
    from seqlab.recurrent.trace import GradientTrace

    module = make()
    cpu, gpu = torch.device("cpu"), torch.device("cuda")
    assert module._resolve_backend(None, cpu) is expect_torch
    # On a GPU cuDNN runs whatever torch can; recording always needs seqlab's path.
    assert module._resolve_backend(None, gpu) is (module._torch_unsupported() is None)
    assert module._resolve_backend(GradientTrace(), cpu) is False
    assert module._resolve_backend(GradientTrace(), gpu) is False

"""The GRU's hand-derived BPTT against autograd through its equations, and against torch.nn.GRU."""

import pytest
import torch
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

import seqlab
from seqlab.recurrent import gru, reference
from seqlab.recurrent.gru import GRUFunction, run_gru_layer
from seqlab.recurrent.trace import GradientTrace, TraceKey

from ..conftest import lengths_mask
from .helpers import assert_close_all, grads, layer_params, perturb_layer_norm

F64 = torch.float64
RESETS = ["after", "before"]


def _layer_params(I, H, reset, layer_norm, bias):
    m = seqlab.GRU(I, H, bias=bias, reset=reset, layer_norm=layer_norm, dtype=F64)
    perturb_layer_norm(m)
    return layer_params(m) | ({} if bias else {"bias_ih": None, "bias_hh": None})


def _check_against_reference(T, B, H, reset, layer_norm, bias, masked, reverse):
    params = _layer_params(4, H, reset, layer_norm, bias)
    x = torch.randn(T, B, 4, dtype=F64, requires_grad=True)
    h0 = torch.randn(B, H, dtype=F64, requires_grad=True)
    mask = lengths_mask(torch.randint(1, T + 1, (B,)), T) if masked else None
    ours = run_gru_layer(x, h0, params, mask, reverse, reset, layer_norm)
    ref = reference.gru_layer(x, h0, params, reset, layer_norm, mask, reverse)
    assert_close_all(ours, ref, atol=1e-12, names=["out", "h_T"])
    names = ["x", "h0", *(n for n, p in params.items() if p is not None)]
    leaves = [x, h0, *(p for p in params.values() if p is not None)]
    weights = [torch.randn_like(t) for t in ours]
    assert_close_all(
        grads(ours, leaves, weights), grads(ref, leaves, weights), atol=1e-10, names=names
    )


@pytest.mark.parametrize("reset", RESETS)
@pytest.mark.parametrize("layer_norm", [False, True])
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("masked,reverse", [(False, False), (True, False), (True, True)])
@pytest.mark.parametrize("size", [(3, 5), (9, 500)])  # (B, H); the second runs tanh via σ
def test_hand_derived_equals_autograd_of_reference(
    reset, layer_norm, bias, masked, reverse, size, tier
):
    _check_against_reference(6, *size, reset, layer_norm, bias, masked, reverse)


@pytest.mark.parametrize("reset", RESETS)
def test_one_step_of_one_sequence(reset, tier):
    # T = B = 1: every slice of the (T, B, 3H) gates counts as contiguous, and a buffer taken
    # from one must still be a copy (the compiled forward once wrote n over U_n h + b_hn).
    _check_against_reference(1, 1, 3, reset, False, True, False, False)


@pytest.mark.parametrize("reset", RESETS)
@pytest.mark.parametrize("layer_norm", [False, True])
def test_backward_in_chunks_of_steps(monkeypatch, reset, layer_norm):
    # Chunks of 2 steps over T = 7: the last chunk is shorter, and the δ chain crosses chunks.
    B, H = 3, 5
    monkeypatch.setattr(gru, "_CHUNK", 2 * B * H)
    _check_against_reference(7, B, H, reset, layer_norm, True, True, True)


@pytest.mark.parametrize("reset", RESETS)
@pytest.mark.parametrize("layer_norm", [False, True])
def test_gradcheck(reset, layer_norm, tier):
    p = _layer_params(2, 3, reset, layer_norm, True)
    x = torch.randn(4, 2, 2, dtype=F64, requires_grad=True)
    h0 = torch.randn(2, 3, dtype=F64, requires_grad=True)
    mask = lengths_mask(torch.tensor([4, 2]), 4)
    names = ["weight_ih", "weight_hh", "bias_ih", "bias_hh"] + (
        list(gru.LN_NAMES) if layer_norm else []
    )

    def f(x, h0, *tensors):
        ln = tensors[4:] if layer_norm else (None,) * 4
        return GRUFunction.apply(x, h0, *tensors[:4], *ln, mask, reset, None, None, False, True)

    assert torch.autograd.gradcheck(f, (x, h0, *(p[n] for n in names)))


@pytest.mark.parametrize("reset", RESETS)
@pytest.mark.parametrize("reverse", [False, True])
def test_trace_records_the_gate_gradients_in_input_order(reset, reverse, tier):
    # x_t = e_t (one batch row): column t of ∂E/∂W_ih is ∂E/∂A_t itself, a closed-form oracle.
    T, H = 5, 4
    params = _layer_params(T, H, reset, False, True)
    x = torch.eye(T, dtype=F64).unsqueeze(1)  # (T, 1, T)
    mask = lengths_mask(torch.tensor([3]), T)
    trace = GradientTrace()
    out, h = run_gru_layer(
        x, torch.zeros(1, H, dtype=F64), params, mask, reverse, reset, False, trace,
        TraceKey("gru", 0, int(reverse)),
    )  # fmt: skip
    (dW_ih,) = grads((out, h), [params["weight_ih"]], [torch.randn_like(out), torch.ones_like(h)])
    (record,) = trace.records
    assert record.quantity == "pre_activation"
    torch.testing.assert_close(record.norms, dW_ih.norm(dim=0), atol=1e-12, rtol=0)
    assert torch.count_nonzero(record.norms[3:]) == 0 < torch.count_nonzero(record.norms[:3])


def _pair(I, H, layers=1, bidirectional=False, batch_first=False, dtype=F64):
    theirs = torch.nn.GRU(
        I, H, layers, batch_first=batch_first, bidirectional=bidirectional, dtype=dtype
    )
    ours = seqlab.GRU(
        I, H, layers, batch_first=batch_first, bidirectional=bidirectional, backend="seqlab",
        dtype=dtype,
    )  # fmt: skip
    ours.load_state_dict(theirs.state_dict())
    return ours, theirs


def _check_parity(ours, theirs, make_args, leaves, atol):
    a, b = ours(*make_args()), theirs(*make_args())  # two graphs: each gets its own backward
    a = [a[0].data if isinstance(a[0], torch.nn.utils.rnn.PackedSequence) else a[0], a[1]]
    b = [b[0].data if isinstance(b[0], torch.nn.utils.rnn.PackedSequence) else b[0], b[1]]
    assert_close_all(a, b, atol=atol, names=["output", "h_n"])
    weights = [torch.randn_like(t) for t in a]
    names = [f"leaf{k}" for k in range(len(leaves))] + [n for n, _ in ours.named_parameters()]
    ga = grads(a, leaves + list(ours.parameters()), weights)
    gb = grads(b, leaves + list(theirs.parameters()), weights)
    assert_close_all(ga, gb, atol=atol * 10, names=names)


def test_parity_with_torch_two_layers_bidirectional_batch_first(tier):
    ours, theirs = _pair(4, 6, 2, True, True)
    x = torch.randn(3, 7, 4, dtype=F64, requires_grad=True)  # (B, T, I)
    h0 = torch.randn(4, 3, 6, dtype=F64, requires_grad=True)
    _check_parity(ours, theirs, lambda: (x, h0), [x, h0], atol=1e-12)


def test_parity_with_torch_float32_through_the_sigmoid_path(tier):
    ours, theirs = _pair(8, 128, 2, True, True, dtype=torch.float32)  # B·H >= 4096
    x = torch.randn(40, 6, 8, requires_grad=True)
    _check_parity(ours, theirs, lambda: (x,), [x], atol=2e-5)


def test_packed_sequence_and_lengths_match_torch(tier):
    ours, theirs = _pair(3, 5, 2, True)
    T, B = 6, 4
    lengths = torch.tensor([3, 6, 1, 4])
    x = torch.randn(T, B, 3, dtype=F64, requires_grad=True)
    h0 = torch.randn(4, B, 5, dtype=F64, requires_grad=True)

    def packed_args():
        return pack_padded_sequence(x, lengths, enforce_sorted=False), h0

    _check_parity(ours, theirs, packed_args, [x, h0], atol=1e-12)

    out, h_n = ours(x, h0, lengths=lengths)
    ref_out, ref_h_n = theirs(*packed_args())
    ref_out, _ = pad_packed_sequence(ref_out, total_length=T)
    assert_close_all([out, h_n], [ref_out, ref_h_n], atol=1e-12, names=["output", "h_n"])
    assert torch.count_nonzero(out[1:, 2]) == 0  # zeros past the length 1 in both directions


def test_state_dict_moves_both_ways():
    theirs = torch.nn.GRU(3, 4, 2, bidirectional=True)
    ours = seqlab.GRU(3, 4, 2, bidirectional=True)
    ours.load_state_dict(theirs.state_dict())
    back = torch.nn.GRU(3, 4, 2, bidirectional=True)
    back.load_state_dict(ours.state_dict())
    for name, value in theirs.state_dict().items():
        assert torch.equal(back.state_dict()[name], value), name


def test_cell_matches_torch_cell():
    theirs = torch.nn.GRUCell(3, 5, dtype=F64)
    ours = seqlab.GRUCell(3, 5, backend="seqlab", dtype=F64)
    ours.load_state_dict(theirs.state_dict())
    x = torch.randn(4, 3, dtype=F64, requires_grad=True)
    h = torch.randn(4, 5, dtype=F64, requires_grad=True)
    a, b = ours(x * 0.5, ours(x, h)), theirs(x * 0.5, theirs(x, h))  # two steps
    torch.testing.assert_close(a, b, atol=1e-12, rtol=0)
    w = torch.randn_like(a)
    ga = grads([a], [x, h, *ours.parameters()], [w])
    gb = grads([b], [x, h, *theirs.parameters()], [w])
    assert_close_all(ga, gb, atol=1e-12)


@pytest.mark.parametrize("layer_norm", [False, True])
def test_cell_variants_are_one_step_of_the_reference(layer_norm):
    cell = seqlab.GRUCell(3, 5, reset="before", layer_norm=layer_norm, dtype=F64)
    perturb_layer_norm(cell)
    x, h = torch.randn(4, 3, dtype=F64), torch.randn(4, 5, dtype=F64)
    params = dict(cell.named_parameters())
    _, expected = reference.gru_layer(x[None], h, params, "before", layer_norm)
    torch.testing.assert_close(cell(x, h), expected, atol=1e-12, rtol=0)


@pytest.mark.parametrize("variant", [{"reset": "before"}, {"layer_norm": True}])
def test_torch_backend_refuses_the_variants_torch_lacks(variant):
    m = seqlab.GRU(3, 4, backend="torch", **variant)
    with pytest.raises(seqlab.BackendError, match="backend='torch'"):
        m(torch.randn(2, 1, 3))


def test_bad_variant_arguments():
    with pytest.raises(seqlab.InputError, match=r"reset='middle'.*'after', 'before'"):
        seqlab.GRU(3, 4, reset="middle")
    with pytest.raises(seqlab.InputError, match="layer_norm=1"):
        seqlab.GRUCell(3, 4, layer_norm=1)


def test_repr_names_the_variant():
    assert repr(seqlab.GRU(3, 4, reset="before", layer_norm=True)) == (
        "GRU(3, 4, reset='before', layer_norm=True)"
    )


def test_lecture_form_weights_load_by_negating_the_z_rows():
    """The lecture's GRU keeps the old state with 1 - z: h_t = (1 - z) ⊙ h_{t-1} + z ⊙ h̃_t,
    h̃_t = tanh(W x_t + U (r ⊙ h_{t-1}) + b). Its weights, with the z rows negated (σ(-a) =
    1 - σ(a)), give the same states in seqlab's GRU(reset="before")."""
    torch.manual_seed(3)
    I, H, T, B = 4, 5, 7, 3
    lecture = {
        gate: (
            torch.randn(H, I, dtype=F64),
            torch.randn(H, H, dtype=F64),
            torch.randn(H, dtype=F64),
        )
        for gate in "rzh"
    }
    x = torch.randn(T, B, I, dtype=F64)
    h, expected = torch.zeros(B, H, dtype=F64), []
    for t in range(T):  # the lecture's loop, written out
        W_r, U_r, b_r = lecture["r"]
        W_z, U_z, b_z = lecture["z"]
        W_h, U_h, b_h = lecture["h"]
        r = torch.sigmoid(x[t] @ W_r.T + h @ U_r.T + b_r)
        z = torch.sigmoid(x[t] @ W_z.T + h @ U_z.T + b_z)
        candidate = torch.tanh(x[t] @ W_h.T + (r * h) @ U_h.T + b_h)
        h = (1 - z) * h + z * candidate
        expected.append(h)
    module = seqlab.GRU(I, H, reset="before", backend="seqlab", dtype=F64)
    sign = {"r": 1.0, "z": -1.0, "h": 1.0}  # seqlab's z is the lecture's 1 - z
    with torch.no_grad():
        module.weight_ih_l0.copy_(torch.cat([sign[g] * lecture[g][0] for g in "rzh"]))
        module.weight_hh_l0.copy_(torch.cat([sign[g] * lecture[g][1] for g in "rzh"]))
        module.bias_ih_l0.copy_(torch.cat([sign[g] * lecture[g][2] for g in "rzh"]))
        module.bias_hh_l0.zero_()
    out, h_n = module(x)
    torch.testing.assert_close(out, torch.stack(expected), rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(h_n[0], expected[-1], rtol=1e-12, atol=1e-12)

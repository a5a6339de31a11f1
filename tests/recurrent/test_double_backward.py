"""Second derivatives (create_graph=True, e.g. a gradient penalty) equal torch.nn's and the
reference loops', on every backend and variant: the hand-derived backward gives way to autograd
of the reference loop when a graph of the gradient is wanted."""

import itertools

import pytest
import torch
from torch.nn.utils.rnn import pack_padded_sequence

import seqlab
from seqlab import BackendError
from seqlab.analysis import record_gradient_flow

from ..conftest import lengths_mask
from .helpers import assert_close_all, perturb_layer_norm

F64 = torch.float64


def _outputs(result):
    out, state = result
    if isinstance(out, torch.nn.utils.rnn.PackedSequence):
        out = out.data
    return [out, *state] if isinstance(state, tuple) else [out, state]


def _penalty_grads(outputs, params, leaves, weights):
    """∂/∂(leaves, params) of ‖∂L/∂params‖², L = Σ outputs · weights (a gradient penalty)."""
    loss = sum((o * w).sum() for o, w in zip(outputs, weights, strict=True))
    first = torch.autograd.grad(loss, params, create_graph=True)
    penalty = sum((g * g).sum() for g in first)
    return first, torch.autograd.grad(penalty, [*leaves, *params])


@pytest.mark.parametrize("family", ["RNN", "LSTM", "GRU"])
@pytest.mark.parametrize("backend", ["seqlab", "auto"])
@pytest.mark.parametrize("packed", [False, True])
def test_gradient_penalty_equals_torch_nn(family, backend, packed):
    theirs = getattr(torch.nn, family)(3, 4, 2, bidirectional=packed, dtype=F64)
    ours = getattr(seqlab, family)(3, 4, 2, bidirectional=packed, backend=backend, dtype=F64)
    ours.load_state_dict(theirs.state_dict())
    x = torch.randn(5, 3, 3, dtype=F64, requires_grad=True)

    def inputs():  # packed apart for each module: each backward frees its own graph
        return pack_padded_sequence(x, [5, 2, 4], enforce_sorted=False) if packed else x

    a, b = _outputs(ours(inputs())), _outputs(theirs(inputs()))
    weights = [torch.randn_like(t) for t in a]
    first_a, second_a = _penalty_grads(a, list(ours.parameters()), [x], weights)
    first_b, second_b = _penalty_grads(b, list(theirs.parameters()), [x], weights)
    names = [n for n, _ in ours.named_parameters()]
    assert all(g.requires_grad for g in first_a)
    assert_close_all(first_a, first_b, atol=1e-12, names=names)
    assert_close_all(second_a, second_b, atol=1e-11, names=["x", *names])


def test_projection_gradient_penalty_equals_torch_nn():
    theirs = torch.nn.LSTM(3, 5, 2, bidirectional=True, proj_size=2, dtype=F64)
    ours = seqlab.LSTM(3, 5, 2, bidirectional=True, proj_size=2, backend="seqlab", dtype=F64)
    ours.load_state_dict(theirs.state_dict())
    x = torch.randn(4, 3, 3, dtype=F64, requires_grad=True)
    a, b = _outputs(ours(x)), _outputs(theirs(x))
    weights = [torch.randn_like(t) for t in a]
    _, second_a = _penalty_grads(a, list(ours.parameters()), [x], weights)
    _, second_b = _penalty_grads(b, list(theirs.parameters()), [x], weights)
    assert_close_all(second_a, second_b, atol=1e-11, names=["x", *ours.state_dict()])


@pytest.mark.parametrize("family", ["RNN", "LSTM", "GRU"])
def test_cell_gradient_penalty_equals_torch_nn(family):
    theirs = getattr(torch.nn, family + "Cell")(3, 4, dtype=F64)
    ours = getattr(seqlab, family + "Cell")(3, 4, backend="seqlab", dtype=F64)
    ours.load_state_dict(theirs.state_dict())
    x = torch.randn(2, 3, dtype=F64, requires_grad=True)
    a, b = ours(x), theirs(x)
    a, b = (list(a), list(b)) if family == "LSTM" else ([a], [b])
    weights = [torch.randn_like(t) for t in a]
    _, second_a = _penalty_grads(a, list(ours.parameters()), [x], weights)
    _, second_b = _penalty_grads(b, list(theirs.parameters()), [x], weights)
    assert_close_all(second_a, second_b, atol=1e-12)


# One layer of every variant; each family's module runs its kernel (_run_layer) and its
# reference loop (_reference_layer) on the same tensors.
VARIANTS = [
    *(
        seqlab.LSTM(3, 4, peephole=peephole, layer_norm=layer_norm, dtype=F64)
        for peephole, layer_norm in itertools.product([None, "diagonal", "full"], [False, True])
    ),
    seqlab.LSTM(3, 4, proj_size=2, peephole="full", dtype=F64),
    *(
        seqlab.GRU(3, 4, reset=reset, layer_norm=layer_norm, dtype=F64)
        for reset, layer_norm in itertools.product(["after", "before"], [False, True])
    ),
    *(seqlab.RNN(3, 4, nonlinearity=f, dtype=F64) for f in ["tanh", "relu", "sigmoid", "linear"]),
]


@pytest.mark.parametrize("module", VARIANTS, ids=repr)
@pytest.mark.parametrize("reverse", [False, True])
def test_variants_gradient_penalty_equals_reference(module, reverse):
    perturb_layer_norm(module)
    params = module._params("_l0")
    x = torch.randn(5, 3, 3, dtype=F64, requires_grad=True)
    state = tuple(torch.randn(3, n, dtype=F64, requires_grad=True) for n in module._state_sizes)
    mask = lengths_mask(torch.tensor([5, 2, 4]), 5)

    def flat(result):
        out, final = result
        return [out, *final]

    a = flat(module._run_layer(x, state, params, mask, reverse, None, None))
    b = flat(module._reference_layer(x, state, params, mask, reverse))
    weights = [torch.randn_like(t) for t in a]
    tensors = [p for p in params.values() if p is not None]
    _, second_a = _penalty_grads(a, tensors, [x, *state], weights)
    _, second_b = _penalty_grads(b, tensors, [x, *state], weights)
    assert_close_all(second_a, second_b, atol=1e-11)


@pytest.mark.parametrize(
    "make",
    [
        lambda: seqlab.LSTM(2, 3, peephole="full", layer_norm=True, backend="seqlab"),
        lambda: seqlab.GRU(2, 3, reset="before", backend="seqlab"),
        lambda: seqlab.RNN(2, 3, nonlinearity="sigmoid", backend="seqlab"),
    ],
)
def test_gradgradcheck(make):
    module = make().to(F64)
    perturb_layer_norm(module)
    names = [n for n, _ in module.named_parameters()]
    x = torch.randn(3, 2, 2, dtype=F64, requires_grad=True)

    def f(x, *params):
        return torch.func.functional_call(module, dict(zip(names, params, strict=True)), (x,))[0]

    params = [p.detach().clone().requires_grad_() for p in module.parameters()]
    assert torch.autograd.gradgradcheck(f, (x, *params), fast_mode=True)


def test_recording_refuses_a_graph_of_the_gradient():
    lstm = seqlab.LSTM(3, 4, backend="seqlab")
    with record_gradient_flow():
        out, _ = lstm(torch.randn(5, 2, 3))
        with pytest.raises(BackendError, match="create_graph"):
            torch.autograd.grad(out.sum(), list(lstm.parameters()), create_graph=True)

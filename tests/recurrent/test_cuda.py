"""The hand-derived path on CUDA tensors: the same numbers as on the CPU, and as cuDNN.

Marked ``gpu``: ``make test`` leaves them out; ``pytest -m gpu`` runs them where a CUDA
device exists.
"""

import pytest
import torch

import seqlab

from .helpers import assert_close_all, perturb_layer_norm

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device"),
]

F64 = torch.float64
VARIANTS = [
    ("RNN", {}),
    ("RNN", {"nonlinearity": "sigmoid"}),
    ("GRU", {}),
    ("GRU", {"reset": "before", "layer_norm": True}),
    ("LSTM", {}),
    ("LSTM", {"peephole": "full"}),
    ("LSTM", {"peephole": "diagonal", "layer_norm": True}),
]


def _outputs_and_grads(module, x, lengths, weights=None):
    x = x.detach().requires_grad_()
    out, state = module(x, lengths=lengths)
    outs = [out, *(state if isinstance(state, tuple) else (state,))]
    if weights is None:
        weights = [torch.randn_like(o) for o in outs]
    loss = sum((o * w.to(o.device)).sum() for o, w in zip(outs, weights, strict=True))
    grads = torch.autograd.grad(loss, [x, *module.parameters()])
    return [o.cpu() for o in outs], [g.cpu() for g in grads], weights


@pytest.mark.parametrize("family,options", VARIANTS)
@pytest.mark.parametrize("dtype,atol", [(F64, 1e-10), (torch.float32, 2e-4)])
def test_cuda_equals_cpu(family, options, dtype, atol):
    cpu = getattr(seqlab, family)(
        5, 24, 2, bidirectional=True, backend="seqlab", dtype=dtype, **options
    )
    perturb_layer_norm(cpu)
    gpu = getattr(seqlab, family)(
        5, 24, 2, bidirectional=True, backend="seqlab", dtype=dtype, device="cuda", **options
    )
    gpu.load_state_dict(cpu.state_dict())
    x, lengths = torch.randn(9, 4, 5, dtype=dtype), torch.tensor([9, 3, 6, 1])
    outs_cpu, grads_cpu, weights = _outputs_and_grads(cpu, x, lengths)
    outs_gpu, grads_gpu, _ = _outputs_and_grads(gpu, x.cuda(), lengths, weights)
    assert_close_all(outs_gpu, outs_cpu, atol=atol)
    assert_close_all(grads_gpu, grads_cpu, atol=10 * atol)


@pytest.mark.parametrize("family", ["RNN", "GRU", "LSTM"])
def test_seqlab_on_cuda_equals_cudnn(family):
    theirs = getattr(torch.nn, family)(6, 32, 2, batch_first=True, device="cuda")
    ours = getattr(seqlab, family)(6, 32, 2, batch_first=True, backend="seqlab", device="cuda")
    ours.load_state_dict(theirs.state_dict())
    x = torch.randn(5, 11, 6, device="cuda")
    a_out, a_grads, weights = _outputs_and_grads(ours, x, None)
    (b_out, b_state) = theirs(x.requires_grad_())
    b_outs = [b_out, *(b_state if isinstance(b_state, tuple) else (b_state,))]
    loss = sum((o * w.cuda()).sum() for o, w in zip(b_outs, weights, strict=True))
    b_grads = torch.autograd.grad(loss, [x, *theirs.parameters()])
    # cuDNN may use TF32 and its own summation order: float32 tolerances.
    assert_close_all(a_out, [o.cpu() for o in b_outs], atol=1e-4, rtol=1e-3)
    assert_close_all(a_grads, [g.cpu() for g in b_grads], atol=1e-3, rtol=1e-3)


@pytest.mark.parametrize("family,options", VARIANTS)
def test_gradcheck_on_cuda(family, options):
    module = getattr(seqlab, family)(3, 4, backend="seqlab", dtype=F64, device="cuda", **options)
    perturb_layer_norm(module)
    names = [n for n, _ in module.named_parameters()]
    params = [p.detach().requires_grad_() for p in module.parameters()]

    def f(x, *ps):
        return torch.func.functional_call(module, dict(zip(names, ps, strict=True)), (x,))[0]

    x = torch.randn(4, 2, 3, dtype=F64, device="cuda", requires_grad=True)
    assert torch.autograd.gradcheck(f, (x, *params))

"""The compiled kernels where the other tests do not reach: float32 products large enough for
oneDNN (with the weights packed once per sequence), the zero-stride gradient of ``out.sum()``,
and an input without a gradient."""

import pytest
import torch

import seqlab
from seqlab.recurrent import compiled, gemm

from .helpers import assert_close_all, perturb_layer_norm

CASES = [
    ("RNN", {}),
    ("RNN", {"nonlinearity": "relu"}),
    ("GRU", {}),
    ("GRU", {"reset": "before"}),
    ("GRU", {"layer_norm": True}),
    ("GRU", {"reset": "before", "layer_norm": True}),
    ("LSTM", {}),
    ("LSTM", {"peephole": "diagonal"}),
    ("LSTM", {"peephole": "full"}),
    ("LSTM", {"proj_size": 384}),
    ("LSTM", {"layer_norm": True}),
]


def _run(module, x, lengths, tier):
    """Output, final state and the gradients of out.sum() w.r.t. every parameter."""
    module.zero_grad()
    with compiled.use(tier == "compiled"):
        out, state = module(x, lengths=lengths)
        out.sum().backward()  # a gradient with zero strides
    states = state if isinstance(state, tuple) else (state,)  # the LSTM's (h_n, c_n)
    return [out.detach(), *(s.detach() for s in states), *(p.grad for p in module.parameters())]


@pytest.mark.parametrize("family,options", CASES)
def test_compiled_equals_python_where_the_products_take_onednn(family, options):
    if not compiled.available():
        pytest.skip("no C++ compiler: the compiled kernels cannot be built here")
    # B·H·H past gemm.ONEDNN_MIN_WORK: the per-step products go through oneDNN where it is
    # available, on both tiers.
    B, H = 16, 512
    assert B * H * H >= gemm.ONEDNN_MIN_WORK
    torch.manual_seed(0)
    module = getattr(seqlab, family)(8, H, batch_first=True, backend="seqlab", **options)
    perturb_layer_norm(module)
    x = torch.randn(B, 6, 8)  # needs no gradient
    lengths = torch.randint(1, 7, (B,))
    python, ours = _run(module, x, lengths, "python"), _run(module, x, lengths, "compiled")
    states = ["h_n", "c_n"] if family == "LSTM" else ["h_n"]
    names = ["out", *states, *(n for n, _ in module.named_parameters())]
    # float32 on both tiers, summed in different orders: the tolerance scales with each
    # tensor's size (the LSTM layer norm's input-weight gradient reaches ~500, where both tiers
    # stand ~4e-4 from a float64 run).
    scales = [max(1.0, e.abs().max().item()) for e in python]
    for o, p, name, scale in zip(ours, python, names, scales, strict=True):
        assert_close_all([o], [p], atol=1e-4 * scale, rtol=1e-4, names=[name])

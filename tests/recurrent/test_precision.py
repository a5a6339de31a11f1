"""float32 accuracy: the kernels' rewrites (tanh through σ, folded scales) lose nothing.

At sizes where tanh runs as 2σ(2x) - 1 and scales fold into weights and gains, every family
and variant in float32 stays as close to the float64 truth as the plain float32 loop does.
"""

import pytest
import torch

import seqlab
from seqlab.recurrent import reference

from .helpers import layer_params, perturb_layer_norm

CASES = [
    ("RNN", {}),
    ("RNN", {"nonlinearity": "sigmoid"}),
    ("GRU", {}),
    ("GRU", {"reset": "before"}),
    ("GRU", {"layer_norm": True}),
    ("GRU", {"reset": "before", "layer_norm": True}),
    ("LSTM", {}),
    ("LSTM", {"peephole": "diagonal"}),
    ("LSTM", {"peephole": "full"}),
    ("LSTM", {"layer_norm": True}),
]


def _loop(family, x, h0, params, options):
    if family == "LSTM":
        return reference.lstm_layer(x, h0, h0, params, **options)[0]
    return getattr(reference, f"{family.lower()}_layer")(x, h0, params, **options)[0]


@pytest.mark.parametrize("family,options", CASES)
def test_float32_is_as_accurate_as_the_plain_loop(family, options, tier):
    T, B, I, H = 12, 32, 16, 256  # B·H past the sizes where tanh goes through σ
    module = getattr(seqlab, family)(I, H, backend="seqlab", **options)
    perturb_layer_norm(module)
    x = torch.randn(T, B, I)
    h0 = torch.zeros(B, H)  # U h_0 = 0: a layer norm of it magnifies any rounding error
    params = layer_params(module)
    with torch.no_grad():
        ours = module(x)[0].double()
        loop = _loop(family, x, h0, params, options).double()
        exact = _loop(
            family, x.double(), h0.double(), {k: p.double() for k, p in params.items()}, options
        )
    ours_error = (ours - exact).abs().max().item()
    loop_error = (loop - exact).abs().max().item()
    assert ours_error <= 4 * loop_error + 1e-6, (ours_error, loop_error)


@pytest.mark.parametrize("family,options", CASES)
def test_inference_forward_equals_training_forward(family, options, tier):
    # Without a backward to follow, the kernels skip work only the backward reads.
    module = getattr(seqlab, family)(16, 256, backend="seqlab", **options)
    x = torch.randn(5, 32, 16)
    trained_out, trained_state = module(x)
    with torch.inference_mode():
        out, state = module(x)
    torch.testing.assert_close(out, trained_out.detach(), atol=0, rtol=0)
    for a, b in zip(
        state if isinstance(state, tuple) else (state,),
        trained_state if isinstance(trained_state, tuple) else (trained_state,),
        strict=True,
    ):
        torch.testing.assert_close(a, b.detach(), atol=0, rtol=0)

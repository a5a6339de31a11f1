"""Matrix products for the kernels, through oneDNN on CPU float32 where that is faster.

ATen's CPU ``mm`` goes to MKL's sgemm, which on the project's AMD EPYC machines reaches about
100 GFLOP/s at the recurrent shapes (e.g. (64, 512) @ (512, 2048)); torch's own oneDNN linear
(the library behind ``torch.nn.LSTM``'s fused CPU kernel) reaches about 140-180 GFLOP/s at the
same shapes (``benchmarks/gemm.py`` measures both). For small products oneDNN's fixed cost
loses, so it is used only past :data:`ONEDNN_MIN_WORK` multiply-adds.

``torch.ops.mkldnn._linear_pointwise`` is an internal op of torch's CPU build (the one
inductor calls); it is probed once at import and the kernels fall back to ``mm`` if it is
missing or disagrees with ``mm``. ``SEQLAB_ONEDNN=0`` turns it off.
"""

import os

import torch
from torch import Tensor

ONEDNN_MIN_WORK = 4_000_000  # M·K·N below which mm is faster (measured crossover ~2-8M)


def _probe() -> bool:
    if os.environ.get("SEQLAB_ONEDNN", "1") == "0":
        return False
    try:
        op = torch.ops.mkldnn._linear_pointwise
        gen = torch.Generator().manual_seed(0)
        a, w = torch.randn(8, 16, generator=gen), torch.randn(24, 16, generator=gen)
        return torch.allclose(op(a, w, None, "none", [], ""), a @ w.T, atol=1e-5, rtol=1e-5)
    except (AttributeError, RuntimeError):
        return False


ONEDNN_AVAILABLE = _probe()


def _onednn(a: Tensor, w: Tensor) -> bool:
    # Called inside autograd.Function forward/backward, where grad mode is off.
    return (
        ONEDNN_AVAILABLE
        and a.device.type == "cpu"
        and a.dtype == torch.float32
        and a.shape[0] * a.shape[1] * w.shape[0] >= ONEDNN_MIN_WORK
    )


def linear(a: Tensor, w: Tensor) -> Tensor:
    """``a @ w.T`` for a (M, K) and w (N, K) -> (M, N)."""
    if _onednn(a, w):
        return torch.ops.mkldnn._linear_pointwise(a, w, None, "none", [], "")
    return a @ w.T


def addmm(bias: Tensor, a: Tensor, w: Tensor) -> Tensor:
    """``bias + a @ w.T`` as a new tensor; ``bias`` (M, N)."""
    if _onednn(a, w):
        return torch.ops.mkldnn._linear_pointwise(a, w, None, "none", [], "").add_(bias)
    return torch.addmm(bias, a, w.T)


def add_linear_(out: Tensor, a: Tensor, w: Tensor) -> Tensor:
    """``out += a @ w.T`` in place (the recurrent step's ``A_t += U h_{t-1}``); returns out."""
    if _onednn(a, w):
        return out.add_(torch.ops.mkldnn._linear_pointwise(a, w, None, "none", [], ""))
    return out.addmm_(a, w.T)


def t_matmul(a: Tensor, b: Tensor) -> Tensor:
    """``a.T @ b`` for a (R, M) and b (R, N) -> (M, N): the weight gradients ``dAᵀ X``."""
    if _onednn(b.T, a.T):
        return torch.ops.mkldnn._linear_pointwise(b.T, a.T, None, "none", [], "").T
    return a.T @ b

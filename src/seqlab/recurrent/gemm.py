"""Matrix products for the kernels, through oneDNN on CPU float32 where that is faster.

ATen's CPU ``mm`` goes to MKL's sgemm; torch's own oneDNN linear (the library behind
``torch.nn.LSTM``'s fused CPU kernel) is 1.2-1.3x faster at the per-step recurrent shapes on
the project's 2-core AMD EPYC machines (e.g. (64, 512) @ (512, 2048): ~200 against ~160
GFLOP/s; ``benchmarks/gemm.py`` measures both). For small products oneDNN's fixed cost loses,
so it is used only past :data:`ONEDNN_MIN_WORK` multiply-adds, and never for the weight
gradients ``dAᵀ X`` (:func:`t_matmul`).

``torch.ops.mkldnn._linear_pointwise`` is an internal op of torch's CPU build (the one
inductor calls); it is probed once at import and the kernels fall back to ``mm`` if it is
missing or disagrees with ``mm``. ``SEQLAB_ONEDNN=0`` turns it off.

oneDNN takes its input in any strides, but its fast kernels want a weight that is dense in
one order or the other; a strided one (e.g. a column slice of a wider matrix) falls to its
reference kernel, about 1000x slower (``benchmarks/gemm.py --layouts``). :func:`_onednn_linear`
copies such a weight first: the copy is O(K·N), the product O(M·K·N).
"""

import os
from collections.abc import Callable

import torch
from torch import Tensor

ONEDNN_MIN_WORK = 4_000_000  # M·K·N below which mm is faster (measured crossover ~2-8M)


def _onednn_op(a: Tensor, w: Tensor) -> Tensor:
    """oneDNN's ``a @ w.T`` as torch exposes it (the name tests replace with a spy)."""
    return torch.ops.mkldnn._linear_pointwise(a, w, None, "none", [], "")


def _probe() -> bool:
    if os.environ.get("SEQLAB_ONEDNN", "1") == "0":
        return False
    try:
        gen = torch.Generator().manual_seed(0)
        a, w = torch.randn(8, 16, generator=gen), torch.randn(24, 16, generator=gen)
        return torch.allclose(_onednn_op(a, w), a @ w.T, atol=1e-5, rtol=1e-5)
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


def _onednn_linear(a: Tensor, w: Tensor) -> Tensor:
    """``a @ w.T`` through oneDNN, with the weight in a layout its fast kernels take."""
    if not (w.is_contiguous() or w.T.is_contiguous()):
        w = w.contiguous()
    return _onednn_op(a, w)


def linear(a: Tensor, w: Tensor) -> Tensor:
    """``a @ w.T`` for a (M, K) and w (N, K) -> (M, N)."""
    if _onednn(a, w):
        return _onednn_linear(a, w)
    return a @ w.T


def addmm(bias: Tensor, a: Tensor, w: Tensor) -> Tensor:
    """``bias + a @ w.T`` as a new tensor; ``bias`` (M, N)."""
    if _onednn(a, w):
        return _onednn_linear(a, w).add_(bias)
    return torch.addmm(bias, a, w.T)


def add_linear_(out: Tensor, a: Tensor, w: Tensor) -> Tensor:
    """``out += a @ w.T`` in place (the recurrent step's ``A_t += U h_{t-1}``); returns out."""
    if _onednn(a, w):
        return out.add_(_onednn_linear(a, w))
    return out.addmm_(a, w.T)


def t_matmul(a: Tensor, b: Tensor) -> Tensor:
    """``a.T @ b`` for a (R, M) and b (R, N) -> (M, N): the weight gradients ``dAᵀ X``.

    Always ``mm``: oneDNN would first copy ``bᵀ`` into a dense input (torch's op does), and
    that transposing copy costs what its faster kernel saves at these shapes.
    """
    return a.T @ b


# Per-step products inside the time loops. The path is chosen once per call here: choosing
# it per step costs about 1.5 µs of Python, a sixth of a whole step at B = 1.


def bind_linear(a: Tensor, w: Tensor) -> Callable[[Tensor], Tensor]:
    """``f(a) = linear(a, w)`` for a loop over steps shaped like ``a``."""
    if _onednn(a, w):
        return lambda a: _onednn_linear(a, w)
    w_t = w.T
    return lambda a: a @ w_t


def bind_add_linear_(a: Tensor, w: Tensor) -> Callable[[Tensor, Tensor], Tensor]:
    """``f(out, a) = add_linear_(out, a, w)`` for a loop over steps shaped like ``a``."""
    if _onednn(a, w):
        return lambda out, a: add_linear_(out, a, w)
    w_t = w.T
    return lambda out, a: out.addmm_(a, w_t)


def bind_addmm(a: Tensor, w: Tensor) -> Callable[[Tensor, Tensor], Tensor]:
    """``f(bias, a) = addmm(bias, a, w)`` (a new tensor) for a loop over steps shaped like
    ``a``."""
    if _onednn(a, w):
        return lambda bias, a: addmm(bias, a, w)
    w_t = w.T
    return lambda bias, a: torch.addmm(bias, a, w_t)

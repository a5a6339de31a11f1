"""The hook through which the hand-derived backward reports gradient norms per time step.

The kernels already hold ``∂E/∂A_{z_t}`` (the gradient of the gate pre-activations) for every
step when their backward finishes, and the LSTM also ``∂E/∂c_t``. When a trace is active at
forward time, the backward reduces each of those to one norm per step (one reduction over the
whole sequence, no extra GEMM) and hands them to the trace. The user-facing recorder lives in
:mod:`seqlab.analysis.gradient_flow`.
"""

from dataclasses import dataclass

import torch
from torch import Tensor

from ..errors import BackendError


@dataclass(frozen=True)
class TraceKey:
    """Where a record comes from: which module (by id), layer and direction."""

    module: str
    layer: int
    direction: int


@dataclass(frozen=True)
class TraceRecord:
    """Per-step gradient norms of one quantity of one layer and direction, from one backward.

    ``norms[t]`` is the Frobenius norm over batch and features of the gradient at time step
    ``t`` (time steps in input order, also for the reverse direction).
    """

    key: TraceKey
    quantity: str  # "pre_activation" (∂E/∂A_{z_t}) or "cell" (∂E/∂c_t)
    norms: Tensor  # (T,)


class GradientTrace:
    """Collects :class:`TraceRecord` objects while active."""

    def __init__(self) -> None:
        self.records: list[TraceRecord] = []

    def add(self, key: TraceKey, quantity: str, per_step_grads: Tensor) -> None:
        """Reduce ``per_step_grads`` (T, B, F) to one norm per step and keep it."""
        with torch.no_grad():
            norms = torch.linalg.vector_norm(per_step_grads.flatten(1), dim=1)
        self.records.append(TraceRecord(key, quantity, norms.detach().cpu()))


def check_no_graph(trace: GradientTrace | None) -> None:
    """Refuses a backward with ``create_graph=True`` while recording: the records come from the
    hand-derived backward, and that backward then runs autograd of the reference loop."""
    if trace is not None:
        raise BackendError(
            "gradient-flow recording reads the hand-derived backward, which create_graph=True "
            "replaces with autograd of the reference loop; record without create_graph"
        )


_active: list[GradientTrace] = []


def active_trace() -> GradientTrace | None:
    """The innermost active trace, or ``None`` (the common, zero-cost case)."""
    return _active[-1] if _active else None


def push(trace: GradientTrace) -> None:
    _active.append(trace)


def pop(trace: GradientTrace) -> None:
    if not _active or _active[-1] is not trace:
        raise RuntimeError("gradient traces must be closed in the order they were opened")
    _active.pop()

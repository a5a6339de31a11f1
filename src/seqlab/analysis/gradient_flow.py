"""Record per-time-step gradient norms from the engine's hand-derived backward.

    >>> lstm = seqlab.LSTM(1, 10)
    >>> with record_gradient_flow() as flow:
    ...     out, _ = lstm(x)                      # forward inside: these calls are traced
    ...     loss_fn(out).backward()
    >>> flow.norms("pre_activation")              # (T,) ‖∂E/∂A_{z_t}‖ of layer 0, forward dir.
    >>> flow.norms("cell")                        # (T,) ‖∂E/∂c_t‖ (LSTM only)

Inside the context, ``backend="auto"`` modules take the hand-derived path (only it computes
these gradients); ``backend="torch"`` raises. Norms are Frobenius norms over batch and
features, one per time step in input order, at no extra GEMM.
"""

from collections.abc import Iterator
from contextlib import contextmanager

from torch import Tensor

from ..recurrent import trace as _trace
from ..recurrent.trace import TraceRecord

QUANTITIES = ("pre_activation", "cell")


class GradientFlow:
    """The records of one :func:`record_gradient_flow` context."""

    def __init__(self, trace: _trace.GradientTrace) -> None:
        self._trace = trace

    @property
    def records(self) -> list[TraceRecord]:
        """Every record, in the order the backward produced them."""
        return list(self._trace.records)

    def history(
        self, quantity: str = "pre_activation", layer: int = 0, direction: int = 0
    ) -> list[Tensor]:
        """Per-step norms of every backward that reached (layer, direction), oldest first."""
        if quantity not in QUANTITIES:
            raise ValueError(f"quantity={quantity!r}: expected one of {QUANTITIES}")
        return [
            r.norms
            for r in self._trace.records
            if r.quantity == quantity and r.key.layer == layer and r.key.direction == direction
        ]

    def norms(self, quantity: str = "pre_activation", layer: int = 0, direction: int = 0) -> Tensor:
        """Per-step norms (T,) from the latest backward through (layer, direction)."""
        found = self.history(quantity, layer, direction)
        if not found:
            raise LookupError(
                f"no {quantity!r} gradients recorded for layer {layer}, direction {direction}: "
                f"run forward and backward inside `with record_gradient_flow()` "
                f"('cell' exists for the LSTM only)"
            )
        return found[-1]


@contextmanager
def record_gradient_flow() -> Iterator[GradientFlow]:
    """Trace every seqlab recurrent forward run inside the block (see the module docstring)."""
    trace = _trace.GradientTrace()
    _trace.push(trace)
    try:
        yield GradientFlow(trace)
    finally:
        _trace.pop(trace)

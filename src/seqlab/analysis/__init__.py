"""Analysis tools: gradient-flow traces (and, later, spectra of recurrent matrices)."""

from .gradient_flow import GradientFlow, record_gradient_flow

__all__ = ["GradientFlow", "record_gradient_flow"]

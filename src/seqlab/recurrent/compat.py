"""What the engine's modules offer for code written against ``torch.nn.RNN/LSTM/GRU``.

seqlab's modules are ``nn.Module`` subclasses of their own, not of ``torch.nn.RNNBase``:
that class keeps a flat list of weights for cuDNN (``_flat_weights``) in step with the
parameters through ``__setattr__`` overrides and ``flatten_parameters``, and its forward
assumes torch's models only. seqlab's modules compute ``torch.nn``'s attributes from their
parameters instead, so ``isinstance(m, torch.nn.LSTM)`` is false while what code reads of an
``nn.LSTM`` is there.
"""

from ..errors import ExportError


class TorchCompat:
    """Mixed into the engine's sequence modules and cells."""

    @property
    def _flat_weights_names(self) -> list[str]:
        """Every parameter's name, layer by layer and direction by direction, each
        layer-direction's in torch's order (``weight_ih, weight_hh, bias_ih, bias_hh,
        weight_hr``) and then the variant's own."""
        return [name + suffix for suffix in self._suffixes for name in self._param_names]

    @property
    def _flat_weights(self) -> list:
        """The parameters named by :attr:`_flat_weights_names`, as torch's ``nn.LSTM`` holds
        them (computed on each read, so never out of step)."""
        return [getattr(self, name) for name in self._flat_weights_names]

    def __prepare_scriptable__(self):
        # torch.jit.script calls this on every module before compiling it (torch's hook).
        raise ExportError(
            f"torch.jit.script cannot compile seqlab.{type(self).__name__} (its forward is "
            f"Python over hand-derived kernels); use torch.jit.trace, torch.export or "
            f"torch.onnx.export, which record its plain loop"
        )

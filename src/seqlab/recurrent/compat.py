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

    def __prepare_scriptable__(self):
        # torch.jit.script calls this on every module before compiling it (torch's hook).
        raise ExportError(
            f"torch.jit.script cannot compile seqlab.{type(self).__name__} (its forward is "
            f"Python over hand-derived kernels); use torch.jit.trace, torch.export or "
            f"torch.onnx.export, which record its plain loop"
        )

"""What the engine's modules offer code written against ``torch.nn.RNN/LSTM/GRU``, and the
conversion to and from those modules.

seqlab's modules are ``nn.Module`` subclasses of their own, not of ``torch.nn.RNNBase``, so
``isinstance(seqlab.LSTM(...), torch.nn.LSTM)`` is false: ``RNNBase`` keeps a flat list of its
weights for cuDNN in step with the parameters through ``__setattr__``, ``_apply`` and
``flatten_parameters`` overrides, and its ``__setstate__`` and ``_replicate_for_data_parallel``
rebuild that list from torch's parameter names only; inheriting it would mean keeping that
machinery right for variants it knows nothing of. What code reads of an ``nn.LSTM`` is there:
``mode``, ``all_weights``, ``_flat_weights_names`` and ``_flat_weights`` (computed from the
parameters on every read, so never out of step), ``flatten_parameters()`` (a no-op).

:func:`to_torch` and :func:`from_torch` convert whole models in either direction, weights
copied; ``torch.ao.quantization.quantize_dynamic`` swaps only torch's own module types, so
seqlab's stay float under it, and ``quantize_dynamic(to_torch(model))`` quantises them.
"""

import copy

from torch import nn

from ..errors import BackendError, ExportError

_SEQUENCE_ARGS = (
    "input_size",
    "hidden_size",
    "num_layers",
    "bias",
    "batch_first",
    "dropout",
    "bidirectional",
)
_CELL_ARGS = ("input_size", "hidden_size", "bias")


def _constructor_args(module) -> dict:
    """The constructor arguments torch's and seqlab's twins share, read from either one."""
    name = type(module).__name__
    args = {n: getattr(module, n) for n in (_CELL_ARGS if "Cell" in name else _SEQUENCE_ARGS)}
    if name.startswith("RNN"):
        args["nonlinearity"] = module.nonlinearity
    if name == "LSTM":
        args["proj_size"] = module.proj_size
    return args


class TorchCompat:
    """Mixed into the engine's sequence modules and cells."""

    def __prepare_scriptable__(self):
        # torch.jit.script calls this on every module before compiling it (torch's hook).
        raise ExportError(
            f"torch.jit.script cannot compile seqlab.{type(self).__name__} (its forward is "
            f"Python over hand-derived kernels); use torch.jit.trace, torch.export or "
            f"torch.onnx.export, which record its plain loop"
        )

    def _to_torch(self) -> nn.Module:
        reason = self._torch_unsupported()
        if reason is not None:
            raise BackendError(f"{self!r} has no torch.nn twin: {reason}")
        like = next(self.parameters())
        twin = getattr(nn, type(self).__name__)(
            **_constructor_args(self), device=like.device, dtype=like.dtype
        )
        twin.load_state_dict(self.state_dict())
        return twin.train(self.training)


class SequenceCompat(TorchCompat):
    """Mixed into the engine's sequence modules (RNN, LSTM, GRU)."""

    @property
    def mode(self) -> str:
        """torch's name of the model: ``"LSTM"``, ``"GRU"``, ``"RNN_TANH"``, ``"RNN_RELU"``
        (and seqlab's ``"RNN_SIGMOID"``, ``"RNN_LINEAR"``)."""
        return self._torch_name.upper()

    @property
    def all_weights(self) -> list[list[nn.Parameter]]:
        """One list per layer and direction (forward, then reverse), as ``nn.LSTM``'s."""
        return [[getattr(self, name + s) for name in self._param_names] for s in self._suffixes]

    @property
    def _flat_weights_names(self) -> list[str]:
        """Every parameter's name, layer by layer and direction by direction, each
        layer-direction's in torch's order (``weight_ih, weight_hh, bias_ih, bias_hh,
        weight_hr``) and then the variant's own."""
        return [name + suffix for suffix in self._suffixes for name in self._param_names]

    @property
    def _flat_weights(self) -> list[nn.Parameter]:
        """The parameters named by :attr:`_flat_weights_names`, as ``nn.LSTM`` holds them."""
        return [getattr(self, name) for name in self._flat_weights_names]


def _replace(model: nn.Module, convert, wanted) -> nn.Module:
    """A deep copy of ``model`` with every submodule for which ``wanted`` holds (the model
    itself too) replaced by ``convert(submodule)``; a module shared in ``model`` stays shared."""
    if wanted(model):
        return convert(model)
    model = copy.deepcopy(model)
    done: dict[int, nn.Module] = {}
    for parent in list(model.modules()):
        # _modules, not named_children(), which names a module held twice only once
        for name, child in list(parent._modules.items()):
            if child is not None and wanted(child):
                if id(child) not in done:
                    done[id(child)] = convert(child)
                setattr(parent, name, done[id(child)])
    return model


def to_torch(model: nn.Module) -> nn.Module:
    """A copy of ``model`` in which every seqlab ``RNN``, ``LSTM``, ``GRU`` and cell is its
    ``torch.nn`` twin with a copy of its weights (a seqlab module itself becomes its twin).

    For what only torch's own types get: ``torch.ao.quantization.quantize_dynamic`` (seqlab's
    modules stay float under it), tools that check ``isinstance(m, nn.LSTM)``. Raises
    :class:`~seqlab.errors.BackendError` for a variant torch lacks (peephole, layer norm,
    ``reset="before"``, sigmoid or linear RNN).

    Example::

        quantised = torch.ao.quantization.quantize_dynamic(seqlab.to_torch(model))
    """
    return _replace(model, lambda m: m._to_torch(), lambda m: isinstance(m, TorchCompat))


def from_torch(model: nn.Module, backend: str = "auto") -> nn.Module:
    """A copy of ``model`` in which every ``torch.nn.RNN``, ``LSTM``, ``GRU`` and cell is
    seqlab's twin (on ``backend``) with a copy of its weights; the reverse of :func:`to_torch`.

    Example::

        model = seqlab.from_torch(torch_model, backend="seqlab")  # e.g. to record gradient flow
    """
    from . import GRU, LSTM, RNN, GRUCell, LSTMCell, RNNCell

    twins = {getattr(nn, c.__name__): c for c in (RNN, LSTM, GRU, RNNCell, LSTMCell, GRUCell)}

    def convert(module: nn.Module) -> nn.Module:
        like = next(module.parameters())
        ours = twins[type(module)](
            **_constructor_args(module), backend=backend, device=like.device, dtype=like.dtype
        )
        ours.load_state_dict(module.state_dict())
        return ours.train(module.training)

    return _replace(model, convert, lambda m: type(m) in twins)

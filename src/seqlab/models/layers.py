"""The one factory for the recurrent layers and cells every model is built from.

``cell`` is one of :data:`CELLS` and ``backend`` one of :data:`BACKENDS`: the engine's own
(``"auto"``, ``"seqlab"``, ``"torch"``, see :class:`seqlab.LSTM`) or ``"torch.nn"``, which puts
the :mod:`torch.nn` module itself in the model (same parameter names, so weights move across).
"""

from torch import nn

from .. import recurrent
from ..errors import InputError
from ..recurrent.base import BACKENDS as ENGINE_BACKENDS
from ..recurrent.gru import RESETS
from ..recurrent.lstm import PEEPHOLES

CELLS = ("rnn", "lstm", "gru")
BACKENDS = (*ENGINE_BACKENDS, "torch.nn")
VARIANT_BACKENDS = ("auto", "seqlab")  # the backends that run a peephole or a reset-before GRU
_CLASSES = {"rnn": "RNN", "lstm": "LSTM", "gru": "GRU"}


def check_cell(cell: str, backend: str = "auto") -> None:
    """An InputError unless ``cell`` and ``backend`` are known names."""
    if cell not in CELLS:
        raise InputError(f"cell={cell!r}: expected one of {', '.join(CELLS)}")
    if backend not in BACKENDS:
        raise InputError(f"backend={backend!r}: expected one of {', '.join(BACKENDS)}")


def check_variant(cell: str, backend: str, peephole: str | None, reset: str) -> None:
    """An InputError unless ``peephole`` and ``reset`` are known and fit ``cell`` and
    ``backend``: torch's kernels have neither variant, so they need ``"seqlab"`` or ``"auto"``."""
    if peephole not in PEEPHOLES:
        raise InputError(f"peephole={peephole!r}: expected one of {PEEPHOLES}")
    if reset not in RESETS:
        raise InputError(f"reset={reset!r}: expected one of {RESETS}")
    hand = backend in VARIANT_BACKENDS
    if peephole is not None and not (cell == "lstm" and hand):
        raise InputError(
            f"peephole={peephole!r} needs cell='lstm' and backend 'seqlab' or 'auto' (torch's "
            f"LSTM has no peephole), not cell={cell!r} with backend={backend!r}"
        )
    if reset != "after" and not (cell == "gru" and hand):
        raise InputError(
            f"reset={reset!r} needs cell='gru' and backend 'seqlab' or 'auto' (torch's GRU "
            f"resets after U_n h), not cell={cell!r} with backend={backend!r}"
        )


def recurrent_layer(
    cell: str,
    input_size: int,
    hidden_size: int,
    num_layers: int = 1,
    *,
    backend: str = "auto",
    nonlinearity: str = "tanh",
    bidirectional: bool = False,
    dropout: float = 0.0,
    layer_norm: bool = False,
    peephole: str | None = None,
    reset: str = "after",
    batch_first: bool = True,
) -> nn.Module:
    """A (batch-first by default) RNN, LSTM or GRU: seqlab's, or torch.nn's with
    ``backend="torch.nn"``. ``nonlinearity`` applies to ``cell="rnn"`` only; ``layer_norm`` to
    seqlab's LSTM and GRU only (torch.nn has none); ``peephole`` (``None``, ``"diagonal"`` or
    ``"full"``, the lecture's ``V_o c_t``) to seqlab's LSTM only, and ``reset="before"`` (the
    lecture's GRU) to seqlab's GRU only."""
    check_cell(cell, backend)
    check_variant(cell, backend, peephole, reset)
    kwargs = {"batch_first": batch_first, "bidirectional": bidirectional}
    kwargs["dropout"] = dropout if num_layers > 1 else 0.0
    if cell == "rnn":
        kwargs["nonlinearity"] = nonlinearity
    if layer_norm:
        if backend == "torch.nn" or cell == "rnn":
            raise InputError(
                "layer_norm=True needs cell='lstm' or 'gru' and a seqlab backend (auto, seqlab "
                "or torch); torch.nn has no layer-normalised RNN"
            )
        kwargs["layer_norm"] = True
    if peephole is not None:
        kwargs["peephole"] = peephole
    if reset != "after":
        kwargs["reset"] = reset
    args = (input_size, hidden_size, num_layers)
    if backend == "torch.nn":
        if cell == "rnn" and nonlinearity not in ("tanh", "relu"):
            raise InputError(
                f"nonlinearity={nonlinearity!r}: torch.nn.RNN has only tanh and relu; use a "
                "seqlab backend for sigmoid or linear units"
            )
        return getattr(nn, _CLASSES[cell])(*args, **kwargs)
    return getattr(recurrent, _CLASSES[cell])(*args, backend=backend, **kwargs)


def recurrent_cell(cell: str, input_size: int, hidden_size: int, *, backend: str = "auto"):
    """One time step: seqlab's (or torch.nn's) RNNCell, LSTMCell or GRUCell."""
    check_cell(cell, backend)
    name = _CLASSES[cell] + "Cell"
    if backend == "torch.nn":
        return getattr(nn, name)(input_size, hidden_size)
    return getattr(recurrent, name)(input_size, hidden_size, backend=backend)


def batch_major(state):
    """An engine state (``h`` (L·D, B, H) or ``(h, c)``) with the batch first, (B, L·D, H):
    the decoding step protocol's layout (:mod:`seqlab.decode` reorders states by rows)."""
    if state is None:
        return None
    if isinstance(state, tuple):
        return tuple(s.transpose(0, 1) for s in state)
    return state.transpose(0, 1)


def layer_major(state):
    """The inverse of :func:`batch_major`: back to the engine's (L·D, B, H)."""
    if state is None:
        return None
    if isinstance(state, tuple):
        return tuple(s.transpose(0, 1).contiguous() for s in state)
    return state.transpose(0, 1).contiguous()

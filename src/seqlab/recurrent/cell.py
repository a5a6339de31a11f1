"""One time step with torch's cell interface: ``RNNCell``, ``LSTMCell`` and ``GRUCell``.

Each mixes its family's hooks (``_RNNFamily`` … in the family's file, see :mod:`.base`) into
:class:`CellBase`; the seqlab path runs the family's sequence kernel with T = 1, so a cell and
its sequence module share one hand-derived backward. Shapes: input (B, I) or (I,), state
(B, H) or (H,).
"""

from torch import _VF, Tensor, nn

from ..errors import InputError, ShapeError
from .base import _check_backend, _check_dtype_device, _check_size, _ParameterMixin, _shape
from .compat import TorchCompat
from .gru import _GRUFamily
from .lstm import _LSTMFamily
from .rnn import _RNNFamily
from .trace import active_trace


class CellBase(TorchCompat, _ParameterMixin, nn.Module):
    """One time step with torch's cell interface (``RNNCell``, ``LSTMCell``, ``GRUCell``).

    The seqlab path runs the family's sequence kernel with T = 1, so the cell and the
    sequence module share one hand-derived backward.
    """

    _has_cell_state = False
    _auto_prefers_torch = True  # one step: torch's cell has the fewest ops

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        bias: bool = True,
        *,
        backend: str = "auto",
        device=None,
        dtype=None,
        **variant,
    ) -> None:
        super().__init__()
        _check_size("input_size", input_size)
        _check_size("hidden_size", hidden_size)
        _check_backend(backend)
        self.input_size, self.hidden_size, self.bias, self.backend = (
            input_size,
            hidden_size,
            bias,
            backend,
        )
        self._configure_variant(variant)
        self._param_names = self._register_layer("", input_size, {"device": device, "dtype": dtype})
        self.reset_parameters()

    def extra_repr(self) -> str:
        bias = "" if self.bias else ", bias=False"
        return f"{self.input_size}, {self.hidden_size}{bias}{self._variant_repr()}"

    def forward(self, input: Tensor, hx=None):
        """``input`` (B, I) or (I,); ``hx`` (B, H) (a tuple ``(h, c)`` for the LSTM cell).
        Returns the next state in the same form."""
        if not isinstance(input, Tensor) or input.dim() not in (1, 2):
            got = _shape(input) if isinstance(input, Tensor) else type(input).__name__
            raise ShapeError(f"cell input must be 2-D (B, I) or 1-D (I,); got {got}")
        if input.shape[-1] != self.input_size:
            raise ShapeError(
                f"cell input has {input.shape[-1]} features but the cell was built "
                f"with input_size={self.input_size}"
            )
        _check_dtype_device("input", input, self.weight_ih)
        batched = input.dim() == 2
        x = input if batched else input.unsqueeze(0)
        B, H = x.shape[0], self.hidden_size
        if B == 0:
            raise ShapeError("cell input has an empty batch; give at least one row")
        count = 2 if self._has_cell_state else 1
        if hx is None:
            states = tuple(x.new_zeros(B, H) for _ in range(count))
        else:
            states = tuple(hx) if count == 2 else (hx,)
            if count == 2 and len(states) != 2:
                raise InputError("hx must be a tuple (h, c) for an LSTM cell")
            for name, s in zip(("h", "c"), states, strict=False):
                expected = (B, H) if batched else (H,)
                if not isinstance(s, Tensor) or tuple(s.shape) != expected:
                    got = _shape(s) if isinstance(s, Tensor) else type(s).__name__
                    raise ShapeError(f"cell state {name} has shape {got}; expected {expected}")
                _check_dtype_device(name, s, x)
            if not batched:
                states = tuple(s.unsqueeze(0) for s in states)
        trace = active_trace()
        params = self._params("")
        if self._resolve_backend(trace, x.device):
            cell = getattr(_VF, self._torch_name + "_cell")
            hx_arg = states if self._has_cell_state else states[0]
            result = cell(
                x,
                hx_arg,
                params["weight_ih"],
                params["weight_hh"],
                params["bias_ih"],
                params["bias_hh"],
            )
            new = tuple(result) if self._has_cell_state else (result,)
        else:
            key = self._trace_key(trace, 0, 0)
            _, new = self._layer(x.unsqueeze(0), states, params, None, False, trace, key)
        if not batched:
            new = tuple(s.squeeze(0) for s in new)
        return new if self._has_cell_state else new[0]


class RNNCell(_RNNFamily, CellBase):
    """One step of the Elman RNN, a twin of :class:`torch.nn.RNNCell` with sigmoid and linear
    options.

    Inputs: ``input`` (N, H_in) or (H_in,), and the state h (N, H) (zeros if
    omitted).
    Output: the next state in the same form. Parameters as the sequence module's layer 0,
    without the ``_l0`` suffix (``weight_ih``, ``weight_hh``, ``bias_ih``, ``bias_hh`` ...), so
    a ``state_dict`` moves to and from :class:`torch.nn.RNNCell`. The seqlab path runs the
    sequence kernel for one step: the cell and the sequence module share one backward.

    Example::

        >>> cell = seqlab.RNNCell(10, 20)
        >>> h = cell(torch.randn(3, 10))
        >>> h.shape
        torch.Size([3, 20])
    """

    def __init__(self, input_size, hidden_size, bias=True, nonlinearity="tanh", **kwargs):
        super().__init__(input_size, hidden_size, bias, nonlinearity=nonlinearity, **kwargs)


class LSTMCell(_LSTMFamily, CellBase):
    """One LSTM step, a twin of :class:`torch.nn.LSTMCell` with the same variants as LSTM.

    Inputs: ``input`` (N, H_in) or (H_in,), and the state, a tuple (h, c) of (N, H)
    each (zeros if omitted).
    Output: the next state in the same form. Parameters as the sequence module's layer 0,
    without the ``_l0`` suffix (``weight_ih``, ``weight_hh``, ``bias_ih``, ``bias_hh`` ...), so
    a ``state_dict`` moves to and from :class:`torch.nn.LSTMCell`. The seqlab path runs the
    sequence kernel for one step: the cell and the sequence module share one backward.

    Example::

        >>> cell = seqlab.LSTMCell(10, 20)
        >>> h, c = cell(torch.randn(3, 10))
        >>> h.shape, c.shape
        (torch.Size([3, 20]), torch.Size([3, 20]))
    """

    _auto_prefers_torch = True

    def __init__(
        self, input_size, hidden_size, bias=True, *, peephole=None, layer_norm=False, **kwargs
    ):
        super().__init__(
            input_size, hidden_size, bias, peephole=peephole, layer_norm=layer_norm, **kwargs
        )

    def _set_variant(self, peephole=None, layer_norm=False) -> None:
        super()._set_variant(peephole, layer_norm)  # torch.nn.LSTMCell has no projection


class GRUCell(_GRUFamily, CellBase):
    """One GRU step, a twin of :class:`torch.nn.GRUCell` with ``reset`` and ``layer_norm``.

    Inputs: ``input`` (N, H_in) or (H_in,), and the state h (N, H) (zeros if
    omitted).
    Output: the next state in the same form. Parameters as the sequence module's layer 0,
    without the ``_l0`` suffix (``weight_ih``, ``weight_hh``, ``bias_ih``, ``bias_hh`` ...), so
    a ``state_dict`` moves to and from :class:`torch.nn.GRUCell`. The seqlab path runs the
    sequence kernel for one step: the cell and the sequence module share one backward.

    Example::

        >>> cell = seqlab.GRUCell(10, 20)
        >>> h = cell(torch.randn(3, 10))
        >>> h.shape
        torch.Size([3, 20])
    """

    def __init__(
        self, input_size, hidden_size, bias=True, *, reset="after", layer_norm=False, **kwargs
    ):
        super().__init__(
            input_size, hidden_size, bias, reset=reset, layer_norm=layer_norm, **kwargs
        )

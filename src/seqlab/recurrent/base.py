"""What every recurrent family shares: parameters, validation, stacking, directions, lengths.

A family file (``rnn.py``, ``lstm.py``, ``gru.py``) supplies the math through a few hooks and
mixes them into :class:`RecurrentBase` (the multi-layer sequence module) and
:class:`~seqlab.recurrent.cell.CellBase` (one time step):

- ``_gates``: how many gate blocks of ``hidden_size`` the projections produce (1, 4 or 3);
- ``_set_variant(**options)``: validate and store the family's own constructor options;
- ``_variant_shapes()``: extra per-layer parameters the chosen variant needs, name -> shape;
- ``_state_sizes``: the feature size of each carried state, ``(H,)`` or the LSTM's ``(P, H)``;
- ``_torch_unsupported()``: why torch's fused kernel can't run this configuration, or ``None``;
- ``_torch_name``: the ``torch._VF`` function family (``"lstm"``, ``"gru"``, ``"rnn_tanh"`` ...);
- ``_run_layer(x, state, params, mask, reverse, trace, key)``: one layer, one direction, over
  the whole sequence, through the family's hand-derived ``autograd.Function``;
- ``_reference_layer(x, state, params, mask, reverse)``: the same through the family's plain
  loop in :mod:`.reference`, which a tracer records instead (:func:`seqlab.functions.tracing`).

Shape letters: ``T`` time, ``B`` batch, ``I`` input features, ``H`` hidden, ``L`` layers,
``D`` directions (2 if bidirectional, else 1).
"""

import inspect
import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import _VF, Tensor, nn
from torch.nn.utils.rnn import PackedSequence, pack_padded_sequence, pad_packed_sequence

from ..errors import BackendError, InputError, ShapeError
from ..functions import tracing
from .compat import SequenceCompat
from .trace import GradientTrace, TraceKey, active_trace

BACKENDS = ("auto", "seqlab", "torch")


def _shape(t: Tensor) -> str:
    return str(tuple(t.shape))


def _check_backend(backend: str) -> None:
    if backend not in BACKENDS:
        raise InputError(f"backend={backend!r} is not one of {BACKENDS}")


def _check_size(name: str, value, minimum: int = 1) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise InputError(f"{name}={value!r}: expected an integer >= {minimum}")


def _check_dtype_device(name: str, t: Tensor, like: Tensor) -> None:
    if t.dtype != like.dtype:
        raise InputError(
            f"{name} has dtype {t.dtype} but the module's parameters are {like.dtype}; "
            f"convert one of them, e.g. module.to({t.dtype}) or {name}.to({like.dtype})"
        )
    if t.device != like.device:
        raise InputError(
            f"{name} is on {t.device} but the module's parameters are on {like.device}; "
            f"move one of them, e.g. module.to('{t.device}') or {name}.to('{like.device}')"
        )


def needs_grad(*tensors: Tensor | None) -> bool:
    """Whether autograd will want a backward through a Function applied to ``tensors``; the
    kernels skip what only their backward reads when it won't (inference)."""
    return torch.is_grad_enabled() and any(t is not None and t.requires_grad for t in tensors)


def layer_norm_shapes(gates: int, hidden_size: int, cell: bool) -> dict[str, tuple[int, ...]]:
    """Parameters of the layer-norm variant: input and recurrent projections, and the cell."""
    shapes = {
        "ln_ih_weight": (gates * hidden_size,),
        "ln_ih_bias": (gates * hidden_size,),
        "ln_hh_weight": (gates * hidden_size,),
        "ln_hh_bias": (gates * hidden_size,),
    }
    if cell:
        shapes |= {"ln_c_weight": (hidden_size,), "ln_c_bias": (hidden_size,)}
    return shapes


class _ParameterMixin:
    """Registration and initialisation of one layer-direction's parameters, torch's names."""

    _gates: int
    _torch_name: str

    @property
    def _state_sizes(self) -> tuple[int, ...]:
        """Features of each carried state (h, and c for the LSTM); h's is the output's."""
        return (self.hidden_size,)

    def _register_layer(self, suffix, in_size, factory) -> list[str]:
        G, H = self._gates, self.hidden_size
        shapes = {"weight_ih": (G * H, in_size), "weight_hh": (G * H, self._state_sizes[0])}
        if self.bias:
            shapes |= {"bias_ih": (G * H,), "bias_hh": (G * H,)}
        shapes |= self._variant_shapes()
        names = []
        for name, shape in shapes.items():
            self.register_parameter(name + suffix, nn.Parameter(torch.empty(shape, **factory)))
            names.append(name)
        return names

    def reset_parameters(self) -> None:
        """torch's initialisation, U(-1/√H, 1/√H) for every weight and bias; layer-norm gains
        start at one and shifts at zero."""
        bound = 1.0 / math.sqrt(self.hidden_size)
        with torch.no_grad():
            for name, p in self.named_parameters():
                if name.startswith("ln_"):
                    p.fill_(1.0 if "_weight" in name else 0.0)
                else:
                    p.uniform_(-bound, bound)

    def _params(self, suffix: str) -> dict[str, Tensor | None]:
        params = {name: getattr(self, name + suffix) for name in self._param_names}
        if not self.bias:
            params |= {"bias_ih": None, "bias_hh": None}
        return params

    def _resolve_backend(
        self, trace: GradientTrace | None, device: torch.device, lengths: Tensor | None = None
    ) -> bool:
        """Whether this call runs torch's fused kernel (True) or seqlab's (False).

        ``auto`` takes torch's kernel where it computes the same model, nothing needs the
        hand-derived backward, and it is the faster one: always on a GPU (cuDNN fuses the
        whole sequence; a Python time loop launches kernels step by step), on the CPU
        where the family says so (``_auto_prefers_torch``: the LSTM, whose oneDNN kernel
        beats seqlab's loop, while ATen's GRU and RNN loops lose to seqlab's), and under a
        tracer, where torch's op becomes the exporter's own LSTM/GRU/RNN node (not with
        ``lengths``: torch's path packs the batch, which tracers cannot record; nor with a
        projection: ONNX's LSTM node has none, and torch's export of one fails in onnxruntime).
        """
        reason = self._torch_unsupported()
        if self.backend == "torch":
            if reason is not None:
                raise BackendError(
                    f"backend='torch' cannot run this module: {reason}; "
                    f"use backend='seqlab' or 'auto'"
                )
            if trace is not None:
                raise BackendError(
                    "gradient-flow recording needs the hand-derived backward; "
                    "use backend='seqlab' or 'auto' inside the recorder"
                )
            return True
        if self.backend == "seqlab" or reason is not None or trace is not None:
            return False
        if tracing():
            return lengths is None and self._state_sizes[0] == self.hidden_size
        return device.type != "cpu" or self._auto_prefers_torch

    def _layer(self, x, state, params, mask, reverse, trace, key):
        """One layer and direction through the family's kernel or, under a tracer, its plain
        loop (``trace`` records nothing then)."""
        if tracing():
            return self._reference_layer(x, state, params, mask, reverse)
        return self._run_layer(x, state, params, mask, reverse, trace, key)

    def _variant_shapes(self) -> dict[str, tuple[int, ...]]:
        return {}

    def _torch_unsupported(self) -> str | None:
        return None

    def _variant_repr(self) -> str:
        return ""

    def _trace_key(self, trace, layer: int, direction: int) -> TraceKey | None:
        if trace is None:
            return None
        return TraceKey(f"{type(self).__name__}@{id(self):x}", layer, direction)

    def _configure_variant(self, options: dict) -> None:
        """Passes the family's own options to ``_set_variant``, naming any it doesn't take."""
        accepted = [n for n in inspect.signature(self._set_variant).parameters if n != "self"]
        unknown = sorted(set(options) - set(accepted))
        if unknown:
            raise InputError(
                f"{type(self).__name__} got unexpected argument(s) {unknown}; "
                f"its own options are {accepted}"
            )
        self._set_variant(**options)


class RecurrentBase(SequenceCompat, _ParameterMixin, nn.Module):
    """Multi-layer, optionally bidirectional recurrent network with torch's interface."""

    _auto_prefers_torch = False
    _has_cell_state = False

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        *,
        backend: str = "auto",
        device=None,
        dtype=None,
        **variant,
    ) -> None:
        super().__init__()
        _check_size("input_size", input_size)
        _check_size("hidden_size", hidden_size)
        _check_size("num_layers", num_layers)
        if (
            isinstance(dropout, bool)
            or not isinstance(dropout, (int, float))
            or not (0 <= dropout <= 1)
        ):
            raise InputError(f"dropout={dropout!r}: expected a probability in [0, 1]")
        _check_backend(backend)
        self.input_size, self.hidden_size, self.num_layers = input_size, hidden_size, num_layers
        self.bias, self.batch_first, self.bidirectional = bias, batch_first, bidirectional
        self.dropout, self.backend = float(dropout), backend
        self._configure_variant(variant)
        factory = {"device": device, "dtype": dtype}
        D = 2 if bidirectional else 1
        self._suffixes = []
        for layer in range(num_layers):
            for direction in range(D):
                suffix = f"_l{layer}" + ("_reverse" if direction else "")
                in_size = input_size if layer == 0 else self._state_sizes[0] * D
                self._param_names = self._register_layer(suffix, in_size, factory)
                self._suffixes.append(suffix)
        self.reset_parameters()

    @property
    def num_directions(self) -> int:
        return 2 if self.bidirectional else 1

    def flatten_parameters(self) -> None:
        """Kept for ``torch.nn`` compatibility; seqlab needs no flat weight buffer."""

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        for name, default in [
            ("num_layers", 1),
            ("bias", True),
            ("batch_first", False),
            ("dropout", 0.0),
            ("bidirectional", False),
            ("backend", "auto"),
        ]:
            if getattr(self, name) != default:
                s += f", {name}={getattr(self, name)!r}"
        return s + self._variant_repr()

    # -- validation -------------------------------------------------------------------------

    def _check_input(self, x: Tensor) -> tuple[Tensor, bool]:
        """Returns the input as (T, B, I) and whether it was batched."""
        if not isinstance(x, Tensor):
            raise InputError(f"input must be a Tensor or PackedSequence, got {type(x).__name__}")
        layout = "(B, T, I)" if self.batch_first else "(T, B, I)"
        if x.dim() not in (2, 3):
            raise ShapeError(
                f"input must be 3-D {layout} or 2-D (T, I) for one unbatched "
                f"sequence; got shape {_shape(x)}"
            )
        if x.shape[-1] != self.input_size:
            raise ShapeError(
                f"input has {x.shape[-1]} features (last dim of shape {_shape(x)}) "
                f"but the module was built with input_size={self.input_size}"
            )
        _check_dtype_device("input", x, self.weight_ih_l0)
        batched = x.dim() == 3
        if not batched:
            x = x.unsqueeze(1)
        elif self.batch_first:
            x = x.transpose(0, 1)
        if x.shape[0] == 0:
            raise ShapeError(f"input {_shape(x)} has no time steps; give at least one step")
        if x.shape[1] == 0:
            raise ShapeError(f"input {_shape(x)} has an empty batch; give at least one sequence")
        return x, batched

    def _check_states(self, hx, B: int, batched: bool, x: Tensor) -> tuple[Tensor, ...]:
        LD, sizes = self.num_layers * self.num_directions, self._state_sizes
        count = len(sizes)
        if hx is None:
            return tuple(x.new_zeros(LD, B, size) for size in sizes)
        names = ("h_0", "c_0") if count == 2 else ("h_0",)
        if count == 2 and not (isinstance(hx, (tuple, list)) and len(hx) == 2):
            raise InputError("hx must be a tuple (h_0, c_0) for an LSTM")
        states = tuple(hx) if count == 2 else (hx,)
        checked = []
        for name, s, size in zip(names, states, sizes, strict=True):
            expected = (LD, B, size) if batched else (LD, size)
            field = "hidden_size" if size == self.hidden_size else "proj_size"
            if not isinstance(s, Tensor):
                raise InputError(f"{name} must be a Tensor, got {type(s).__name__}")
            if tuple(s.shape) != expected:
                raise ShapeError(
                    f"{name} has shape {_shape(s)}; expected {expected} = "
                    f"(num_layers * num_directions, " + ("batch, " if batched else "") + f"{field})"
                )
            _check_dtype_device(name, s, x)
            checked.append(s if batched else s.unsqueeze(1))
        return tuple(checked)

    @staticmethod
    def _check_lengths(lengths, T: int, B: int) -> Tensor:
        if not isinstance(lengths, Tensor):
            lengths = torch.as_tensor(lengths)
        if lengths.dtype.is_floating_point or lengths.dtype == torch.bool:
            raise InputError(f"lengths must hold integers, got dtype {lengths.dtype}")
        if lengths.dim() != 1 or lengths.shape[0] != B:
            raise ShapeError(
                f"lengths has shape {_shape(lengths)}; expected ({B},), one length "
                f"per sequence in the batch"
            )
        if tracing():  # values are data a traced graph does not check
            return lengths.to(torch.int64)
        lo, hi = int(lengths.min()), int(lengths.max())
        if lo < 1 or hi > T:
            raise InputError(
                f"lengths must lie in [1, {T}] (the input's time steps); got values "
                f"from {lo} to {hi}"
            )
        return lengths.to(torch.int64)

    # -- forward ----------------------------------------------------------------------------

    def forward(self, input, hx=None, lengths: Tensor | Sequence[int] | None = None):
        """Run the network over a whole sequence.

        Args:
            input: (T, B, I), or (B, T, I) with ``batch_first``, or (T, I) for one unbatched
                sequence, or a ``PackedSequence``.
            hx: initial state(s), (L·D, B, H) each; ``(h_0, c_0)`` for the LSTM. Zeros if omitted.
            lengths: optional (B,) valid lengths of a padded batch; positions past a sequence's
                length produce zeros and leave its state unchanged (as packing does).

        Returns:
            ``(output, h_n)`` or, for the LSTM, ``(output, (h_n, c_n))``; ``output`` has the
            input's layout with D·H features (a ``PackedSequence`` for packed input).
        """
        packed_in = input if isinstance(input, PackedSequence) else None
        if packed_in is not None:
            if lengths is not None:
                raise InputError("give either a PackedSequence or lengths, not both")
            x, lengths = pad_packed_sequence(packed_in)
            _check_dtype_device("input", x, self.weight_ih_l0)
            if x.shape[-1] != self.input_size:
                raise ShapeError(
                    f"packed input has {x.shape[-1]} features but the module was "
                    f"built with input_size={self.input_size}"
                )
            batched = True
        else:
            x, batched = self._check_input(input)
        T, B = x.shape[0], x.shape[1]
        states = self._check_states(hx, B, batched, x)
        if lengths is not None:
            lengths = self._check_lengths(lengths, T, B)
        trace = active_trace()
        if self._resolve_backend(trace, x.device, lengths):
            out, finals = self._torch_forward(x, states, lengths)
        else:
            mask = None
            if lengths is not None and (tracing() or int(lengths.min()) < T):
                steps = torch.arange(T, device=x.device).unsqueeze(1)  # (T, 1)
                mask = (steps < lengths.to(x.device).unsqueeze(0)).unsqueeze(-1)  # (T, B, 1)
            out, finals = self._seqlab_forward(x, states, mask, trace)
        if packed_in is not None:
            order = packed_in.sorted_indices
            out_sorted = out if order is None else out.index_select(1, order)
            sorted_lengths = lengths if order is None else lengths.index_select(0, order.cpu())
            data = pack_padded_sequence(out_sorted, sorted_lengths.cpu()).data
            out = PackedSequence(
                data, packed_in.batch_sizes, packed_in.sorted_indices, packed_in.unsorted_indices
            )
        elif not batched:
            out, finals = out.squeeze(1), tuple(f.squeeze(1) for f in finals)
        elif self.batch_first:
            out = out.transpose(0, 1)
        return out, (finals if self._has_cell_state else finals[0])

    def _seqlab_forward(self, x, states, mask, trace):
        D = self.num_directions
        finals: list[list[Tensor]] = [[] for _ in states]
        layer_input = x
        for layer in range(self.num_layers):
            outs = []
            for direction in range(D):
                index = layer * D + direction
                key = self._trace_key(trace, layer, direction)
                out, final = self._layer(
                    layer_input,
                    tuple(s[index] for s in states),
                    self._params(self._suffixes[index]),
                    mask,
                    direction == 1,
                    trace,
                    key,
                )
                outs.append(out)
                for k, f in enumerate(final):
                    finals[k].append(f)
            layer_input = outs[0] if D == 1 else torch.cat(outs, dim=-1)  # (T, B, D·H or D·P)
            if self.dropout > 0 and self.training and layer < self.num_layers - 1:
                layer_input = F.dropout(layer_input, self.dropout, training=True)
        return layer_input, tuple(torch.stack(f) for f in finals)

    def _torch_forward(self, x, states, lengths):
        # torch's flat list: per layer and direction w_ih, w_hh[, b_ih, b_hh][, w_hr], which is
        # the registration order of a module torch can run
        flat = self._flat_weights
        fn = getattr(_VF, self._torch_name)
        args = (flat, self.bias, self.num_layers, self.dropout, self.training, self.bidirectional)
        hx = states if self._has_cell_state else states[0]
        if lengths is None:
            result = fn(x, hx, *args, False)
            return result[0], tuple(result[1:])
        packed = pack_padded_sequence(x, lengths.cpu(), enforce_sorted=False)
        order, unorder = packed.sorted_indices, packed.unsorted_indices
        hx = tuple(s.index_select(1, order) for s in states)
        result = fn(packed.data, packed.batch_sizes, hx if self._has_cell_state else hx[0], *args)
        out, _ = pad_packed_sequence(
            PackedSequence(result[0], packed.batch_sizes, order, unorder), total_length=x.shape[0]
        )
        return out, tuple(f.index_select(1, unorder) for f in result[1:])

"""What seqlab's hand-derived ``autograd.Function`` kernels share: when they give way to plain
ATen ops.

The kernels (:mod:`seqlab.recurrent`, :mod:`seqlab.attention`) compute their backward by hand,
as numbers: the gradient they return has no graph of its own. When autograd is asked for one
(``torch.autograd.grad(..., create_graph=True)``, e.g. for a gradient penalty), their backward
returns instead the gradients of the plain reference computation of the same outputs, taken
with a graph, so they differentiate again (:func:`reference_backward`). That backward redoes
the forward through the reference; a backward without ``create_graph`` stays hand-derived.

A tracer (``torch.jit.trace``, ``torch.onnx.export``, ``torch.export``, ``torch.compile``)
records ops rather than runs them; the kernels' in-place writes into views and oneDNN's
internal linear op are not what an exported graph can hold, so under a tracer the modules
run their plain reference loops instead (:func:`tracing`).
"""

from collections.abc import Callable, Sequence

import torch
from torch import Tensor


def tracing() -> bool:
    """Whether a tracer records this call: ``torch.jit.trace`` (and the TorchScript ONNX
    exporter, which traces with it), or ``torch.compile``/``torch.export`` (and the default
    ONNX exporter, built on ``torch.export``)."""
    return torch.jit.is_tracing() or torch.compiler.is_compiling()


def reference_backward(
    reference: Callable[..., Sequence[Tensor]],
    inputs: Sequence,
    grad_outputs: Sequence[Tensor | None],
) -> list[Tensor | None]:
    """A Function's backward when autograd records it (``torch.is_grad_enabled()`` inside
    ``backward``, i.e. ``create_graph=True``): the gradients of ``reference(*inputs)`` with
    respect to every tensor input that requires one, with their graph.

    ``inputs``: the Function's inputs as saved (tensors keep their place in the graph), with
    ``None`` or non-tensors where it has them; ``reference`` returns the Function's outputs in
    order. Returns one gradient per input, ``None`` where there is none.
    """
    wanted = [k for k, t in enumerate(inputs) if isinstance(t, Tensor) and t.requires_grad]
    with torch.enable_grad():
        outputs = reference(*inputs)
    pairs = [
        (out, grad)
        for out, grad in zip(outputs, grad_outputs, strict=True)
        if grad is not None and out.requires_grad
    ]
    result: list[Tensor | None] = [None] * len(inputs)
    if not pairs or not wanted:
        return result
    grads = torch.autograd.grad(
        [out for out, _ in pairs],
        [inputs[k] for k in wanted],
        [grad for _, grad in pairs],
        create_graph=True,
        allow_unused=True,
    )
    for k, grad in zip(wanted, grads, strict=True):
        result[k] = grad
    return result

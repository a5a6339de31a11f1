"""Shared checks for the engine's tests."""

import torch


def layer_params(module, suffix="_l0"):
    """The module's tensors of one layer-direction, named without the suffix."""
    return {
        n[: -len(suffix)] if suffix else n: p
        for n, p in module.named_parameters()
        if n.endswith(suffix)
    }


def perturb_layer_norm(module, scale=0.3):
    """Layer-norm gains and shifts away from 1 and 0, so their gradients are exercised."""
    with torch.no_grad():
        for name, p in module.named_parameters():
            if name.startswith("ln_"):
                p.add_(torch.randn_like(p) * scale)


def grads(outputs, inputs, weights):
    """Gradients of a random projection of ``outputs`` (fixed by ``weights``) w.r.t. inputs."""
    loss = sum((o * w).sum() for o, w in zip(outputs, weights, strict=True))
    return torch.autograd.grad(loss, inputs, allow_unused=False)


def assert_close_all(actual, expected, atol, rtol=0.0, names=None):
    for k, (a, e) in enumerate(zip(actual, expected, strict=True)):
        name = names[k] if names else str(k)
        torch.testing.assert_close(a, e, atol=atol, rtol=rtol, msg=lambda m, n=name: f"{n}: {m}")

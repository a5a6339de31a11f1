"""What the attention tests share: sizes, a weighted-sum loss's gradients, comparisons, a mask."""

import math

import torch

from seqlab.attention import lengths_to_mask

F64 = torch.float64
E = math.e
B, T, S, Q, K = 3, 4, 5, 6, 7  # batch, queries, source positions, query and key features


def grads(outputs, leaves, weights):
    """Gradients of Σ_k (outputs_k · weights_k) with respect to ``leaves``."""
    loss = sum((o * w).sum() for o, w in zip(outputs, weights, strict=True))
    return torch.autograd.grad(loss, leaves)


def assert_all_close(actual, expected, atol, names):
    for name, a, e in zip(names, actual, expected, strict=True):
        torch.testing.assert_close(a, e, atol=atol, rtol=0, msg=lambda m, n=name: f"{n}: {m}")


def mask():
    """(B, S): full, 3 and 1 real positions."""
    return lengths_to_mask(torch.tensor([S, 3, 1]), S)


def assert_masked_keys_have_no_effect(attention, query, keys, mask) -> None:
    """Masked positions get exactly 0 weight, rows sum to 1, and keys at masked positions can
    be anything without changing a single bit of the context or the weights."""
    context, weights = attention(query, keys, mask)
    keep = mask if query.dim() == 2 else mask[:, None, :].expand(B, T, S)
    assert (weights[~keep] == 0.0).all()
    torch.testing.assert_close(weights.sum(-1), torch.ones(query.shape[:-1]))
    changed = torch.where(mask[..., None], keys, torch.randn(B, S, K) * 100)
    context_changed, weights_changed = attention(query, changed, mask)
    assert torch.equal(context, context_changed)
    assert torch.equal(weights, weights_changed)

"""Scaled dot-product attention over heads: closed forms, masks, the hand-derived backward
against autograd (float64, gradcheck, create_graph), and the bytes it keeps for the backward."""

import math

import pytest
import torch
import torch.nn.functional as F

from seqlab.attention import causal_mask, scaled_dot_product_attention
from seqlab.attention.scaled_dot import (
    ScaledDotProductFunction,
    attention_reference,
    empty_rows,
    merge_masks,
)
from seqlab.errors import InputError, ShapeError

F64 = torch.float64
B, H, T, S, D, DV = 2, 3, 4, 5, 6, 7
BACKENDS = ("seqlab", "torch", "auto")


def qkv(dtype=F64, T=T, S=S, requires_grad=False):
    torch.manual_seed(0)
    return tuple(
        torch.randn(shape, dtype=dtype, requires_grad=requires_grad)
        for shape in ((B, H, T, D), (B, H, S, D), (B, H, S, DV))
    )


def padding():
    """(B, S) bool, True at padded keys: the second sequence has 3 real keys."""
    return torch.arange(S)[None, :] >= torch.tensor([[S], [3]])


MASKS = {
    "none": lambda: {},
    "padding": lambda: {"key_padding_mask": padding()},
    "causal": lambda: {"is_causal": True},
    "float": lambda: {"attn_mask": torch.randn(T, S, dtype=F64)},
    "per-head bool": lambda: {"attn_mask": torch.rand(B * H, T, S) < 0.3},
    "everything": lambda: {
        "attn_mask": torch.randn(B, 1, T, S, dtype=F64),
        "key_padding_mask": padding(),
        "is_causal": True,
    },
}


def test_a_zero_query_gives_the_mean_value_and_uniform_weights():
    _, k, v = qkv()
    q = torch.zeros(B, H, T, D, dtype=F64)
    for backend in BACKENDS:
        out, _ = scaled_dot_product_attention(q, k, v, backend=backend)
        torch.testing.assert_close(out, v.mean(2, keepdim=True).expand(B, H, T, DV))
    _, weights = scaled_dot_product_attention(q, k, v, need_weights=True)
    torch.testing.assert_close(weights, torch.full((B, H, T, S), 1 / S, dtype=F64))


def test_scores_one_apart_after_the_scale_give_weights_one_and_e():
    q = torch.tensor([[[[math.sqrt(4.0), 0, 0, 0]]]], dtype=F64)  # (1, 1, 1, 4): √d = 2
    k = torch.tensor([[[[0.0, 0, 0, 0], [1.0, 0, 0, 0]]]], dtype=F64)  # s = (0, 1)
    v = torch.eye(2, dtype=F64)[None, None]
    out, weights = scaled_dot_product_attention(q, k, v, need_weights=True, backend="seqlab")
    expected = torch.tensor([1.0, math.e], dtype=F64) / (1 + math.e)
    torch.testing.assert_close(weights[0, 0, 0], expected)
    torch.testing.assert_close(out[0, 0, 0], expected)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("masks", MASKS)
def test_every_backend_matches_torch_sdpa(backend, masks):
    q, k, v = qkv()
    kwargs = MASKS[masks]()
    out, _ = scaled_dot_product_attention(q, k, v, backend=backend, **kwargs)
    mask = merge_masks(q, k, kwargs.get("attn_mask"), kwargs.get("key_padding_mask"),
                       kwargs.get("is_causal", False))  # fmt: skip
    allowed = ~mask if mask is not None and mask.dtype == torch.bool else mask
    expected = F.scaled_dot_product_attention(q, k, v, attn_mask=allowed)
    torch.testing.assert_close(out, expected)


@pytest.mark.parametrize("masks", MASKS)
@pytest.mark.parametrize("dropout", [0.0, 0.4])
def test_hand_backward_matches_autograd_in_float64(masks, dropout):
    q, k, v = qkv(requires_grad=True)
    kwargs = MASKS[masks]()
    mask = merge_masks(q, k, kwargs.get("attn_mask"), kwargs.get("key_padding_mask"),
                       kwargs.get("is_causal", False))  # fmt: skip
    keep = torch.rand(B, H, T, S) >= dropout if dropout else None
    empty = empty_rows(mask)
    out, weights = ScaledDotProductFunction.apply(q, k, v, mask, keep, dropout, empty, True)
    ref_out, ref_weights = attention_reference(q, k, v, mask, keep, dropout, empty)
    torch.testing.assert_close(out, ref_out, atol=1e-12, rtol=0)
    torch.testing.assert_close(weights, ref_weights, atol=1e-12, rtol=0)
    torch.manual_seed(1)
    g_out, g_weights = torch.randn_like(out), torch.randn_like(weights)
    for w_out, w_weights in ((g_out, g_weights), (g_out, None)):

        def loss(o, a, w_out=w_out, w_weights=w_weights):
            return (o * w_out).sum() + (0 if w_weights is None else (a * w_weights).sum())

        got = torch.autograd.grad(loss(out, weights), (q, k, v), retain_graph=True)
        want = torch.autograd.grad(loss(ref_out, ref_weights), (q, k, v), retain_graph=True)
        for name, g, w in zip("qkv", got, want, strict=True):
            torch.testing.assert_close(g, w, atol=1e-12, rtol=0, msg=f"d{name}")


@pytest.mark.parametrize("masks", ["none", "everything"])
def test_gradcheck_and_gradgradcheck(masks):
    q, k, v = (t[:1, :2].detach().requires_grad_() for t in qkv(T=3, S=4))
    kwargs = MASKS[masks]()
    if "attn_mask" in kwargs:
        kwargs["attn_mask"] = kwargs["attn_mask"][:1, :, :3, :4].detach().requires_grad_()
    if "key_padding_mask" in kwargs:
        kwargs["key_padding_mask"] = torch.tensor([[False, False, True, False]])
    keep = torch.rand(1, 2, 3, 4) >= 0.3

    def attend(q, k, v, attn_mask=None):
        mask = merge_masks(q, k, attn_mask, kwargs.get("key_padding_mask"), "is_causal" in kwargs)
        empty = empty_rows(mask)
        return ScaledDotProductFunction.apply(q, k, v, mask, keep, 0.3, empty, True)

    inputs = (q, k, v) + ((kwargs["attn_mask"],) if "attn_mask" in kwargs else ())
    assert torch.autograd.gradcheck(attend, inputs)
    # create_graph=True: the backward gives way to autograd over the reference
    assert torch.autograd.gradgradcheck(attend, inputs, fast_mode=True)


@pytest.mark.parametrize("backend", BACKENDS)
def test_masked_positions_get_exactly_zero_weight_and_zero_gradient(backend):
    q, k, v = qkv(requires_grad=True)
    pad = padding()
    # a float mask that is -inf where the padding is: its gradient is dS itself
    additive = torch.zeros(B, 1, T, S, dtype=F64).masked_fill(pad[:, None, None, :], -math.inf)
    additive.requires_grad_()
    need = backend == "seqlab"
    out, weights = scaled_dot_product_attention(
        q, k, v, attn_mask=additive, key_padding_mask=pad, need_weights=need, backend=backend
    )
    if need:
        assert (weights[1, :, :, 3:] == 0.0).all()
    out.sum().backward()
    assert (k.grad[1, :, 3:] == 0.0).all() and (v.grad[1, :, 3:] == 0.0).all()
    assert (k.grad[1, :, :3] != 0.0).any()
    assert (additive.grad[1, ..., 3:] == 0.0).all()


@pytest.mark.parametrize("backend", BACKENDS)
def test_an_all_masked_row_gets_zeros_and_no_nan(backend):
    q, k, v = qkv(requires_grad=True)
    blocked = torch.zeros(T, S, dtype=torch.bool)
    blocked[1] = True  # query 1 may see nothing
    for attn_mask in (blocked, torch.zeros(T, S, dtype=F64).masked_fill(blocked, -math.inf)):
        out, weights = scaled_dot_product_attention(
            q, k, v, attn_mask=attn_mask, need_weights=backend == "seqlab", backend=backend
        )
        assert torch.isfinite(out).all()
        assert (out[:, :, 1] == 0.0).all() and (out[:, :, 0] != 0.0).all()
        if weights is not None:
            assert (weights[:, :, 1] == 0.0).all()
            torch.testing.assert_close(weights[:, :, 0].sum(-1), torch.ones(B, H, dtype=F64))
        (d_q,) = torch.autograd.grad(out.sum(), q)
        assert torch.isfinite(d_q).all() and (d_q[:, :, 1] == 0.0).all()


def test_causal_with_fewer_queries_is_the_last_rows_of_full_causal_attention():
    """The KV-cache case: T new queries after S - T cached positions."""
    q, k, v = qkv(T=S)
    full, _ = scaled_dot_product_attention(q, k, v, is_causal=True, backend="seqlab")
    for backend in BACKENDS:
        last, _ = scaled_dot_product_attention(q[:, :, -2:], k, v, is_causal=True, backend=backend)
        torch.testing.assert_close(last, full[:, :, -2:])
    assert causal_mask(2, 4).tolist() == [[False, False, False, True], [False] * 4]


def test_dropout_zeroes_weights_and_scales_the_rest():
    q, k, v = qkv()
    _, clean = scaled_dot_product_attention(q, k, v, need_weights=True, training=False,
                                            dropout_p=0.5)  # fmt: skip
    torch.manual_seed(3)
    _, dropped = scaled_dot_product_attention(q, k, v, need_weights=True, dropout_p=0.5)
    kept = dropped != 0
    assert 0.3 < kept.double().mean() < 0.7
    torch.testing.assert_close(dropped[kept] * 0.5, clean[kept])


def _saved_bytes(fn):
    """Bytes of the distinct storages autograd keeps for the backward of ``fn()``."""
    storages = {}

    def pack(t):
        storages[t.untyped_storage().data_ptr()] = t.untyped_storage().nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        fn()
    return sum(storages.values())


@pytest.mark.parametrize("dropout", [0.0, 0.2])
def test_the_hand_path_keeps_no_more_bytes_than_autograd(dropout):
    q, k, v = qkv(dtype=torch.float32, requires_grad=True)
    pad = padding()
    keep = torch.rand(B, H, T, S) >= dropout if dropout else None
    mask = merge_masks(q, k, None, pad, True)
    hand = _saved_bytes(lambda: ScaledDotProductFunction.apply(q, k, v, mask, keep, dropout,
                                                               None, False))  # fmt: skip
    auto = _saved_bytes(lambda: attention_reference(q, k, v, mask, keep, dropout))
    assert hand <= auto, (hand, auto)


def test_bad_input_gets_one_line_errors():
    q, k, v = qkv()
    cases = [
        (ShapeError, "expected 4-D", dict(q=q[0])),
        (ShapeError, "same d", dict(k=k[..., :3])),
        (ShapeError, "same S", dict(v=v[:, :, :2])),
        (ShapeError, r"attn_mask has shape \(3, 3\)", dict(attn_mask=torch.ones(3, 3).bool())),
        (InputError, "attn_mask has dtype torch.int64", dict(attn_mask=torch.ones(T, S).long())),
        (InputError, "dtype torch.float32 but q", dict(attn_mask=torch.zeros(T, S))),
        (ShapeError, "key_padding_mask has shape", dict(key_padding_mask=padding()[:, :2])),
        (InputError, "backend='cuda'", dict(backend="cuda")),
        (InputError, "dropout_p=1.0", dict(dropout_p=1.0)),
        (InputError, "k is torch.float32", dict(k=k.float())),
    ]
    for error, message, change in cases:
        args = {"q": q, "k": k, "v": v, **change}
        with pytest.raises(error, match=message) as caught:
            scaled_dot_product_attention(**args)
        assert "\n" not in str(caught.value)


@pytest.mark.parametrize("backend", BACKENDS)
def test_is_causal_with_a_mask_applies_both_and_with_the_causal_mask_itself_one(backend):
    q, k, v = qkv(T=S)
    extra = torch.rand(S, S) < 0.3
    extra.fill_diagonal_(False)  # no empty row
    both, _ = scaled_dot_product_attention(q, k, v, attn_mask=extra, is_causal=True,
                                           backend=backend)  # fmt: skip
    combined, _ = scaled_dot_product_attention(q, k, v, attn_mask=extra | causal_mask(S, S),
                                               backend="seqlab")  # fmt: skip
    torch.testing.assert_close(both, combined)
    causal, _ = scaled_dot_product_attention(q, k, v, is_causal=True, backend="seqlab")
    additive = torch.zeros(S, S, dtype=F64).masked_fill(causal_mask(S, S), -math.inf)
    for hint in (causal_mask(S, S), additive):
        out, _ = scaled_dot_product_attention(q, k, v, attn_mask=hint, is_causal=True,
                                              backend=backend)  # fmt: skip
        torch.testing.assert_close(out, causal)


@pytest.mark.parametrize("backend", BACKENDS)
def test_bool_and_float_masks_mix_as_one_additive_mask(backend):
    q, k, v = qkv()
    pad = padding()
    float_pad = torch.zeros(B, S, dtype=F64).masked_fill(pad, -math.inf)
    blocked = torch.rand(T, S) < 0.3
    blocked[:, 0] = False  # no empty row
    mixed, _ = scaled_dot_product_attention(
        q, k, v, attn_mask=blocked, key_padding_mask=float_pad, backend=backend
    )
    bools, _ = scaled_dot_product_attention(
        q, k, v, attn_mask=blocked, key_padding_mask=pad, backend="seqlab"
    )
    torch.testing.assert_close(mixed, bools)

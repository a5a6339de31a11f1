"""MultiheadAttention against torch.nn.MultiheadAttention after a weight copy, both ways, on
every backend; its gradients; and bad input."""

import itertools
import math

import pytest
import torch
from torch import nn

from seqlab.attention import MultiheadAttention
from seqlab.errors import InputError, ShapeError

F64 = torch.float64
N, L, S, E, HEADS = 3, 4, 6, 12, 3
BACKENDS = ("seqlab", "torch", "auto")


def pair(backend="auto", seqlab_first=True, **kwargs):
    """A seqlab module and torch's with the same weights, copied one way or the other."""
    torch.manual_seed(0)
    ours = MultiheadAttention(E, HEADS, backend=backend, dtype=F64, **kwargs)
    theirs = nn.MultiheadAttention(E, HEADS, dtype=F64, **kwargs)
    with torch.no_grad():  # different weights from the init, so the copy is what makes them equal
        for p in (ours if seqlab_first else theirs).parameters():
            p.normal_(0, 0.5)
    if seqlab_first:
        theirs.load_state_dict(ours.state_dict())
    else:
        ours.load_state_dict(theirs.state_dict())
    return ours, theirs


def inputs(batch_first=False, kdim=None, vdim=None, self_attention=False):
    torch.manual_seed(1)
    query = torch.randn(N, L, E, dtype=F64)
    key = torch.randn(N, S, kdim or E, dtype=F64)
    value = torch.randn(N, S, vdim or E, dtype=F64)
    if self_attention:
        key = value = query
    if not batch_first:
        query, key, value = (t.transpose(0, 1) for t in (query, key, value))
        if self_attention:
            key = value = query
    return query, key, value


def padding():
    """(N, S) bool, True at padded keys."""
    return torch.arange(S)[None, :] >= torch.tensor([[S], [4], [2]])


MASKS = {
    "none": lambda sa: {},
    "padding": lambda sa: {"key_padding_mask": padding() if not sa else padding()[:, :L]},
    "float": lambda sa: {"attn_mask": torch.randn(L, L if sa else S, dtype=F64)},
    "per-head": lambda sa: {"attn_mask": torch.rand(N * HEADS, L, L if sa else S) < 0.3},
    "causal": lambda sa: {
        "attn_mask": nn.Transformer.generate_square_subsequent_mask(L, dtype=F64),
        "is_causal": True,
    },
    "padding+bool": lambda sa: {
        "key_padding_mask": padding() if not sa else padding()[:, :L],
        "attn_mask": torch.triu(torch.ones(L, L if sa else S, dtype=torch.bool), 1),
    },
}


def assert_same(ours_out, theirs_out):
    for a, b in zip(ours_out, theirs_out, strict=True):
        if b is None:
            assert a is None
        else:
            torch.testing.assert_close(a, b, atol=1e-12, rtol=0)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("masks", MASKS)
@pytest.mark.parametrize("self_attention", [True, False])
def test_forward_and_gradients_match_torch(backend, masks, self_attention):
    for batch_first, seqlab_first in itertools.product((False, True), (True, False)):
        ours, theirs = pair(backend, seqlab_first, batch_first=batch_first)
        args = inputs(batch_first, self_attention=self_attention)
        if masks == "causal" and not self_attention:
            continue  # a causal mask is square
        kwargs = MASKS[masks](self_attention)
        for need, average in ((True, True), (True, False), (False, True)):
            got = ours(*args, need_weights=need, average_attn_weights=average, **kwargs)
            want = theirs(*args, need_weights=need, average_attn_weights=average, **kwargs)
            assert_same(got, want)
        got[0].pow(2).sum().backward()
        want[0].pow(2).sum().backward()
        theirs_grads = dict(theirs.named_parameters())
        for name, p in ours.named_parameters():
            torch.testing.assert_close(p.grad, theirs_grads[name].grad, atol=1e-10, rtol=0)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("bias", [True, False])
def test_kdim_vdim_and_bias_match_torch(backend, bias):
    ours, theirs = pair(backend, kdim=5, vdim=7, bias=bias, batch_first=True)
    assert ours.in_proj_weight is None and ours.k_proj_weight.shape == (E, 5)
    assert sorted(ours.state_dict()) == sorted(theirs.state_dict())
    args = inputs(True, kdim=5, vdim=7)
    assert_same(ours(*args, key_padding_mask=padding()), theirs(*args, key_padding_mask=padding()))
    assert_same(ours(*args, need_weights=False), theirs(*args, need_weights=False))


@pytest.mark.parametrize("backend", BACKENDS)
def test_key_is_value_and_unbatched_match_torch(backend):
    ours, theirs = pair(backend, bias=False)
    query, key, _ = inputs()
    assert_same(ours(query, key, key), theirs(query, key, key))
    one = (query[:, 0], key[:, 0], key[:, 0])  # (L, E), (S, E): no batch
    kwargs = {"key_padding_mask": padding()[1], "average_attn_weights": False}
    assert_same(ours(*one, **kwargs), theirs(*one, **kwargs))
    per_head = {"attn_mask": torch.rand(HEADS, L, S) < 0.3}
    assert_same(ours(*one, **per_head), theirs(*one, **per_head))


@pytest.mark.parametrize("backend", BACKENDS)
def test_dropout_in_eval_is_off_as_in_torch(backend):
    ours, theirs = pair(backend, dropout=0.5)
    ours.eval(), theirs.eval()
    args = inputs(self_attention=True)
    assert_same(ours(*args), theirs(*args))
    ours.train()
    torch.manual_seed(2)
    out, weights = ours(*args, average_attn_weights=False)
    dropped = weights == 0
    assert dropped.any() and not dropped.all()


def test_the_same_seed_gives_torch_initial_weights():
    for kwargs in ({}, {"kdim": 5, "vdim": 7}, {"bias": False}):
        torch.manual_seed(5)
        ours = MultiheadAttention(E, HEADS, **kwargs)
        torch.manual_seed(5)
        theirs = nn.MultiheadAttention(E, HEADS, **kwargs)
        theirs_state = theirs.state_dict()
        for name, value in ours.state_dict().items():
            assert torch.equal(value, theirs_state[name]), name


def test_is_causal_alone_gives_the_causal_mask():
    ours, theirs = pair(batch_first=True)
    args = inputs(True, self_attention=True)
    mask = nn.Transformer.generate_square_subsequent_mask(L, dtype=F64)
    assert_same(ours(*args, is_causal=True), theirs(*args, attn_mask=mask, is_causal=True))


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_padded_sequence_gets_zeros_not_nan(backend):
    ours, _ = pair(backend, batch_first=True)
    query, key, value = inputs(True)
    pad = padding().clone()
    pad[2] = True  # the third sequence has no key at all
    out, weights = ours(query, key, value, key_padding_mask=pad)
    assert torch.isfinite(out).all() and (weights[2] == 0).all()
    torch.testing.assert_close(out[2], ours.out_proj.bias.expand(L, E))  # zero heads, then W_o


def test_weights_are_returned_not_kept():
    ours, _ = pair()
    before = set(vars(ours))
    ours(*inputs())
    assert set(vars(ours)) == before
    assert not any(isinstance(value, torch.Tensor) for value in vars(ours).values())


def test_bad_input_gets_one_line_errors():
    def raises(error, match, make):
        with pytest.raises(error, match=match) as caught:
            make()
        assert "\n" not in str(caught.value)

    raises(
        InputError,
        "embed_dim=10 is not divisible by num_heads=3",
        lambda: MultiheadAttention(10, 3),
    )
    raises(InputError, "add_bias_kv=True", lambda: MultiheadAttention(E, 3, add_bias_kv=True))
    raises(InputError, "add_zero_attn", lambda: MultiheadAttention(E, 3, add_zero_attn=True))
    raises(InputError, "num_heads=0", lambda: MultiheadAttention(E, 0))
    raises(InputError, "dropout=1.5", lambda: MultiheadAttention(E, 3, dropout=1.5))
    raises(InputError, "backend='fast'", lambda: MultiheadAttention(E, 3, backend="fast"))
    ours, _ = pair()
    query, key, value = inputs()
    raises(ShapeError, "query has 5 features", lambda: ours(query[..., :5], key, value))
    raises(ShapeError, "must all be 3-D", lambda: ours(query[0], key, value))
    raises(InputError, "query is torch.float32", lambda: ours(query.float(), key, value))
    raises(ShapeError, "different batch sizes", lambda: ours(query[:, :2], key, value))
    raises(
        ShapeError,
        r"attn_mask has shape \(4, 4\)",
        lambda: ours(query, key, value, attn_mask=torch.ones(L, L).bool()),
    )
    raises(
        InputError,
        "attn_mask has dtype torch.int64",
        lambda: ours(query, key, value, attn_mask=torch.ones(L, S).long()),
    )
    raises(
        ShapeError,
        "key_padding_mask has shape",
        lambda: ours(query, key, value, key_padding_mask=padding()[:2]),
    )


def test_scores_are_scaled_by_the_head_size():
    """One head of size 4 sees scores q·k/2: with q·k = 2 the weights are 1 and e over two keys."""
    mha = MultiheadAttention(4, 1, bias=False, batch_first=True, dtype=F64)
    with torch.no_grad():
        mha.in_proj_weight.copy_(torch.eye(4).repeat(3, 1))
        mha.out_proj.weight.copy_(torch.eye(4))
    query = torch.tensor([[[2.0, 0, 0, 0]]], dtype=F64)
    keys = torch.tensor([[[0.0, 0, 0, 0], [1.0, 0, 0, 0]]], dtype=F64)
    _, weights = mha(query, keys, keys)
    torch.testing.assert_close(weights[0, 0], torch.tensor([1, math.e], dtype=F64) / (1 + math.e))


@pytest.mark.filterwarnings("ignore:`torch.jit.[a-z_]+` is deprecated:DeprecationWarning")
@pytest.mark.filterwarnings("ignore::torch.jit.TracerWarning")  # the masks' checks become constants
def test_a_traced_module_gives_the_same_output():
    ours, _ = pair("seqlab", batch_first=True)
    args = inputs(True, self_attention=True)
    traced = torch.jit.trace(ours, args)  # need_weights=True: the hand path's equations
    assert_same(traced(*args), ours(*args))

"""Random shapes, layouts and lengths: seqlab's hand-derived path equals torch.nn."""

import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

import seqlab

from .helpers import assert_close_all

F64 = torch.float64


@st.composite
def configurations(draw):
    family = draw(st.sampled_from(["RNN", "LSTM", "GRU"]))
    T, B = draw(st.integers(1, 6)), draw(st.integers(1, 4))
    return {
        "family": family,
        "T": T,
        "B": B,
        "I": draw(st.integers(1, 5)),
        "H": draw(st.integers(1, 6)),
        "layers": draw(st.integers(1, 2)),
        "bidirectional": draw(st.booleans()),
        "batch_first": draw(st.booleans()),
        "bias": draw(st.booleans()),
        "lengths": draw(st.lists(st.integers(1, T), min_size=B, max_size=B)),
        "seed": draw(st.integers(0, 2**16)),
    }


@settings(max_examples=40, deadline=None)
@given(configurations())
def test_matches_torch_on_random_configurations(cfg):
    torch.manual_seed(cfg["seed"])
    args = (cfg["I"], cfg["H"], cfg["layers"])
    kw = {k: cfg[k] for k in ("bias", "batch_first", "bidirectional")}
    theirs = getattr(torch.nn, cfg["family"])(*args, dtype=F64, **kw)
    ours = getattr(seqlab, cfg["family"])(*args, backend="seqlab", dtype=F64, **kw)
    ours.load_state_dict(theirs.state_dict())
    T, B = cfg["T"], cfg["B"]
    shape = (B, T, cfg["I"]) if cfg["batch_first"] else (T, B, cfg["I"])
    x = torch.randn(shape, dtype=F64, requires_grad=True)
    lengths = torch.tensor(cfg["lengths"])

    out, state = ours(x, lengths=lengths)
    packed = pack_padded_sequence(x, lengths, batch_first=cfg["batch_first"], enforce_sorted=False)
    ref_packed, ref_state = theirs(packed)
    ref_out, _ = pad_packed_sequence(ref_packed, batch_first=cfg["batch_first"], total_length=T)
    flat = [out, *(state if isinstance(state, tuple) else (state,))]
    ref = [ref_out, *(ref_state if isinstance(ref_state, tuple) else (ref_state,))]
    assert_close_all(flat, ref, atol=1e-12)

    weights = [torch.randn_like(t) for t in flat]
    ga = torch.autograd.grad(
        sum((t * w).sum() for t, w in zip(flat, weights, strict=True)), [x, *ours.parameters()]
    )
    gb = torch.autograd.grad(
        sum((t * w).sum() for t, w in zip(ref, weights, strict=True)), [x, *theirs.parameters()]
    )
    assert_close_all(ga, gb, atol=1e-11)

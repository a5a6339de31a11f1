"""The encoder-decoder: teacher forcing and step-by-step decoding agree, padding is invisible,
attention weights are a distribution over the real source positions, gradients are right."""

import pytest
import torch
from torch.func import functional_call

from seqlab.decode import greedy
from seqlab.errors import InputError
from seqlab.models.seq2seq import Seq2Seq

V_SRC, V_TGT = 9, 7


def make(attention="additive", cell="gru", **kw):
    torch.manual_seed(0)
    sizes = dict(embedding_size=6, hidden_size=5, attention_size=4, readout_size=8)
    return Seq2Seq(V_SRC, V_TGT, attention=attention, cell=cell, **(sizes | kw)).double()


def batch(B=3, S=6, T=4, seed=1):
    g = torch.Generator().manual_seed(seed)
    lengths = torch.tensor([S, 2, 4][:B])
    source = torch.randint(1, V_SRC, (B, S), generator=g)
    source[torch.arange(S)[None, :] >= lengths[:, None]] = 0
    previous = torch.randint(1, V_TGT, (B, T), generator=g)
    return source, lengths, previous


KINDS = [
    ("additive", "gru"),
    ("general", "gru"),
    ("dot", "lstm"),
    ("none", "gru"),
    ("none", "lstm"),
]


@pytest.mark.parametrize("attention,cell", KINDS)
def test_teacher_forcing_equals_stepping(attention, cell):
    model = make(attention, cell).eval()
    source, lengths, previous = batch()
    logits, alignment = model(source, lengths, previous)  # (B, T, V), (B, T, S)
    state = model.encode(source, lengths)
    for i in range(previous.shape[1]):
        step_logits, state, weights = model.step(previous[:, i], state)
        torch.testing.assert_close(step_logits, logits[:, i])
        if attention == "none":
            assert weights is None and alignment is None
        else:
            torch.testing.assert_close(weights, alignment[:, i])


@pytest.mark.parametrize("attention", ["additive", "general", "dot"])
def test_alignment_is_a_distribution_over_real_positions(attention):
    model = make(attention).eval()
    source, lengths, previous = batch()
    _, alignment = model(source, lengths, previous)
    pad = torch.arange(source.shape[1])[None, :] >= lengths[:, None]  # (B, S)
    assert (alignment.masked_select(pad[:, None, :].expand_as(alignment)) == 0).all()
    torch.testing.assert_close(
        alignment.sum(-1), torch.ones(alignment.shape[:2], dtype=alignment.dtype)
    )


@pytest.mark.parametrize("attention", ["additive", "none"])
def test_extra_padding_changes_nothing(attention):
    model = make(attention).eval()
    source, lengths, previous = batch()
    wider = torch.cat([source, torch.zeros(3, 3, dtype=torch.long)], dim=1)
    a, _ = model(source, lengths, previous)
    b, _ = model(wider, lengths, previous)
    torch.testing.assert_close(a, b)


def test_gradients_through_seqlab_cells_and_attention():
    """The whole model in float64 on the hand-derived engine and attention backwards."""
    model = make("additive", backend="seqlab")
    source, lengths, previous = batch(S=4, T=3)
    names = [
        "attention.score",
        "attention.key_proj.weight",
        "decoder.weight_hh",
        "encoder.weight_ih_l0_reverse",
        "bridge.weight",
    ]
    params = dict(model.named_parameters())
    inputs = tuple(params[n].detach().clone().requires_grad_(True) for n in names)

    def logits(*tensors):
        return functional_call(
            model, dict(zip(names, tensors, strict=True)), (source, lengths, previous)
        )[0]

    assert torch.autograd.gradcheck(logits, inputs)


def test_learns_to_reverse_and_greedy_decodes_it():
    torch.manual_seed(0)
    model = Seq2Seq(6, 7, embedding_size=8, hidden_size=16, attention_size=16, readout_size=32)
    bos, eos = 1, 2
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    g = torch.Generator().manual_seed(0)
    for _ in range(300):
        source = torch.randint(3, 6, (32, 4), generator=g)
        target = source.flip(1)
        previous = torch.cat([torch.full((32, 1), bos), target], dim=1)
        gold = torch.cat([target, torch.full((32, 1), eos)], dim=1)
        logits, _ = model(source, torch.full((32,), 4), previous)
        loss = torch.nn.functional.cross_entropy(logits.transpose(1, 2), gold)
        opt.zero_grad()
        loss.backward()
        opt.step()
    model.eval()
    source = torch.randint(3, 6, (16, 4), generator=g)
    state = model.encode(source, torch.full((16,), 4))
    hyps = greedy(model.step, state, 16, bos, eos, max_len=8)
    right = sum(h.tokens == source[b].flip(0).tolist() and h.finished for b, h in enumerate(hyps))
    assert right == 16
    # reversal: output token i should read source position S-1-i (uniform would give 0.25)
    diagonal = torch.stack([h.alignment[i, 3 - i] for h in hyps for i in range(4)])
    assert float(diagonal.mean()) > 0.6


def test_bad_settings_are_refused():
    with pytest.raises(InputError, match="attention='luong'"):
        make("luong")
    with pytest.raises(InputError, match="cell='rnn'"):
        make(cell="rnn")
    with pytest.raises(InputError, match="decoder_size .* must equal"):
        make("dot", decoder_size=7)
    model = make()
    with pytest.raises(InputError, match="expected .B, S. token ids"):
        model.encode(torch.ones(4, dtype=torch.long), torch.ones(4, dtype=torch.long))

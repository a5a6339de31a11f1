"""The Transformer: parity with torch.nn.Transformer* after a weight copy (both norm
placements, values and gradients), teacher forcing equals cached stepping, cached and uncached
decoding give the same tokens, padding is invisible, bad sizes are one-line errors."""

import pytest
import torch
from torch import nn

from seqlab.decode import beam_search, generate, greedy
from seqlab.errors import InputError
from seqlab.models.transformer import Transformer
from seqlab.models.transformer_layers import (
    DecoderLayer,
    EncoderLayer,
    PositionalEncoding,
    causal_mask,
)
from seqlab.models.transformer_lm import TransformerLM

E, H, FF = 16, 4, 24


def grads(module):
    return {k: p.grad.clone() for k, p in module.named_parameters() if p.grad is not None}


def assert_same_grads(ours, theirs, tol=1e-10):
    g1, g2 = grads(ours), grads(theirs)
    assert g1.keys() == g2.keys()
    for k in g1:
        torch.testing.assert_close(g1[k], g2[k], atol=tol, rtol=tol, msg=k)


@pytest.mark.parametrize("norm_first", [False, True])
@pytest.mark.parametrize("backend", ["seqlab", "auto"])
def test_encoder_layer_matches_torch(norm_first, backend):
    ref = nn.TransformerEncoderLayer(E, H, FF, dropout=0.0, batch_first=True,
                                     norm_first=norm_first).double()  # fmt: skip
    ours = EncoderLayer(E, H, FF, dropout=0.0, norm_first=norm_first, backend=backend).double()
    ours.load_state_dict(ref.state_dict())
    x = torch.randn(3, 7, E, dtype=torch.float64)
    padding = torch.zeros(3, 7, dtype=torch.bool)
    padding[1, 4:] = True
    y, _, _ = ours(x, padding)
    expected = ref(x, src_key_padding_mask=padding)
    keep = ~padding  # torch's fast path may leave padded rows as anything
    torch.testing.assert_close(y[keep], expected[keep], atol=1e-12, rtol=1e-12)
    (y[keep] ** 2).sum().backward()
    (expected[keep] ** 2).sum().backward()
    assert_same_grads(ours, ref)


@pytest.mark.parametrize("norm_first", [False, True])
def test_decoder_layer_matches_torch(norm_first):
    ref = nn.TransformerDecoderLayer(E, H, FF, dropout=0.0, batch_first=True,
                                     norm_first=norm_first).double()  # fmt: skip
    ours = DecoderLayer(E, H, FF, dropout=0.0, norm_first=norm_first, backend="seqlab").double()
    ours.load_state_dict(ref.state_dict())
    x, memory = torch.randn(2, 5, E).double(), torch.randn(2, 6, E).double()
    padding = torch.tensor([[False] * 6, [False] * 3 + [True] * 3])
    y, (ws, wc), _ = ours(x, ours.memory_kv(memory), padding, need_weights=True)
    expected = ref(x, memory, tgt_mask=causal_mask(5), memory_key_padding_mask=padding,
                   tgt_is_causal=True)  # fmt: skip
    torch.testing.assert_close(y, expected, atol=1e-12, rtol=1e-12)
    assert ws.shape == (2, H, 5, 5) and wc.shape == (2, H, 5, 6)
    assert torch.all(ws.triu(1) == 0)  # no position sees a later one
    assert torch.all(wc[1, :, :, 3:] == 0)  # padded memory gets exactly zero weight
    y.sum().backward()
    expected.sum().backward()
    assert_same_grads(ours, ref)


@pytest.mark.filterwarnings("ignore:enable_nested_tensor is True")
@pytest.mark.parametrize("norm_first", [False, True])
def test_stacks_match_torch_transformer(norm_first):
    torch.manual_seed(0)
    ref = nn.Transformer(E, H, 2, 3, FF, dropout=0.0, batch_first=True,
                         norm_first=norm_first).double()  # fmt: skip
    model = Transformer(10, 10, E, H, 2, 3, FF, dropout=0.0, norm_first=norm_first).double()
    state = {k: v for k, v in ref.state_dict().items()}
    own = model.state_dict()
    model.load_state_dict({**own, **state})
    assert set(state) <= set(own)  # every torch parameter has its place, by name
    src, tgt = torch.randn(3, 7, E).double(), torch.randn(3, 4, E).double()
    padding = torch.zeros(3, 7, dtype=torch.bool)
    padding[2, 5:] = True
    expected = ref(src, tgt, tgt_mask=causal_mask(4), src_key_padding_mask=padding,
                   memory_key_padding_mask=padding, tgt_is_causal=True)  # fmt: skip
    torch.testing.assert_close(model.transform(src, tgt, padding), expected, atol=1e-12, rtol=0)


@pytest.mark.parametrize("norm_first", [False, True])
def test_language_model_stack_matches_torch_encoder(norm_first):
    layer = nn.TransformerEncoderLayer(E, H, FF, dropout=0.0, activation="gelu",
                                       batch_first=True, norm_first=norm_first)  # fmt: skip
    ref = nn.TransformerEncoder(layer, 2, norm=nn.LayerNorm(E), enable_nested_tensor=False)
    ref = ref.double()
    lm = TransformerLM(11, E, H, 2, FF, norm_first=norm_first, max_len=16).double()
    lm.stack.load_state_dict(ref.state_dict())
    ids = torch.randint(11, (2, 9))
    x = lm.positional(lm.embedding(ids) * E**0.5)
    expected = lm.readout(ref(x, mask=causal_mask(9), is_causal=True))
    torch.testing.assert_close(lm(ids)[0], expected, atol=1e-12, rtol=0)


def tiny(**kw):
    torch.manual_seed(0)
    return Transformer(12, 9, E, H, 2, 2, FF, dropout=0.0, **kw).double().eval()


def batch():
    source = torch.tensor([[5, 6, 7, 8, 9], [4, 11, 6, 0, 0], [7, 7, 5, 4, 0]])
    return source, torch.tensor([5, 3, 4]), torch.tensor([[1, 4, 5, 6], [1, 7, 3, 8], [1, 3, 3, 3]])


@pytest.mark.parametrize("positional", ["sinusoidal", "learned"])
def test_cached_steps_equal_teacher_forcing(positional):
    model = tiny(positional=positional)
    source, lengths, previous = batch()
    logits, alignment = model(source, lengths, previous)
    assert alignment is None
    state, stepped = model.encode(source, lengths), []
    for t in range(previous.shape[1]):
        out, state, attn = model.step(previous[:, t], state)
        stepped.append(out)
        assert attn.shape == (3, 5)
        torch.testing.assert_close(attn.sum(-1), torch.ones(3, dtype=torch.float64))
        assert torch.all(attn[1, 3:] == 0)
    torch.testing.assert_close(torch.stack(stepped, 1), logits, atol=1e-12, rtol=0)


def test_padding_is_invisible():
    model = tiny()
    source, lengths, previous = batch()
    wider = torch.cat([source, torch.randint(4, 12, (3, 3))], dim=1)
    wider[0, 5:] = 0  # row 0 is full length 5; fill the rest of every row with junk beyond
    logits, _ = model(source, lengths, previous)
    junk = wider.clone()
    junk[1, 3:] = torch.randint(4, 12, (5,))
    torch.testing.assert_close(model(junk, lengths, previous)[0], logits, atol=1e-12, rtol=0)


def test_cached_and_uncached_decoding_give_the_same_tokens():
    model = tiny()
    source, lengths, _ = batch()
    found = {}
    for cached in (True, False):
        model.use_cache = cached
        state = model.encode(source, lengths)
        found[cached] = (
            [h.tokens for h in greedy(model.step, state, 3, 1, 2, 12)],
            [h.tokens for h in beam_search(model.step, state, 3, 1, 2, 12, beam=3)],
        )
    assert found[True] == found[False]
    assert all(len(t) > 0 for t in found[True][0])


def test_language_model_cached_and_uncached_sampling_agree_past_the_context():
    torch.manual_seed(0)
    lm = TransformerLM(13, E, H, 2, FF, max_len=10).double().eval()
    prime = torch.tensor([3, 4, 5])
    tokens = {}
    for cached in (True, False):
        lm.use_cache = cached
        gen = torch.Generator().manual_seed(1)
        tokens[cached] = generate(lm.step, prime, 40, temperature=1.0, generator=gen)
    assert tokens[True] == tokens[False]  # 43 positions: the context was rebuilt 6 times


def test_language_model_steps_equal_the_full_pass():
    torch.manual_seed(0)
    lm = TransformerLM(13, E, H, 2, FF, max_len=12).double().eval()
    ids = torch.randint(13, (2, 12))
    state, out = None, []
    for t in range(12):
        logits, state, _ = lm.step(ids[:, t], state)
        out.append(logits)
    torch.testing.assert_close(torch.stack(out, 1), lm(ids)[0], atol=1e-12, rtol=0)
    assert state["k0"].shape == (2, H, 12, E // H)


def test_sinusoid_follows_the_formula():
    pe = PositionalEncoding(6, "sinusoidal", max_len=4)
    table = pe(torch.zeros(1, 4, 6))[0]
    pos, i = 3, 1  # PE(pos, 2i) = sin(pos / 10000^(2i/6)), PE(pos, 2i+1) = cos(...)
    angle = torch.tensor(pos / 10000 ** (2 * i / 6))
    torch.testing.assert_close(table[pos, 2 * i], torch.sin(angle))
    torch.testing.assert_close(table[pos, 2 * i + 1], torch.cos(angle))
    assert pe(torch.zeros(1, 9, 6)).shape == (1, 9, 6)  # the sinusoid extends


def test_errors_are_one_line():
    with pytest.raises(InputError, match=r"d_model=10 is not divisible by nhead=4") as err:
        Transformer(5, 5, d_model=10, nhead=4)
    assert "\n" not in str(err.value)
    pe = PositionalEncoding(8, "learned", max_len=6, config_key="model.max_len")
    with pytest.raises(InputError, match=r"max_len=6\); raise model.max_len") as err:
        pe(torch.zeros(1, 7, 8))
    assert "\n" not in str(err.value)
    with pytest.raises(InputError, match="expected \\(B, T, 16\\)"):
        EncoderLayer(E, H, FF)(torch.zeros(2, 3, 8))
    with pytest.raises(InputError, match="positional='rotary'"):
        PositionalEncoding(8, "rotary")

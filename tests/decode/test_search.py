"""Greedy and beam search: beam=1 is greedy, a wide beam is exhaustive, closed-form trees."""

import itertools
import math
from typing import NamedTuple

import pytest
import torch

from seqlab.decode import Hypothesis, beam_search, greedy, repeat_state, select_state
from seqlab.errors import InputError

EOS, BOS = 0, 1


class Model:
    """A tiny float64 attention decoder: a GRUCell over the previous token, dot attention over a
    random memory of S positions (the last two masked in odd rows), a read-out of [h; context]."""

    def __init__(self, seed, V=6, B=3, S=5, H=8, E=4, scale=3.0, eos_bias=0.0, vocab_in=None):
        gen = torch.Generator().manual_seed(seed)
        torch.manual_seed(seed)
        self.emb = torch.nn.Embedding(vocab_in or V, E).double()
        self.cell = torch.nn.GRUCell(E, H).double()
        self.out = torch.nn.Linear(2 * H, V).double()
        self.scale, self.eos_bias = scale, eos_bias
        memory = torch.randn(B, S, H, generator=gen, dtype=torch.float64)
        mask = torch.ones(B, S, dtype=torch.bool)
        mask[1::2, -2:] = False
        h0 = torch.randn(B, H, generator=gen, dtype=torch.float64)
        self.state = (h0, {"memory": memory, "mask": mask})

    def step(self, tokens, state):
        h, enc = state
        h = self.cell(self.emb(tokens), h)  # (N, H)
        scores = torch.einsum("nsh,nh->ns", enc["memory"], h)  # (N, S)
        attn = torch.softmax(scores.masked_fill(~enc["mask"], float("-inf")), -1)
        context = torch.einsum("ns,nsh->nh", attn, enc["memory"])  # (N, H)
        logits = self.scale * self.out(torch.cat([h, context], -1))  # (N, V)
        logits[:, EOS] += self.eos_bias
        return logits, (h, enc), attn

    def row(self, b, n=1):
        """Row b's initial state repeated n times (plain indexing, independent of search)."""
        h, enc = self.state
        idx = torch.full((n,), b, dtype=torch.long)
        return (h[idx], {k: v[idx] for k, v in enc.items()})

    def teacher_force(self, b, sequences):
        """log p of each emitted sequence (list of ids, EOS included) and its attention rows."""
        n, T = len(sequences), max(map(len, sequences))
        state, tokens = self.row(b, n), torch.full((n,), BOS)
        log_prob = torch.zeros(n, dtype=torch.float64)
        rows = []
        with torch.no_grad():
            for t in range(T):
                logits, state, attn = self.step(tokens, state)
                target = torch.tensor([s[t] if t < len(s) else EOS for s in sequences])
                logp = torch.log_softmax(logits, -1).gather(1, target[:, None])[:, 0]
                valid = torch.tensor([t < len(s) for s in sequences])
                log_prob += torch.where(valid, logp, 0.0)
                rows.append(attn)
                tokens = target
        attns = torch.stack(rows, 1)  # (n, T, S)
        return log_prob, [attns[i, : len(s)] for i, s in enumerate(sequences)]


def emitted(h: Hypothesis) -> list[int]:
    return h.tokens + [EOS] * h.finished


def tree_model(table, V, B=1):
    """A step function over an explicit tree: ``table[prefix]`` are the next-token probabilities
    (a prefix missing from the table ends with certainty). The state is the prefix, coded."""

    def decode(code):
        prefix = []
        while code > 0:
            code, digit = divmod(code, V + 1)
            prefix.append(digit - 1)
        return tuple(reversed(prefix))

    ends = [1.0 if v == EOS else 0.0 for v in range(V)]

    def step(tokens, codes):
        codes = torch.where(codes < 0, 0, codes * (V + 1) + tokens + 1)  # BOS opens the root
        probs = [table.get(decode(c), ends) for c in codes.tolist()]
        return torch.tensor(probs, dtype=torch.float64).log(), codes, None

    return step, torch.full((B,), -1)


# -- closed forms --------------------------------------------------------------------------------
def test_beam_two_finds_what_greedy_misses():
    # tokens: EOS=0, a=1, b=2. Greedy takes a (0.6) then the flat branch: p = 0.6·0.4 = 0.24;
    # b (0.4) then EOS (0.9) gives 0.36.
    table = {(): [0.0, 0.6, 0.4], (1,): [0.4, 0.3, 0.3], (2,): [0.9, 0.05, 0.05]}
    step, state = tree_model(table, V=3)
    g = greedy(step, state, 1, BOS, EOS, max_len=5)[0]
    assert (g.tokens, g.finished) == ([1], True)
    assert g.log_prob == pytest.approx(math.log(0.24)) and g.score == pytest.approx(g.log_prob / 2)
    assert g.alignment is None
    b1 = beam_search(step, state, 1, BOS, EOS, 5, beam=1)[0]
    assert (b1.tokens, b1.log_prob) == (g.tokens, pytest.approx(g.log_prob))
    for penalty in (0.0, 1.0):
        b2 = beam_search(step, state, 1, BOS, EOS, 5, beam=2, length_penalty=penalty)[0]
        assert (b2.tokens, b2.finished) == ([2], True)
        assert b2.log_prob == pytest.approx(math.log(0.36))
        assert b2.score == pytest.approx(math.log(0.36) / 2**penalty)


def test_length_penalty_trades_raw_log_prob_for_length():
    # [EOS]: log 0.45 = -0.80.  [a, EOS]: log(0.55·0.7) = -0.95, per token -0.48.
    table = {(): [0.45, 0.55], (1,): [0.7, 0.3]}
    step, state = tree_model(table, V=2)
    raw = beam_search(step, state, 1, BOS, EOS, 4, beam=3, length_penalty=0.0)[0]
    assert (raw.tokens, raw.score) == ([], pytest.approx(math.log(0.45)))
    mean = beam_search(step, state, 1, BOS, EOS, 4, beam=3, length_penalty=1.0)[0]
    assert (mean.tokens, mean.score) == ([1], pytest.approx(math.log(0.385) / 2))


# -- beam=1 is greedy, a wide beam is exhaustive -------------------------------------------------
def test_beam_one_is_greedy_on_random_models():
    outcomes = set()
    for seed in range(12):
        model = Model(seed, B=3, eos_bias=1.5)
        g = greedy(model.step, model.state, 3, BOS, EOS, max_len=6)
        b = beam_search(model.step, model.state, 3, BOS, EOS, max_len=6, beam=1)
        for row, (x, y) in enumerate(zip(g, b, strict=True)):
            assert (x.tokens, x.finished) == (y.tokens, y.finished)
            assert x.log_prob == pytest.approx(y.log_prob, abs=1e-12)
            assert x.score == pytest.approx(y.score, abs=1e-12)
            torch.testing.assert_close(x.alignment, y.alignment)
            outcomes.add(x.finished)
            # greedy against teacher forcing: each token is the argmax given the ones before
            (log_prob,), (attn,) = model.teacher_force(row, [emitted(x)])
            assert x.log_prob == pytest.approx(log_prob.item(), abs=1e-10)
            torch.testing.assert_close(x.alignment, attn)
    assert outcomes == {True, False}  # both an EOS stop and a max_len cut were exercised


def test_beam_hypotheses_replay_under_teacher_forcing():
    # The backtrace through parent slots must give tokens whose replayed log p and attention match.
    off_greedy = 0
    for seed in range(6):
        model = Model(seed, B=3)
        found = beam_search(model.step, model.state, 3, BOS, EOS, 7, beam=3)
        greedy_found = greedy(model.step, model.state, 3, BOS, EOS, 7)
        for b, (hyp, g) in enumerate(zip(found, greedy_found, strict=True)):
            (log_prob,), (attn,) = model.teacher_force(b, [emitted(hyp)])
            assert hyp.log_prob == pytest.approx(log_prob.item(), abs=1e-10)
            assert hyp.alignment.shape == (len(emitted(hyp)), 5)
            torch.testing.assert_close(hyp.alignment, attn)
            if b % 2:  # masked memory positions get no attention
                assert hyp.alignment[:, -2:].abs().max() == 0
            off_greedy += hyp.tokens != g.tokens
    assert off_greedy >= 3  # paths that leave the top slot, so the reordering is exercised


def test_finished_hypotheses_narrow_the_beam():
    # beam 2, mean log-prob. Step 1 keeps [EOS] (0.5, finished) and a (0.4); b (0.1) falls off.
    # Step 2 keeps only 2 − 1 = 1 extension: aa (0.2), not ab (0.18). Step 3: aaa (0.1), then EOS
    # is certain: log(0.1)/4 = -0.576 beats log(0.5)/1. (Keeping 2 at step 2 would find ab·EOS,
    # log(0.18)/3 = -0.572.)
    table = {
        (): [0.5, 0.4, 0.1],
        (1,): [0.05, 0.5, 0.45],
        (1, 1): [0.1, 0.5, 0.4],
        (1, 2): [1, 0, 0],
    }
    step, state = tree_model(table, V=3)
    hyp = beam_search(step, state, 1, BOS, EOS, 6, beam=2)[0]
    assert (hyp.tokens, hyp.finished) == ([1, 1, 1], True)
    assert hyp.score == pytest.approx(math.log(0.1) / 4)


@pytest.mark.parametrize("length_penalty", [0.0, 1.0])
def test_wide_beam_is_exhaustive(length_penalty):
    V, max_len = 4, 4  # EOS plus 3 tokens
    words = range(1, V)
    ending = (list(p) + [EOS] for n in range(max_len) for p in itertools.product(words, repeat=n))
    sequences = list(ending)
    sequences += [list(p) for p in itertools.product(words, repeat=max_len)]  # cut at max_len
    assert len(sequences) == 121
    answers = set()
    for seed in range(5):
        model = Model(seed, V=V, B=2, eos_bias=-1.0)
        found = beam_search(model.step, model.state, 2, BOS, EOS, max_len, 121, length_penalty)
        for b, hyp in enumerate(found):
            log_prob, _ = model.teacher_force(b, sequences)
            lengths = torch.tensor([len(s) for s in sequences], dtype=torch.float64)
            best = int((log_prob / lengths**length_penalty).argmax())
            assert emitted(hyp) == sequences[best]
            assert hyp.finished == (sequences[best][-1] == EOS)
            assert hyp.log_prob == pytest.approx(log_prob[best].item(), abs=1e-10)
            answers.add(tuple(emitted(hyp)))
    # the oracle is not the same sequence every time; both ends of a hypothesis occur
    assert len(answers) > 2 and {a[-1] == EOS for a in answers} == {True, False}


def test_batch_rows_are_independent():
    model = Model(3, B=3, eos_bias=0.5)
    runs = [
        lambda st, n: greedy(model.step, st, n, BOS, EOS, 8),
        lambda st, n: beam_search(model.step, st, n, BOS, EOS, 8, beam=3),
        lambda st, n: beam_search(model.step, st, n, BOS, EOS, 8, beam=4, length_penalty=0.5),
    ]
    for run in runs:
        together = run(model.state, 3)
        for b in range(3):
            (alone,) = run(model.row(b), 1)
            assert (alone.tokens, alone.finished) == (together[b].tokens, together[b].finished)
            assert alone.log_prob == pytest.approx(together[b].log_prob, abs=1e-10)
            torch.testing.assert_close(alone.alignment, together[b].alignment)


# -- lengths -------------------------------------------------------------------------------------
def test_max_len_cuts_and_an_immediate_eos_is_empty():
    never = Model(0, B=2, eos_bias=float("-inf"))
    for hyp in greedy(never.step, never.state, 2, BOS, EOS, 5) + beam_search(
        never.step, never.state, 2, BOS, EOS, 5, beam=3
    ):
        assert len(hyp.tokens) == 5 and not hyp.finished and EOS not in hyp.tokens
        assert hyp.alignment.shape == (5, 5)
        torch.testing.assert_close(hyp.alignment.sum(1), torch.ones(5, dtype=torch.float64))
    now = Model(0, B=2, eos_bias=60.0)
    logits, _, attn = now.step(torch.full((2,), BOS), now.state)
    first = torch.log_softmax(logits.detach(), -1)[:, EOS]
    for run in (greedy, lambda *a: beam_search(*a, beam=3)):
        for b, hyp in enumerate(run(now.step, now.state, 2, BOS, EOS, 5)):
            assert (hyp.tokens, hyp.finished) == ([], True)
            assert hyp.log_prob == pytest.approx(first[b].item()) and hyp.score == hyp.log_prob
            torch.testing.assert_close(hyp.alignment, attn[b : b + 1].detach())


# -- the state tree ------------------------------------------------------------------------------
class Pair(NamedTuple):
    h: torch.Tensor
    c: torch.Tensor


def test_state_helpers_reorder_nested_trees():
    a, b = torch.arange(3.0), torch.arange(6).view(3, 2)
    state = (a, [None, {"enc": b, "pair": Pair(a * 10, b)}])
    picked = select_state(state, torch.tensor([2, 0]))
    assert picked[0].tolist() == [2.0, 0.0] and picked[1][0] is None
    assert picked[1][1]["enc"].tolist() == [[4, 5], [0, 1]]
    assert isinstance(picked[1], list) and isinstance(picked[1][1]["pair"], Pair)
    assert picked[1][1]["pair"].h.tolist() == [20.0, 0.0]
    wide = repeat_state(state, 2)
    assert wide[0].tolist() == [0.0, 0.0, 1.0, 1.0, 2.0, 2.0]
    assert wide[1][1]["pair"].c[:, 0].tolist() == [0, 0, 2, 2, 4, 4]
    assert select_state(None, torch.tensor([0])) is None


def test_bad_state_tree_arguments():
    with pytest.raises(InputError, match="index: expected a 1-D integer"):
        select_state(torch.zeros(3), torch.tensor([[0]]))
    with pytest.raises(InputError, match="index: expected a 1-D integer"):
        select_state(torch.zeros(3), torch.tensor([0.0]))
    with pytest.raises(InputError, match="times=0: expected an integer >= 1"):
        repeat_state(torch.zeros(3), 0)
    with pytest.raises(InputError, match=r"state\[1\]\['name'\] is a str"):
        repeat_state((torch.zeros(3), {"name": "x"}), 2)
    with pytest.raises(InputError, match=r"state\[0\] is a 0-dim tensor"):
        select_state((torch.tensor(1.0),), torch.tensor([0]))


# -- errors --------------------------------------------------------------------------------------
def test_bad_search_arguments():
    model = Model(0, B=2)
    args = (model.step, model.state)
    with pytest.raises(InputError, match="beam=0: expected an integer >= 1"):
        beam_search(*args, 2, BOS, EOS, 5, beam=0)
    with pytest.raises(InputError, match="max_len=0: expected an integer >= 1"):
        greedy(*args, 2, BOS, EOS, 0)
    with pytest.raises(InputError, match="batch_size=0: expected an integer >= 1"):
        beam_search(*args, 0, BOS, EOS, 5)
    with pytest.raises(InputError, match="length_penalty=-0.5: expected a number >= 0"):
        beam_search(*args, 2, BOS, EOS, 5, length_penalty=-0.5)
    with pytest.raises(InputError, match="eos=-1: expected a token id"):
        greedy(*args, 2, BOS, -1, 5)
    with pytest.raises(InputError, match=r"eos=6: expected a token id in \[0, 6\) for V=6"):
        beam_search(*args, 2, BOS, 6, 5)
    wider = Model(0, B=2, vocab_in=9)  # its embedding accepts id 8, its logits do not
    with pytest.raises(InputError, match=r"bos=8: expected a token id in \[0, 6\)"):
        greedy(wider.step, wider.state, 2, 8, EOS, 5)
    with pytest.raises(InputError, match="batch_size=3"):  # state rows must match
        greedy(*args, 3, BOS, EOS, 5)


def test_bad_step_outputs():
    state = torch.zeros(2, 1)
    with pytest.raises(InputError, match=r"logits of shape \(2, 1, 4\) from step: expected"):
        greedy(lambda t, s: (torch.zeros(2, 1, 4), s, None), state, 2, 0, 1, 3)
    with pytest.raises(InputError, match=r"logits of shape \(2, 4\) from step: .* N=6"):
        beam_search(lambda t, s: (torch.zeros(2, 4), s, None), state, 2, 0, 1, 3, beam=3)
    with pytest.raises(InputError, match="step must return"):
        greedy(lambda t, s: (torch.zeros(2, 4), s), state, 2, 0, 1, 3)
    with pytest.raises(InputError, match=r"attention of shape \(2, 1, 3\)"):
        greedy(lambda t, s: (torch.zeros(2, 4), s, torch.zeros(2, 1, 3)), state, 2, 0, 1, 3)
    with pytest.raises(InputError, match="row 0: every token got log p = -inf"):
        dead = torch.full((4, 3), float("-inf"))
        beam_search(lambda t, s: (dead, s, None), state[:2], 2, 0, 1, 3, beam=2)

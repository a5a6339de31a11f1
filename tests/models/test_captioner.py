"""The captioner: its gradients (the hand-derived attention core with the regulariser reading α)
against autograd in float64 and gradcheck, the step protocol against teacher forcing, decoding
through seqlab.decode with each word's attention, and bad input."""

import pytest
import torch

from seqlab.attention import additive
from seqlab.decode import beam_search, greedy
from seqlab.errors import ConfigError, InputError, ShapeError
from seqlab.models.captioner import Captioner, CaptionerConfig, doubly_stochastic
from seqlab.train.runtime import one_thread

V, P, BOS, EOS = 9, 16, 1, 2


def tiny(context="attention", **kw) -> Captioner:
    torch.manual_seed(0)
    sizes = dict(channels=2, annotation_size=5, embedding_size=4, hidden_size=6, attention_size=3)
    return Captioner(V, P, context, **{**sizes, **kw}).double()


def loss_of(model, images, previous, target, lam=0.7):
    logits, alignment = model(images, previous)
    nll = torch.nn.functional.cross_entropy(logits.transpose(1, 2), target, reduction="sum")
    penalty = 0.0 if alignment is None else doubly_stochastic(alignment, target != 0).sum()
    return nll + lam * penalty


def batch(B=3, T=4, seed=1):
    gen = torch.Generator().manual_seed(seed)
    images = torch.rand(B, P, P, generator=gen, dtype=torch.float64)
    previous = torch.randint(3, V, (B, T), generator=gen)
    previous[:, 0] = BOS
    target = torch.cat([previous[:, 1:], torch.full((B, 1), EOS)], 1)
    target[0, -1] = 0  # a padded step: no loss and no part in the regulariser
    return images, previous, target


def test_the_regulariser_closed_form():
    alignment = torch.tensor([[[1.0, 0, 0], [0, 1, 0], [0.5, 0.5, 0]]])  # (1, T=3, L=3)
    every = torch.ones(1, 3, dtype=torch.bool)
    assert doubly_stochastic(alignment, every).item() == pytest.approx(0.25 + 0.25 + 1)
    first_two = torch.tensor([[True, True, False]])
    assert doubly_stochastic(alignment, first_two).item() == pytest.approx(1.0)


def test_gradients_equal_autograd_of_the_reference_attention(monkeypatch):
    """The whole loss (cross-entropy + λ · regulariser) with the hand-derived attention core,
    and with the core replaced by its autograd reference: equal gradients in float64."""
    images, previous, target = batch()
    images.requires_grad_(True)
    model = tiny(backend="seqlab")
    loss_of(model, images, previous, target).backward()
    hand = {n: p.grad.clone() for n, p in model.named_parameters()}
    hand["images"] = images.grad.clone()
    model.zero_grad()
    images.grad = None
    monkeypatch.setattr(additive.AdditiveFunction, "apply", additive.additive_reference)
    loss_of(model, images, previous, target).backward()
    auto = {n: p.grad for n, p in model.named_parameters()}
    auto["images"] = images.grad
    assert hand.keys() == auto.keys()
    for name in hand:
        torch.testing.assert_close(hand[name], auto[name], rtol=1e-10, atol=1e-12, msg=name)
    assert hand["attention.score"].abs().sum() > 0


def test_gradcheck_through_attention_and_regulariser():
    images, previous, target = batch(B=2, T=3)
    model = tiny(backend="seqlab")
    params = {n: model.get_parameter(n).detach().clone().requires_grad_(True)
              for n in ("gate.weight", "attention.score", "attention.key_proj.weight")}  # fmt: skip

    def f(*values):
        swapped = dict(zip(params, values, strict=True))
        logits, alignment = torch.func.functional_call(model, swapped, (images, previous))
        return logits.sum() + doubly_stochastic(alignment, target != 0).sum()

    assert torch.autograd.gradcheck(f, tuple(params.values()))


def test_steps_give_the_teacher_forced_logits_and_attention():
    images, previous, _ = batch()
    for context in ("attention", "mean"):
        model = tiny(context)
        logits, alignment = model(images, previous)
        state = model.encode(images)
        for t in range(previous.shape[1]):
            step_logits, state, weights = model.step(previous[:, t], state)
            torch.testing.assert_close(step_logits, logits[:, t])
            if context == "attention":
                torch.testing.assert_close(weights, alignment[:, t])
                assert weights.shape == (3, (P // 8) ** 2)
            else:
                assert weights is None and alignment is None


def test_decoding_returns_each_words_attention_map():
    model = tiny()
    images, _, _ = batch()
    for hyps in (
        greedy(model.step, model.encode(images), 3, BOS, EOS, 6),
        beam_search(model.step, model.encode(images), 3, BOS, EOS, 6, beam=3),
    ):
        for hyp in hyps:
            n = len(hyp.tokens) + hyp.finished
            assert hyp.alignment.shape == (n, 4)
            torch.testing.assert_close(hyp.alignment.sum(1), torch.ones(n, dtype=torch.float64))


def test_a_beam_that_never_ends_returns_its_best_unfinished_caption():
    model = tiny()
    with torch.no_grad():
        model.out.bias[EOS] = float("-inf")
    images, _, _ = batch()
    for hyp in beam_search(model.step, model.encode(images), 3, BOS, EOS, 5, beam=4):
        assert not hyp.finished and len(hyp.tokens) == 5 and EOS not in hyp.tokens
        assert hyp.alignment.shape == (5, 4)


def test_one_batch_is_learnt():
    torch.manual_seed(0)
    model = Captioner(V, P, channels=4, annotation_size=16, embedding_size=8, hidden_size=16,
                      attention_size=8)  # fmt: skip
    images, previous, target = batch(B=4, T=4)
    images, target = images.float(), target.clone()
    target[0, -1] = EOS
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    with one_thread():  # products of a few units: a second thread only waits
        for _ in range(100):
            logits, _ = model(images, previous)
            loss = torch.nn.functional.cross_entropy(logits.transpose(1, 2), target)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    assert loss.item() < 0.2


def test_bad_input_and_configuration():
    model = tiny()
    with pytest.raises(ShapeError, match=r"expected \(B, 16, 16\)"):
        model.encode(torch.rand(2, 3, P, P, dtype=torch.float64))
    with pytest.raises(InputError, match="multiple of 8"):
        Captioner(V, 20)
    with pytest.raises(InputError, match="context='soft'"):
        Captioner(V, P, "soft")
    with pytest.raises(ConfigError, match="model.hidden_size"):
        CaptionerConfig(hidden_size=0)

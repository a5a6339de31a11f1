"""What ``seqlab run captions`` trains on and how it scores: batches of digit scenes, the
Trainer's task (cross-entropy plus the doubly stochastic regulariser), decoding with
:mod:`seqlab.decode`, BLEU, exact match and attention precision.

A batch, padded with id 0::

    images   (B, P, P)   canvases in [0, 1]
    previous (B, T)      [BOS, y_1 … y_{T−1}]   the decoder's inputs under teacher forcing
    target   (B, T)      [y_1 … y_{T−1}, EOS]   what it must predict; 0 (padding) is not scored

The loss of a batch, per target token (N tokens, EOS included)::

    (Σ −log p(y_t) + λ Σ_captions Σ_i (1 − Σ_t α_ti)²) / N
"""

import numpy as np
import torch
import torch.nn.functional as F
from sacrebleu.metrics import BLEU

from ...data import digit_scenes as ds
from ...data.vocab import TokenVocab
from ...decode import Hypothesis, beam_search, greedy
from ...models.captioner import doubly_stochastic
from ...train import Context

MAX_WORDS = max(len(t) for n in range(1, ds.MAX_OBJECTS + 1) for t, _ in ds.captions(
    tuple(range(n)), "column" if n == 2 else ""))  # fmt: skip


def vocabulary() -> TokenVocab:
    """Every word the grammar writes, in a fixed order (ids from 4)."""
    return TokenVocab(list(ds.WORDS))


def collate(scenes: list[ds.Scene], captions: list[tuple[str, ...]], vocab: TokenVocab):
    """Scenes and one caption each -> (images, previous, target) tensors."""
    images = torch.from_numpy(np.stack([s.image for s in scenes]))  # (B, P, P)
    T = max(len(c) for c in captions) + 1
    previous = torch.zeros(len(scenes), T, dtype=torch.long)
    target = torch.zeros(len(scenes), T, dtype=torch.long)
    for b, caption in enumerate(captions):
        ids = vocab.encode(list(caption))
        previous[b, : len(ids) + 1] = torch.tensor([vocab.bos, *ids])
        target[b, : len(ids) + 1] = torch.tensor([*ids, vocab.eos])
    return images, previous, target


def losses(model, batch, regulariser: float):
    """(summed cross-entropy, summed λ-weighted regulariser, target tokens, (B, T) right)."""
    images, previous, target = batch
    logits, alignment = model(images, previous)  # (B, T, V), (B, T, L) or None
    scored = target != 0  # (B, T)
    nll = F.cross_entropy(logits.transpose(1, 2), target, ignore_index=0, reduction="sum")
    penalty = logits.new_zeros(())
    if alignment is not None and regulariser > 0:
        penalty = regulariser * doubly_stochastic(alignment, scored).sum()
    return nll, penalty, int(scored.sum()), (logits.argmax(-1) == target) & scored


class CaptionTask:
    """The Trainer's task: ``batch_size`` fresh training scenes per step (a pure function of
    the step), each with its first reference (a pair: the upper or left digit first);
    validation is teacher-forced loss (nats per token), the regulariser per caption and greedy
    exact match on fixed scenes.

    Why the first reference only: trained on either order at random, the decoder named one of
    the two digits of a pair while attending to both, and then wrote the relation as if it had
    named the other one half the time ("a two below a two"; 46% exact on pairs in a 1,500-step
    trial, against 93% on three digits). Scoring still takes every reference."""

    items = "captions"

    def __init__(self, digits, vocab, batch_size, valid, seed, regulariser, max_len):
        self.digits, self.vocab, self.batch_size = digits, vocab, batch_size
        self.seed, self.regulariser, self.max_len = seed, regulariser, max_len
        self.valid = [valid[i : i + 256] for i in range(0, len(valid), 256)]

    def train_batch(self, step: int, ctx: Context):
        rng = ds.scene_rng(self.seed, step)
        scenes = [ds.draw_scene(self.digits, "train", rng) for _ in range(self.batch_size)]
        captions = [s.references[0] for s in scenes]
        mine = slice(ctx.rank, None, ctx.world)
        batch = collate(scenes[mine], captions[mine], self.vocab)
        return tuple(t.to(ctx.device) for t in batch)

    def train_step(self, model, batch, carry):
        nll, penalty, tokens, _ = losses(model, batch, self.regulariser)
        return (nll + penalty) / tokens, None, len(batch[0])

    @torch.no_grad()
    def evaluate(self, model, ctx: Context):
        total = penalty_sum = 0.0
        tokens = right = exact = count = 0
        for scenes in self.valid[ctx.rank :: ctx.world]:
            batch = collate(scenes, [s.references[0] for s in scenes], self.vocab)
            batch = tuple(t.to(ctx.device) for t in batch)
            nll, penalty, n, correct = losses(model, batch, 1.0)
            total, penalty_sum, tokens = (
                total + float(nll),
                penalty_sum + float(penalty),
                tokens + n,
            )
            right += int(correct.sum())
            hyps = greedy(model.step, model.encode(batch[0]), len(scenes), self.vocab.bos,
                          self.vocab.eos, self.max_len)  # fmt: skip
            exact += sum(is_exact(h, s, self.vocab) for h, s in zip(hyps, scenes, strict=True))
            count += len(scenes)
        return {
            "loss": (total, tokens),
            "token_accuracy": (right, tokens),
            "regulariser": (penalty_sum, count),  # Σ_i (1 − Σ_t α_ti)² per caption (λ = 1)
            "exact": (exact, count),
        }


def words(hyp: Hypothesis, vocab: TokenVocab) -> tuple[str, ...]:
    return tuple(vocab.decode(hyp.tokens))


def is_exact(hyp: Hypothesis, scene: ds.Scene, vocab: TokenVocab) -> bool:
    """The caption ended with EOS and is one of the scene's references."""
    return hyp.finished and words(hyp, vocab) in scene.references


@torch.no_grad()
def decode_scenes(model, scenes, vocab, beam: int, max_len: int, batch_size: int = 250):
    """Caption every scene with greedy search (``beam == 1``) or beam search."""
    model.eval()
    device = next(model.parameters()).device
    out: list[Hypothesis] = []
    for start in range(0, len(scenes), batch_size):
        chunk = scenes[start : start + batch_size]
        images = torch.from_numpy(np.stack([s.image for s in chunk])).to(device)
        state = model.encode(images)
        if beam == 1:
            out += greedy(model.step, state, len(chunk), vocab.bos, vocab.eos, max_len)
        else:
            out += beam_search(model.step, state, len(chunk), vocab.bos, vocab.eos, max_len, beam)
    return out


def bleu_scores(hypotheses: list[str], references: list[list[str]]) -> dict[str, float]:
    """sacreBLEU BLEU-1 … BLEU-4 of the hypotheses against every reference of each scene
    (default 13a tokenisation, exponential smoothing). A scene with fewer references than the
    most has its first one repeated: a duplicate reference changes no n-gram count."""
    width = max(len(r) for r in references)
    streams = [[r[min(k, len(r) - 1)] for r in references] for k in range(width)]
    return {
        f"bleu{n}": BLEU(max_ngram_order=n).corpus_score(hypotheses, streams).score
        for n in range(1, 5)
    }


def bleu_signature(references: int = 2) -> str:
    """sacreBLEU's signature of :func:`bleu_scores` with ``references`` reference streams."""
    metric = BLEU()
    metric.corpus_score(["a"], [["a"]] * references)
    return str(metric.get_signature())


def noun_roles(hyp_words: tuple[str, ...], scene: ds.Scene) -> tuple[int, ...] | None:
    """Which object each word of a caption names (-1: none), read from the reference with the
    same words everywhere but at its nouns; None if the caption has no such reference (it
    counts objects or places them differently from any reference)."""
    for ref, roles in zip(scene.references, scene.roles, strict=True):
        if len(ref) == len(hyp_words) and all(
            r == h for r, h, role in zip(ref, hyp_words, roles, strict=True) if role < 0
        ):
            return roles
    return None


def attention_precision(hyps, scenes, vocab, grid: int) -> dict:
    """The share of each noun word's attention inside the box of the object it names,
    averaged over the nouns of every test caption whose form matches a reference (see
    :func:`noun_roles`); a hypothesis without alignment attends uniformly (the mean context).
    Returns the mean, the nouns scored and the share of captions scored."""
    shares, scored = [], 0
    uniform = np.full(grid * grid, 1.0 / (grid * grid))
    for hyp, scene in zip(hyps, scenes, strict=True):
        roles = noun_roles(words(hyp, vocab), scene)
        if roles is None:
            continue
        scored += 1
        for t, role in enumerate(roles):
            if role >= 0:
                weights = uniform if hyp.alignment is None else hyp.alignment[t].numpy()
                shares.append(ds.box_mass(weights, scene.boxes[role], grid))
    return {
        "precision": float(np.mean(shares)) if shares else None,
        "nouns": len(shares),
        "captions_scored": scored / max(len(scenes), 1),
    }

"""Reviews as token ids, length-bucketed batches, and the Trainer's task for the self-attentive
classifier.

A review is tokenised (:func:`~seqlab.data.vocab.word_tokens`), cut to its first
``max_tokens`` tokens (how many were cut is counted for the report), and encoded with a
vocabulary of the training split's most frequent words (rarer ones are ``<unk>``).

Training batches are drawn epoch by epoch from a permutation of the training reviews that is a
pure function of (seed, epoch): the permutation is cut into pools of ``pool`` batches, each
pool is sorted by length and cut into batches, and the batches are shuffled. A batch of reviews
of near-equal length is then cut to its shortest review (``crop``), so it needs no padding and
no lengths: the LSTM runs oneDNN's fused kernel (``backend="auto"``). The share of training
tokens this drops is measured (``cropped_share``). Validation and test batches keep every token
and pass their lengths.
"""

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from ...attention.structured import hop_overlap, hop_penalty
from ...data.reviews import Review
from ...data.synthetic import generator
from ...data.vocab import PAD_ID, TokenVocab, word_tokens


@dataclass
class Encoded:
    ids: list[list[int]]  # each review's token ids, cut to max_tokens
    labels: list[int]
    truncated: int  # reviews longer than max_tokens
    tokens: int  # tokens kept
    full_lengths: list[int]  # each review's tokens before the cut


def encode_reviews(reviews: list[Review], vocab: TokenVocab, max_tokens: int) -> Encoded:
    ids, truncated, total, full = [], 0, 0, []
    for r in reviews:
        words = word_tokens(r.text)
        full.append(len(words))
        truncated += len(words) > max_tokens
        ids.append(vocab.encode(words[:max_tokens] or ["<unk>"], unknown="unk"))
        total += len(ids[-1])
    return Encoded(ids, [r.label for r in reviews], truncated, total, full)


def build_vocab(reviews: list[Review], size: int, min_count: int) -> TokenVocab:
    return TokenVocab.build((word_tokens(r.text) for r in reviews), min_count, size)


def pad(rows: list[list[int]]) -> tuple[Tensor, Tensor]:
    """-> tokens (B, T) padded with 0, lengths (B,)."""
    lengths = torch.tensor([len(r) for r in rows])
    tokens = torch.full((len(rows), int(lengths.max())), PAD_ID, dtype=torch.long)
    for i, r in enumerate(rows):
        tokens[i, : len(r)] = torch.tensor(r)
    return tokens, lengths


def sorted_batches(data: Encoded, batch_size: int) -> list[list[int]]:
    """Indices in batches of near-equal length (for evaluation: nothing is cut)."""
    order = sorted(range(len(data.ids)), key=lambda i: len(data.ids[i]))
    return [order[i : i + batch_size] for i in range(0, len(order), batch_size)]


class ReviewTask:
    """The Trainer's task: loss = cross-entropy + ``penalty`` · mean ‖A Aᵀ − I‖²_F."""

    items = "reviews"

    def __init__(
        self,
        train: Encoded,
        valid: Encoded,
        batch_size: int,
        pool: int,
        penalty: float,
        seed: int,
        crop: bool = True,
    ):
        self.train, self.valid = train, valid
        self.batch_size, self.pool, self.penalty, self.seed = batch_size, pool, penalty, seed
        self.crop = crop
        self.per_epoch = math.ceil(len(train.ids) / batch_size)
        self._epoch, self._batches = -1, []

    def epoch_batches(self, epoch: int) -> list[list[int]]:
        """This epoch's batches of training indices (module docstring)."""
        if epoch != self._epoch:
            gen = generator(self.seed, epoch)
            order = torch.randperm(len(self.train.ids), generator=gen).tolist()
            size = self.batch_size * self.pool
            batches = []
            for start in range(0, len(order), size):
                pool = sorted(order[start : start + size], key=lambda i: len(self.train.ids[i]))
                batches += [
                    pool[i : i + self.batch_size] for i in range(0, len(pool), self.batch_size)
                ]
            shuffle = torch.randperm(len(batches), generator=gen).tolist()
            self._epoch, self._batches = epoch, [batches[i] for i in shuffle]
        return self._batches

    def rows(self, batch: list[int]) -> list[list[int]]:
        rows = [self.train.ids[i] for i in batch]
        if self.crop:
            shortest = min(len(r) for r in rows)
            rows = [r[:shortest] for r in rows]
        return rows

    def cropped_share(self, epoch: int = 0) -> float:
        """The share of an epoch's training tokens that cropping drops."""
        kept = sum(len(r) for b in self.epoch_batches(epoch) for r in self.rows(b))
        return 1 - kept / max(self.train.tokens, 1)

    def train_batch(self, step: int, ctx):
        batch = self.epoch_batches(step // self.per_epoch)[step % self.per_epoch]
        batch = batch[ctx.rank :: ctx.world]
        tokens, lengths = pad(self.rows(batch))
        return tokens, lengths, torch.tensor([self.train.labels[i] for i in batch])

    def loss(self, logits, weights, labels):
        penalty = hop_penalty(weights).mean()
        return F.cross_entropy(logits, labels) + self.penalty * penalty, penalty

    def train_step(self, model, batch, carry):
        tokens, lengths, labels = batch
        logits, weights = model(tokens, lengths)
        loss, _ = self.loss(logits, weights, labels)
        return loss, None, len(labels)

    def evaluate(self, model, ctx):
        found = predict(model, self.valid, self.batch_size * 2, rank=ctx.rank, world=ctx.world)
        n = len(found["labels"])
        labels = torch.tensor(found["labels"])
        logits = torch.stack(found["logits"])
        ce = F.cross_entropy(logits, labels, reduction="sum")
        return {
            "loss": (float(ce) + self.penalty * sum(found["penalty"]), n),
            "accuracy": (float((logits.argmax(-1) == labels).sum()), n),
            "penalty": (sum(found["penalty"]), n),
        }


@torch.no_grad()
def predict(
    model,
    data: Encoded,
    batch_size: int,
    keep_weights: set[int] | None = None,
    rank: int = 0,
    world: int = 1,
) -> dict:
    """Logits, penalty and hop overlap of every review (in data order), and the attention
    weights (R, T_i) of the reviews in ``keep_weights``."""
    was_training = model.training
    model.eval()
    n = len(data.ids)
    logits, penalty, overlap, weights = [None] * n, [0.0] * n, [0.0] * n, {}
    mine = [b for k, b in enumerate(sorted_batches(data, batch_size)) if k % world == rank]
    for batch in mine:
        tokens, lengths = pad([data.ids[i] for i in batch])
        out, A = model(tokens, lengths)  # (B, C), (B, R, T)
        P, O = hop_penalty(A), hop_overlap(A)
        for j, i in enumerate(batch):
            logits[i], penalty[i], overlap[i] = out[j], float(P[j]), float(O[j])
            if keep_weights and i in keep_weights:
                weights[i] = A[j, :, : int(lengths[j])].numpy()
    model.train(was_training)
    keep = [i for b in mine for i in b]
    keep.sort()
    return {
        "index": keep,
        "logits": [logits[i] for i in keep],
        "labels": [data.labels[i] for i in keep],
        "penalty": [penalty[i] for i in keep],
        "overlap": [overlap[i] for i in keep],
        "weights": weights,
    }

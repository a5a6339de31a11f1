"""The five problems of the ``topologies`` experiment, one per topology.

A :class:`Problem` knows its data (``batch(n, gen, split)``), its model (``build()``), its
training loss, its greedy predictions, and how to judge them: ``exact`` (every output of an
example right: the label, the whole word, every frame, the whole reversed sequence) and
``units`` (single outputs right: letters, frames, tokens). :mod:`.topology_tasks` trains and
tests any of them.
"""

from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ...data import topologies as data
from ...data.synthetic import generator
from ...data.vocab import PAD_ID
from ...models.tagger import SequenceTagger
from ...models.topologies import ClassToSequence, EncoderDecoder, SequenceClassifier
from ..tagging import frame_loss

SPLIT = -3  # the random stream that splits one-to-one's numbers (VALID is -1, TEST -2)


@dataclass
class Example:
    """One test example as text: for the report's table (``input → output (target)``) and the
    unrolled graph (per-step box labels; ``ok`` per shown output)."""

    input: str
    target: str
    output: str
    inputs: list  # per step; the encoder's steps for sequence-to-sequence
    outputs: list  # per step (None: no output there)
    ok: list
    initial: str | None = None  # sets z_0 (one-to-many)
    decoder_inputs: list = field(default_factory=list)  # sequence-to-sequence's decoder steps


def token_judge(pred: Tensor, tgt: Tensor) -> tuple[Tensor, Tensor]:
    """Per-position rightness (B, T) of greedy tokens against padded targets (EOS included),
    and exact match per row (B,): with EOS scored, a sequence that stops early or late is
    wrong."""
    valid = tgt != PAD_ID
    right = (pred[:, : tgt.shape[1]] == tgt) & valid
    return right, (right | ~valid).all(1)


def sequence_loss(logits: Tensor, tgt: Tensor) -> Tensor:
    """Mean cross-entropy over the target tokens; logits (B, T, V), tgt (B, T)."""
    return F.cross_entropy(logits.flatten(0, 1), tgt.flatten(), ignore_index=PAD_ID)


class Problem:
    """One topology's task. ``cfg`` is its own section of the configuration, ``shared`` the
    whole configuration (the cell), ``seed`` the seed of its data streams. Batches are tuples of
    batch-first tensors; the subclasses say what each holds."""

    key = topology = task = unit = ""
    shown_length = 1  # of the example drawn and tabled

    def __init__(self, cfg, shared, seed: int):
        self.cfg, self.shared, self.seed = cfg, shared, seed

    def batch(self, n: int, gen: torch.Generator, split: str) -> tuple[Tensor, ...]: ...
    def build(self) -> nn.Module: ...
    def loss(self, model, batch) -> Tensor: ...
    def predict(self, model, batch) -> Tensor: ...

    def judge(self, pred, batch) -> tuple[Tensor, int, int]:
        """(exact (B,) bool, units right, units scored)."""
        exact = pred == batch[-1]
        return exact, int(exact.sum()), len(exact)

    def targets(self, batch) -> list:
        """A hashable whole target per example (to find the best constant answer)."""
        return batch[-1].tolist()

    def inputs(self, batch) -> list:
        """A hashable whole input per example (to find test inputs seen in training)."""
        return batch[0].tolist()

    def show(self, batch, pred, i: int) -> Example:
        """Test example ``i`` with the model's prediction ``pred[i]``."""
        raise NotImplementedError

    def length(self, batch, i: int) -> int:
        return 1

    def example_index(self, batch) -> int:
        """The first test example of length ``shown_length`` (short enough to draw)."""
        for i in range(len(batch[0])):
            if self.length(batch, i) == self.shown_length:
                return i
        return 0


class OneToOne(Problem):
    key, topology, task, unit = "one_to_one", "one-to-one", "number → how many bits set", ""

    def __init__(self, cfg, shared, seed):
        super().__init__(cfg, shared, seed)
        self.train_numbers, self.test_numbers = data.split_numbers(
            cfg.bits, cfg.test_fraction, generator(seed, SPLIT)
        )

    def batch(self, n, gen, split):
        if split == "test":  # every held-out number once
            return data.bit_counts(self.test_numbers, self.cfg.bits)
        # Validation monitors held-out numbers too; nothing is selected on it (the test scores
        # the final weights).
        pool = self.train_numbers if split == "train" else self.test_numbers
        return data.bit_counts(data.draw(pool, n, gen), self.cfg.bits)

    def inputs(self, batch):
        return [tuple(row) for row in batch[0][:, 0].long().tolist()]

    def build(self):
        # One step of a tanh RNN from z_0 = 0: z = tanh(W x + b), o = V z (U sees only zeros).
        bits = self.cfg.bits
        return SequenceTagger("rnn", bits, self.cfg.hidden_size, bits + 1, "tanh", "auto")

    def loss(self, model, batch):
        x, y = batch
        return F.cross_entropy(model(x)[0][:, 0], y)  # (B, bits + 1) logits of the count

    def predict(self, model, batch):
        return model(batch[0])[0][:, 0].argmax(-1)

    def show(self, batch, pred, i):
        bits = "".join(str(int(b)) for b in batch[0][i, 0])
        spaced = " ".join(bits[k : k + 4] for k in range(0, len(bits), 4))
        out, want = str(int(pred[i])), str(int(batch[1][i]))
        return Example(spaced, want, out, [spaced], [out], [out == want])


class OneToMany(Problem):
    key, topology, task, unit = "one_to_many", "one-to-many", "digit → its name, spelled", "letters"

    def batch(self, n, gen, split):
        return data.digit_names(n, gen)

    def build(self):
        c = self.cfg
        return ClassToSequence(
            10, len(data.LETTERS), c.embedding_size, c.hidden_size, self.shared.cell
        )

    def loss(self, model, batch):
        digits, tgt = batch
        return sequence_loss(model(digits, data.teacher_inputs(tgt)), tgt)

    def predict(self, model, batch):
        return model.generate(batch[0], batch[1].shape[1])

    def judge(self, pred, batch):
        right, exact = token_judge(pred, batch[1])
        return exact, int(right.sum()), int((batch[1] != PAD_ID).sum())

    def targets(self, batch):
        return batch[0].tolist()

    def show(self, batch, pred, i):
        word = data.spell(pred[i])
        steps = data.LETTERS.decode(pred[i, : len(word) + 1])
        want = data.LETTERS.decode(t for t in batch[1][i] if t != PAD_ID)
        ok = [a == b for a, b in zip(steps, want, strict=False)]
        digit = str(int(batch[0][i]))
        return Example(digit, data.spell(batch[1][i]), word, ["<s>", *steps[:-1]], steps, ok, digit)


def _prefixes(x: Tensor, lengths: Tensor) -> list[tuple]:
    """Each row of x (B, T, ...) up to its length, as a tuple."""
    return [tuple(row[:n]) for row, n in zip(x.tolist(), lengths.tolist(), strict=True)]


class ManyToOne(Problem):
    key, topology, task, unit = "many_to_one", "many-to-one", "digits → their sum mod 10", ""
    shown_length = 5

    def inputs(self, batch):
        return _prefixes(batch[0], batch[1])

    def batch(self, n, gen, split):
        return data.digit_sums(n, self.cfg.min_length, self.cfg.max_length, gen)

    def build(self):
        c = self.cfg
        return SequenceClassifier(
            len(data.DIGITS), c.embedding_size, c.hidden_size, 10, self.shared.cell
        )

    def loss(self, model, batch):
        x, lengths, y = batch
        return F.cross_entropy(model(x, lengths), y)

    def predict(self, model, batch):
        return model(batch[0], batch[1]).argmax(-1)

    def length(self, batch, i):
        return int(batch[1][i])

    def show(self, batch, pred, i):
        digits = data.DIGITS.decode(batch[0][i, : int(batch[1][i])])
        out, want = str(int(pred[i])), str(int(batch[2][i]))
        outputs = [None] * (len(digits) - 1) + [out]  # read out at the last frame only
        return Example(" ".join(digits), want, out, digits, outputs, [out == want])


class Synced(Problem):
    key, topology, task, unit = "synced", "synced many-to-many", "bits → running parity", "frames"
    shown_length = 6

    def inputs(self, batch):
        return _prefixes(batch[0][..., 0].long(), batch[2].sum(1))

    def batch(self, n, gen, split):
        return data.running_parity(n, self.cfg.min_length, self.cfg.max_length, gen)

    def build(self):
        return SequenceTagger(self.shared.cell, 1, self.cfg.hidden_size, 1, backend="auto")

    def loss(self, model, batch):
        x, y, mask = batch
        return frame_loss("bce", model(x)[0], y, mask)

    def predict(self, model, batch):
        return (model(batch[0])[0] > 0).float()  # (B, T, 1): σ(o_t) > 1/2

    def judge(self, pred, batch):
        _, y, mask = batch
        right = (pred == y)[..., 0] & mask  # (B, T)
        return (right | ~mask).all(1), int(right.sum()), int(mask.sum())

    def targets(self, batch):
        return [tuple(row[m].tolist()) for row, m in zip(batch[1][..., 0], batch[2], strict=True)]

    def length(self, batch, i):
        return int(batch[2][i].sum())

    def show(self, batch, pred, i):
        n = self.length(batch, i)
        xs = [str(int(b)) for b in batch[0][i, :n, 0]]
        out = [str(int(b)) for b in pred[i, :n, 0]]
        want = [str(int(b)) for b in batch[1][i, :n, 0]]
        ok = [a == b for a, b in zip(out, want, strict=True)]
        return Example(" ".join(xs), " ".join(want), " ".join(out), xs, out, ok)


class Seq2Seq(Problem):
    key, topology, task, unit = "seq2seq", "sequence-to-sequence", "reverse digits", "tokens"
    shown_length = 4

    def inputs(self, batch):
        return _prefixes(batch[0], batch[1])

    def batch(self, n, gen, split):
        return data.reversals(n, self.cfg.min_length, self.cfg.max_length, gen)

    def build(self):
        c = self.cfg
        return EncoderDecoder(len(data.DIGITS), c.embedding_size, c.hidden_size, self.shared.cell)

    def loss(self, model, batch):
        src, lengths, tgt = batch
        return sequence_loss(model(src, lengths, data.teacher_inputs(tgt)), tgt)

    def predict(self, model, batch):
        return model.generate(batch[0], batch[1], batch[2].shape[1])

    def judge(self, pred, batch):
        right, exact = token_judge(pred, batch[2])
        return exact, int(right.sum()), int((batch[2] != PAD_ID).sum())

    def targets(self, batch):
        return [tuple(data.until_end(row)) for row in batch[2]]

    def length(self, batch, i):
        return int(batch[1][i])

    def show(self, batch, pred, i):
        n = int(batch[1][i])
        src = data.DIGITS.decode(batch[0][i, :n])
        got = data.DIGITS.decode(data.until_end(pred[i]))
        steps = data.DIGITS.decode(pred[i, : len(got) + 1])
        want = data.DIGITS.decode(batch[2][i, : n + 1])
        ok = [a == b for a, b in zip(steps, want, strict=False)]
        return Example(
            " ".join(src),
            " ".join(want[:-1]),
            " ".join(got),
            src,
            [None] * n + steps,
            ok,
            decoder_inputs=["<s>", *steps[:-1]],
        )


PROBLEMS = (OneToOne, OneToMany, ManyToOne, Synced, Seq2Seq)

"""What the translation experiments share: the ``models=`` setting, batches of token pairs, the
Trainer's task, and decoding a corpus with greedy or beam search. Every model is a
:class:`~seqlab.models.protocols.TranslationModel` from the table of translation models.

A pair is a source and a target as token-id lists (no BOS/EOS). A batch is padded with id 0::

    source   (B, S)   lengths (B,)
    previous (B, T)   [BOS, y_1 … y_{T-1}]   the decoder's inputs under teacher forcing
    target   (B, T)   [y_1 … y_{T-1}, EOS]   what it must predict; 0 (padding) is not scored
"""

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from ...config import check, parse_list
from ...decode import Hypothesis, beam_search, greedy
from ...models.protocols import TRANSLATION_MODELS, TranslationModel, translation_variant
from ...train import Context

Pairs = tuple[list[list[int]], list[list[int]]]  # (sources, targets)


@dataclass(frozen=True)
class DecodeConfig:
    """Beam search settings; a hypothesis may run to ``ceil(max_length_ratio × S) +
    max_length_extra`` tokens for a source of ``S`` tokens."""

    beam: int = 5
    length_penalty: float = 1.0  # score = log p / length ** this (0: raw log-probability)
    max_length_ratio: float = 0.0
    max_length_extra: int = 12
    batch_size: int = 128

    def __post_init__(self):
        check(self.beam >= 1, "decode.beam", self.beam, "an integer >= 1")
        check(self.length_penalty >= 0, "decode.length_penalty", self.length_penalty, ">= 0")
        check(self.max_length_ratio >= 0, "decode.max_length_ratio", self.max_length_ratio, ">= 0")
        check(self.max_length_extra >= 1, "decode.max_length_extra", self.max_length_extra, ">= 1")
        check(self.batch_size >= 1, "decode.batch_size", self.batch_size, "an integer >= 1")

    def max_length(self, source_length: int) -> int:
        return math.ceil(self.max_length_ratio * source_length) + self.max_length_extra


def model_kinds(cfg, field: str = "models") -> tuple[str, ...]:
    """The ``models`` setting of a translation configuration (``"additive,none"``): which
    models to train, each checked against the table and the configuration's sections."""
    kinds = parse_list(cfg.models, field, allowed=TRANSLATION_MODELS)
    for kind in kinds:
        translation_variant(kind, cfg)
    return kinds


def training_of(cfg, kind: str) -> tuple:
    """(TrainConfig, label smoothing) of the ``kind`` model: the run's ``train`` section, with
    the overrides its own section may make (``train_config``, ``label_smoothing``)."""
    section = getattr(cfg, translation_variant(kind, cfg).section)
    train = section.train_config(cfg.train) if hasattr(section, "train_config") else cfg.train
    return train, getattr(section, "label_smoothing", 0.0)


def build_model(cfg, kind: str, source_vocab: int, target_vocab: int) -> TranslationModel:
    """The ``kind`` model of the table, from its section of the configuration ``cfg``."""
    variant = translation_variant(kind, cfg)
    return variant.build(getattr(cfg, variant.section), source_vocab, target_vocab)


def collate(sources: list[list[int]], targets: list[list[int]], bos: int, eos: int):
    """Token-id lists -> (source, lengths, previous, target), padded with 0."""
    B = len(sources)
    S = max(len(s) for s in sources)
    T = max(len(t) for t in targets) + 1
    source = torch.zeros(B, S, dtype=torch.long)
    previous = torch.zeros(B, T, dtype=torch.long)
    target = torch.zeros(B, T, dtype=torch.long)
    for b, (src, tgt) in enumerate(zip(sources, targets, strict=True)):
        source[b, : len(src)] = torch.tensor(src)
        previous[b, : len(tgt) + 1] = torch.tensor([bos, *tgt])
        target[b, : len(tgt) + 1] = torch.tensor([*tgt, eos])
    lengths = torch.tensor([len(s) for s in sources])
    return source, lengths, previous, target


def token_losses(model, batch, label_smoothing: float = 0.0) -> tuple[Tensor, Tensor]:
    """Summed cross-entropy (nats) over the batch's target tokens, and (B, T) right/wrong.
    With ``label_smoothing`` ε the target distribution is (1 − ε) on the reference token plus
    ε spread evenly over the vocabulary (Szegedy et al. 2016; the Transformer paper's ε = 0.1)."""
    source, lengths, previous, target = batch
    logits, _ = model(source, lengths, previous)  # (B, T, V)
    loss = F.cross_entropy(logits.transpose(1, 2), target, ignore_index=0, reduction="sum",
                           label_smoothing=label_smoothing)  # fmt: skip
    return loss, (logits.argmax(-1) == target) & (target != 0)


class TranslationTask:
    """The Trainer's task: ``draw(step)`` gives the training pairs of a step (a pure function
    of the step); validation is teacher-forced loss (nats per target token, EOS included) and
    token accuracy over fixed ``valid`` pairs, and with ``exact`` the share of validation
    sources that greedy decoding translates exactly. ``label_smoothing`` applies to the
    training loss only (validation reports the plain cross-entropy)."""

    items = "pairs"

    def __init__(
        self, draw, valid: Pairs, bos: int, eos: int, batch_size: int = 256, exact: bool = False,
        label_smoothing: float = 0.0,
    ):  # fmt: skip
        self.draw, self.bos, self.eos, self.exact = draw, bos, eos, exact
        self.label_smoothing = label_smoothing
        sources, targets = valid
        self.valid = [
            (
                collate(sources[i : i + batch_size], targets[i : i + batch_size], bos, eos),
                targets[i : i + batch_size],
            )
            for i in range(0, len(sources), batch_size)
        ]

    def train_batch(self, step: int, ctx: Context):
        sources, targets = self.draw(step)
        mine = slice(ctx.rank, None, ctx.world)
        return collate(sources[mine], targets[mine], self.bos, self.eos)

    def train_step(self, model, batch, carry):
        loss, _ = token_losses(model, batch, self.label_smoothing)
        tokens = int((batch[3] != 0).sum())
        return loss / tokens, None, len(batch[0])

    @torch.no_grad()
    def evaluate(self, model, ctx: Context):
        total, right, tokens, exact, sentences = 0.0, 0, 0, 0, 0
        for batch, targets in self.valid[ctx.rank :: ctx.world]:
            batch = tuple(t.to(ctx.device) for t in batch)
            loss, correct = token_losses(model, batch)
            total += float(loss)
            right += int(correct.sum())
            tokens += int((batch[3] != 0).sum())
            if self.exact:
                state = model.encode(batch[0], batch[1])
                limit = batch[3].shape[1] + 1
                hyps = greedy(model.step, state, len(targets), self.bos, self.eos, limit)
                exact += sum(
                    h.tokens == t and h.finished for h, t in zip(hyps, targets, strict=True)
                )
                sentences += len(targets)
        metrics = {"loss": (total, tokens), "token_accuracy": (right, tokens)}
        if self.exact:
            metrics["exact"] = (exact, sentences)
        return metrics


@torch.no_grad()
def decode_corpus(
    model: TranslationModel,
    sources: list[list[int]],
    bos: int,
    eos: int,
    cfg: DecodeConfig,
    beam: int,
) -> list[Hypothesis]:
    """Translate every source (token-id lists) with greedy search (``beam == 1``) or beam
    search; batches hold sources of similar length. Returns hypotheses in input order, each
    alignment cut to its source's length."""
    model.eval()
    device = next(model.parameters()).device
    order = sorted(range(len(sources)), key=lambda i: len(sources[i]))
    found: list[Hypothesis | None] = [None] * len(sources)
    for start in range(0, len(order), cfg.batch_size):
        rows = order[start : start + cfg.batch_size]
        batch = [sources[i] for i in rows]
        source, lengths, _, _ = collate(batch, [[]] * len(batch), bos, eos)
        state = model.encode(source.to(device), lengths.to(device))
        max_len = cfg.max_length(int(lengths.max()))
        if beam == 1:
            hyps = greedy(model.step, state, len(rows), bos, eos, max_len)
        else:
            hyps = beam_search(
                model.step, state, len(rows), bos, eos, max_len, beam, cfg.length_penalty
            )
        for i, hyp in zip(rows, hyps, strict=True):
            if hyp.alignment is not None:
                hyp.alignment = hyp.alignment[:, : len(sources[i])]
            found[i] = hyp
    return found  # type: ignore[return-value]

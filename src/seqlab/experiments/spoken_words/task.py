"""Data, training task and measurements of ``spoken-words``.

Frame targets: every frame is scored with its utterance's class, except, in part (b), the
frames of a "one two" utterance before "two" begins: up to there it sounds exactly like the
start of a "one" utterance, and nothing in it can tell the two apart. The frame-wise decision of
the network is the class with the larger probability at that frame.
"""

import torch
import torch.nn.functional as F
from torch import Tensor

from ...data import spoken
from ...data.features import FeatureConfig, log_mel
from ...data.spoken import Placement, UtteranceSet
from ...data.synthetic import generator
from ...models.spoken import FrameClassifier
from ...train import Context


def frame_mask(data: UtteranceSet, prefix_unscored: bool) -> Tensor:
    """(B, T) bool: the scored frames (see the module); ``prefix_unscored`` for part (b)."""
    mask = torch.ones(data.x.shape[:2], dtype=torch.bool)
    if prefix_unscored:
        for b, spans in enumerate(data.spans):
            if len(spans) > 1:
                mask[b, : spans[1][0]] = False
    return mask


class SpokenTask:
    """Minibatches of ``batch_size`` utterances drawn by step from the training set; a
    validation set from the training voices (the held-out voices are only tested after)."""

    items = "utterances"

    def __init__(self, train: UtteranceSet, valid: UtteranceSet, prefix_unscored: bool,
                 batch_size: int, seed: int):  # fmt: skip
        self.train = (train.x, train.y, frame_mask(train, prefix_unscored))
        self.valid = (valid.x, valid.y, frame_mask(valid, prefix_unscored))
        self.batch_size, self.seed = min(batch_size, train.x.shape[0]), seed

    def train_batch(self, step: int, ctx: Context):
        x, y, mask = self.train
        rows = torch.randperm(x.shape[0], generator=generator(self.seed, step))[: self.batch_size]
        rows = rows[ctx.rank :: ctx.world]
        return x[rows].to(ctx.device), y[rows].to(ctx.device), mask[rows].to(ctx.device)

    def train_step(self, model, batch, carry):
        x, y, mask = batch
        return frame_loss(model(x), y, mask), None, x.shape[0]

    @torch.no_grad()
    def evaluate(self, model, ctx: Context) -> dict[str, tuple[float, float]]:
        x, y, mask = (t[ctx.rank :: ctx.world].to(ctx.device) for t in self.valid)
        logits = model(x)
        frames = int(mask.sum())
        right = FrameClassifier.pooled(logits).argmax(-1) == y
        return {
            "loss": (float(frame_loss(logits, y, mask)) * frames, frames),
            "accuracy": (float(right.sum()), y.shape[0]),
        }


def frame_loss(logits: Tensor, y: Tensor, mask: Tensor) -> Tensor:
    """Cross-entropy of every scored frame against its utterance's class, averaged."""
    target = y[:, None].expand(mask.shape)  # (B, T)
    per_frame = F.cross_entropy(logits.transpose(1, 2), target, reduction="none")  # (B, T)
    return per_frame[mask].mean()


def build_set(classes, per_class, voices, placement: Placement, features: FeatureConfig,
              seed: int) -> UtteranceSet:  # fmt: skip
    return spoken.featurize(
        spoken.synthetic_set(classes, per_class, voices, placement, seed), features
    )


@torch.no_grad()
def measure(model: FrameClassifier, data: UtteranceSet, part: str) -> dict:
    """Accuracy of the pooled decision, and where the frame-wise decision is made.

    Part (a): for each utterance classified right, the first frame from which every frame's
    decision is the final class (the word's first frame if it holds from before the word),
    minus the word's last frame (in frames; < 0: decided before the word, its one syllable,
    ends). Part (b): the share of "one two" utterances whose
    decision is "one" at every frame from the onset of "one" to the frame before "two" begins
    and "one two" at every frame from some frame at or after that onset to the end (the flip);
    the share of "one" utterances decided "one" at every frame from the onset of the word on.
    """
    logits = model(data.x)
    pooled = FrameClassifier.pooled(logits).argmax(-1)
    decision = logits.argmax(-1)  # (B, T)
    out = {"accuracy": float((pooled == data.y).float().mean()), "n": int(data.y.shape[0])}
    if part == "a":
        offsets = []
        for b, spans in enumerate(data.spans):
            if pooled[b] != data.y[b]:
                continue
            onset, end = spans[0]
            wrong = (decision[b] != pooled[b]).nonzero().flatten()
            decided = max(int(wrong[-1]) + 1 if wrong.numel() else 0, onset)
            offsets.append(decided - (end - 1))
        out["decision_offsets"] = offsets
        return out
    flips, delays, steady, twos, ones = 0, [], 0, 0, 0
    for b, spans in enumerate(data.spans):
        start = spans[0][0]
        if len(spans) > 1:
            twos += 1
            onset = spans[1][0]
            after = decision[b, onset:] == 1
            before_ok = bool((decision[b, start:onset] == 0).all())
            stays_from = int((~after).nonzero().max()) + 1 if (~after).any() else 0
            if before_ok and stays_from < after.shape[0]:
                flips += 1
                delays.append(stays_from)
        else:
            ones += 1
            steady += bool((decision[b, start:] == 0).all())
    out.update(flip_share=flips / max(twos, 1), flip_delays=delays,
               never_flip_share=steady / max(ones, 1))  # fmt: skip
    return out


def examples(model: FrameClassifier, data: UtteranceSet, rows: list[int], features: FeatureConfig,
             titles: list[str]) -> list[dict]:  # fmt: skip
    """What :func:`seqlab.viz.speech.decision_figure` draws for utterances ``rows``."""
    with torch.no_grad():
        prob = model(data.x[rows]).softmax(-1)[..., 1]  # (B, T)
    return [
        {
            "log_mel": log_mel(data.utterances[r].samples, features).numpy(),
            "prob": prob[k].tolist(),
            "spans": data.spans[r],
            "words": data.utterances[r].words,
            "title": titles[k],
        }
        for k, r in enumerate(rows)
    ]

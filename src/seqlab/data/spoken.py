"""Sets of spoken-word utterances for classification, as MFCC frames with word boundaries.

Each utterance: ``lead`` seconds of silence (random), the words of its class spoken by one voice
with one random speed and pitch, a random gap between words, silence up to a fixed length (so
that a class's length never gives it away; a slow voice's lead and gaps shrink to fit), scaled
to a random peak, plus white noise 30-50 dB below the speech (a noise floor like a recording's;
pure zeros would make log(0)). A class is a tuple of words: ``("one",)`` and ``("two",)`` for
part (a), ``("one",)`` and ``("one", "two")`` for part (b).

The same placement is applied to the human recordings (asterisk's digits), whose voice no
training set holds.
"""

import random
from dataclasses import dataclass

import torch
from torch import Tensor

from ..errors import DataError
from . import speech
from .features import FeatureConfig, mfcc
from .speech import RATE, Utterance, Voice


@dataclass(frozen=True)
class Placement:
    """Where words go in an utterance, in seconds: lead silence and gaps drawn uniformly."""

    length_s: float = 1.0
    lead_s: tuple[float, float] = (0.05, 0.25)
    gap_s: tuple[float, float] = (0.05, 0.25)
    snr_db: tuple[float, float] = (30.0, 50.0)
    peak: tuple[float, float] = (0.3, 0.9)


@dataclass
class UtteranceSet:
    """Utterances of several classes as MFCC frames.

    ``x`` (B, T, n_ceps) features; ``y`` (B,) class index; ``spans`` per utterance, each word's
    ``(first frame, end frame)`` in frames; ``utterances`` the audio and where it came from.
    """

    x: Tensor
    y: Tensor
    spans: list[tuple[tuple[int, int], ...]]
    utterances: list[Utterance]


def place(words: list[tuple[str, Tensor]], placement: Placement, rng: random.Random,
          source: str) -> Utterance:  # fmt: skip
    """The words at random lead and gaps, padded to the placement's length, with noise."""
    lead = rng.uniform(*placement.lead_s) * RATE
    gaps = [rng.uniform(*placement.gap_s) * RATE for _ in words[1:]]
    room = placement.length_s * RATE - sum(w.shape[0] for _, w in words)
    if room < 0:
        raise DataError(
            f"{source}: the words {' '.join(w for w, _ in words)} last longer than the "
            f"utterance ({placement.length_s} s); raise the placement's length_s"
        )
    shrink = min(1.0, room / (lead + sum(gaps)))  # a slow voice gets shorter silences
    lead, gaps = round(lead * shrink), [int(g * shrink) for g in gaps]
    u = speech.join(words, gaps, lead, round(placement.length_s * RATE), source,
                    rng.uniform(*placement.peak))  # fmt: skip
    speech_rms = torch.cat([u.samples[a:b] for a, b in u.spans]).pow(2).mean().sqrt()
    noise_rms = speech_rms * 10 ** (-rng.uniform(*placement.snr_db) / 20)
    gen = torch.Generator().manual_seed(rng.getrandbits(62))
    noise = torch.randn(u.samples.shape[0], generator=gen) * noise_rms
    return Utterance(u.samples + noise, u.words, u.spans, u.source)


def synthetic_set(classes: list[tuple[str, ...]], per_class: int, voices: list[Voice],
                  placement: Placement, seed: int) -> list[tuple[Utterance, int]]:  # fmt: skip
    """``per_class`` utterances of each class, each from a voice and prosody drawn by ``seed``
    (voices in turn from a shuffled list, so a small set still has many voices)."""
    rng = random.Random(seed)
    order = list(voices)
    rng.shuffle(order)
    out = []
    for i in range(per_class):
        for label, words in enumerate(classes):
            voice = order[(i * len(classes) + label) % len(order)]
            prosody = speech.random_prosody(rng)
            audio = [(w, speech.synthesize(w, voice, prosody)) for w in words]
            source = f"{voice} speed {prosody.speed:.3g} pitch {prosody.pitch:.3g}"
            out.append((place(audio, placement, rng, source), label))
    return out


def human_set(classes: list[tuple[str, ...]], placements: int, placement: Placement,
              seed: int) -> list[tuple[Utterance, int]]:  # fmt: skip
    """The human recordings of each class's words, each at ``placements`` random placements
    (the same recordings every time: one speaker, one take of each word)."""
    rng = random.Random(seed)
    recordings = {w: speech.human_word(w) for words in classes for w in words}
    return [
        (place([(w, recordings[w]) for w in words], placement, rng, "human: asterisk Allison"),
         label)
        for _ in range(placements)
        for label, words in enumerate(classes)
    ]  # fmt: skip


def featurize(items: list[tuple[Utterance, int]], cfg: FeatureConfig) -> UtteranceSet:
    """MFCC frames of every utterance (all of one length) and their word spans in frames: a
    word from sample a to b covers frames ⌈(a − win + 1)/step⌉ .. ⌈b/step⌉ − 1, the frames
    whose window holds any of its samples."""
    x = torch.stack([mfcc(u.samples, cfg) for u, _ in items])  # (B, T, n_ceps)
    y = torch.tensor([label for _, label in items])
    spans = [
        tuple((max(0, -(-(a - cfg.win + 1) // cfg.step)), -(-b // cfg.step)) for a, b in u.spans)
        for u, _ in items
    ]
    return UtteranceSet(x, y, spans, [u for u, _ in items])

"""Mixtures of a human voice and music with their ground truth, for source separation.

- **Voice**: asterisk's prompts (``asterisk-core-sounds-en-wav``): one female speaker, 568
  sentences, words and letters at 8 kHz. Each prompt's leading and trailing silence is cut and
  the prompts are joined with 0.1 s pauses into one stream per split. A prompt is held out
  (``"test"``) when the first byte of the SHA-1 of its path (relative to the voice folder) is
  below 52 (about 20%); the rest is ``"train"``. Held-out mixtures thus hold sentences no
  training mixture holds, of the same speaker.
- **Music**: asterisk's music on hold (``asterisk-moh-opsound-wav``), five tracks at 8 kHz: the
  first 80% of every track is ``"train"``, the last 20% ``"test"``.

A mixture of ``seconds`` takes a random window of each stream, scales the voice to a random
voice-to-music ratio (dB) and adds them: ``mixture = voice + music``, so the voice is a fixed
target (no permutation-invariant training is needed: the two sources are of different kinds).
"""

import functools
import hashlib
import math

import torch
from torch import Tensor

from ..errors import DataError
from . import speech
from .audio import read_wav
from .speech import RATE

SPLITS = ("train", "test")
MUSIC_TRAIN_SHARE = 0.8
PAUSE_S = 0.1


def _check_split(split: str) -> str:
    if split not in SPLITS:
        raise DataError(f"split={split!r}: expected one of {', '.join(SPLITS)}")
    return split


def prompt_split(relative: str) -> str:
    """ "test" for about 20% of the prompts (by the SHA-1 of their relative path), else "train"."""
    return "test" if hashlib.sha1(relative.encode()).digest()[0] < 52 else "train"


@functools.lru_cache(maxsize=2)
def voice_stream(split: str) -> Tensor:
    """The split's prompts, silence trimmed, joined with 0.1 s pauses: (N,) at 8 kHz."""
    _check_split(split)
    files = sorted(p for p in speech.HUMAN.rglob("*.wav") if p.parent.name != "silence")
    if not files:
        raise DataError(f"no recordings in {speech.HUMAN}; run `{speech.INSTALL}`")
    pause = torch.zeros(round(PAUSE_S * RATE))
    pieces = []
    for path in files:
        if prompt_split(path.relative_to(speech.HUMAN).as_posix()) == split:
            try:
                pieces += [speech.trim(read_wav(path, RATE)[0]), pause]
            except DataError:
                continue  # a prompt of silence only
    return torch.cat(pieces)


@functools.lru_cache(maxsize=2)
def music_stream(split: str) -> Tensor:
    """The split's share of every music track, joined: (N,) at 8 kHz."""
    _check_split(split)
    pieces = []
    for path in speech.music_tracks():
        track = read_wav(path, RATE)[0]
        cut = int(MUSIC_TRAIN_SHARE * track.shape[0])
        pieces.append(track[:cut] if split == "train" else track[cut:])
    return torch.cat(pieces)


def _windows(stream: Tensor, n: int, length: int, gen: torch.Generator) -> Tensor:
    starts = torch.randint(0, stream.shape[0] - length, (n,), generator=gen)
    return torch.stack([stream[s : s + length] for s in starts.tolist()])  # (n, length)


def mixtures(
    n: int, seconds: float, split: str, gen: torch.Generator, ratio_db=(-5.0, 5.0)
) -> tuple[Tensor, Tensor, Tensor]:
    """``n`` mixtures of ``seconds``: (mixture, voice, music), each (n, N), with
    ``mixture = voice + music`` and the voice-to-music power ratio drawn uniformly in
    ``ratio_db``; windows whose voice is almost silent (RMS below 0.01) are drawn again."""
    length = round(seconds * RATE)
    voice_all, music_all = voice_stream(split), music_stream(split)
    voice = _windows(voice_all, n, length, gen)
    for _ in range(20):  # a window of pause only has no voice to separate
        quiet = voice.pow(2).mean(1).sqrt() < 0.01
        if not quiet.any():
            break
        voice[quiet] = _windows(voice_all, int(quiet.sum()), length, gen)
    music = _windows(music_all, n, length, gen)
    ratio = torch.empty(n, 1).uniform_(*ratio_db, generator=gen)
    power = voice.pow(2).mean(1, keepdim=True) / music.pow(2).mean(1, keepdim=True).clamp_min(1e-10)
    music = music * torch.sqrt(power / 10 ** (ratio / 10))
    peak = (voice + music).abs().amax(1, keepdim=True).clamp_min(1e-9)
    scale = 0.9 / peak  # the mixture peaks at 0.9
    return (voice + music) * scale, voice * scale, music * scale


def si_sdr(estimate: Tensor, reference: Tensor) -> Tensor:
    """Scale-invariant signal-to-distortion ratio in dB, per row of (..., N):

        s_t = (⟨ŝ, s⟩ / ‖s‖²) s,   e = ŝ − s_t,   SI-SDR = 10 log10(‖s_t‖² / ‖e‖²)

    (Le Roux et al. 2019; both signals made zero-mean first)."""
    estimate = estimate - estimate.mean(-1, keepdim=True)
    reference = reference - reference.mean(-1, keepdim=True)
    scale = (estimate * reference).sum(-1, keepdim=True) / reference.pow(2).sum(-1, keepdim=True)
    target = scale * reference
    error = estimate - target
    tiny = torch.finfo(estimate.dtype).tiny
    return 10 * torch.log10(
        target.pow(2).sum(-1).clamp_min(tiny) / error.pow(2).sum(-1).clamp_min(tiny)
    )


def rms_db(x: Tensor) -> float:
    """The RMS of samples in dB full scale (for checking audio by its numbers)."""
    return 20 * math.log10(max(float(x.pow(2).mean().sqrt()), 1e-12))

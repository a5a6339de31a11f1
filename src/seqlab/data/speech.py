"""Spoken words from Debian's speech synthesizers, one real human voice, and music.

- **Synthetic voices**: ``espeak-ng`` (8 English accents × 12 voice variants, ``-s`` words per
  minute, ``-p`` pitch 0-99) and ``flite`` (5 voices; ``duration_stretch`` and
  ``f0_shift``). Each word is synthesized alone, its leading and trailing silence cut
  (frames of 10 ms below 1% of the word's peak RMS), resampled to :data:`RATE` and cached as a
  WAV file under :func:`speech_cache` (written once; later runs read it back). An utterance is
  its words joined with silent gaps, so the sample where every word starts and ends is known.
- **A real human voice**: asterisk's prompts (``asterisk-core-sounds-en-wav``), one female
  speaker at 8 kHz; ``digits/1.wav`` says "one" and ``digits/2.wav`` "two".
- **Music**: asterisk's music on hold (``asterisk-moh-opsound-wav``), five tracks at 8 kHz.

A missing tool or package is a :class:`~seqlab.errors.DataError` with the ``apt-get`` line.
"""

import hashlib
import os
import random
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor

from ..errors import DataError
from .audio import read_wav, write_wav
from .bible import cache_dir

RATE = 8000  # Hz: the human recordings' and the music's rate; the synthesized words are resampled
INSTALL = (
    "sudo apt-get install --no-install-recommends espeak-ng flite asterisk-core-sounds-en-wav "
    "asterisk-moh-opsound-wav"
)
HUMAN = Path("/usr/share/asterisk/sounds/en_US_f_Allison")
MUSIC = Path("/usr/share/asterisk/moh")
HUMAN_DIGITS = {"one": "digits/1.wav", "two": "digits/2.wav", "three": "digits/3.wav"}

ESPEAK_ACCENTS = ("en-us", "en-gb", "en-gb-scotland", "en-gb-x-rp", "en-029", "en-gb-x-gbclan",
                  "en-gb-x-gbcwmd", "en-us-nyc")  # fmt: skip
ESPEAK_VARIANTS = ("m1", "m2", "m3", "m4", "m5", "m6", "m7", "f1", "f2", "f3", "f4", "f5")
FLITE_VOICES = ("kal", "kal16", "awb", "rms", "slt")


@dataclass(frozen=True)
class Voice:
    """A synthetic voice: ``engine`` "espeak-ng" (``name`` like "en-gb+f3") or "flite"."""

    engine: str
    name: str

    def __str__(self) -> str:
        return f"{self.engine}:{self.name}"


def all_voices() -> list[Voice]:
    """Every voice: 96 espeak-ng accent+variant pairs, then the 5 flite voices."""
    voices = [Voice("espeak-ng", f"{a}+{v}") for a in ESPEAK_ACCENTS for v in ESPEAK_VARIANTS]
    return voices + [Voice("flite", v) for v in FLITE_VOICES]


def split_voices(test_share: float = 0.25, seed: int = 0) -> tuple[list[Voice], list[Voice]]:
    """(training voices, held-out voices): a seeded share of the espeak-ng voices and the flite
    voices each, so that both engines are in both sets and no voice is in both."""
    rng = random.Random(seed)
    train, test = [], []
    for engine in ("espeak-ng", "flite"):
        voices = [v for v in all_voices() if v.engine == engine]
        rng.shuffle(voices)
        cut = max(1, round(test_share * len(voices)))
        test += voices[:cut]
        train += voices[cut:]
    return train, test


@dataclass(frozen=True)
class Prosody:
    """How a word is spoken: speed 1 is the engine's normal rate, pitch 1 its normal pitch."""

    speed: float = 1.0
    pitch: float = 1.0


def speech_cache() -> Path:
    """Where synthesized words are kept: ``<seqlab cache>/speech``."""
    return cache_dir() / "speech"


def check_tools(engines=("espeak-ng", "flite")) -> None:
    """A DataError with the install line unless every engine is on the PATH."""
    missing = [e for e in engines if shutil.which(e) is None]
    if missing:
        raise DataError(f"{' and '.join(missing)} not installed; run `{INSTALL}`")


def synthesize(word: str, voice: Voice, prosody: Prosody = Prosody()) -> Tensor:
    """``word`` spoken by ``voice``: float32 samples at :data:`RATE`, silence trimmed; cached."""
    key = f"{voice}|{word}|{prosody.speed:.3f}|{prosody.pitch:.3f}|{RATE}"
    path = speech_cache() / f"{hashlib.sha1(key.encode()).hexdigest()[:20]}.wav"
    if path.exists():
        try:
            return read_wav(path, RATE)[0]
        except DataError:
            path.unlink(missing_ok=True)  # a damaged cache entry is made again
    check_tools((voice.engine,))
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        raw = Path(tmp) / "word.wav"
        _run(_command(voice, prosody, word, raw))
        samples, _ = read_wav(raw, RATE)
    samples = trim(samples)
    fd, tmp_name = tempfile.mkstemp(dir=path.parent, suffix=".wav.tmp")
    os.close(fd)
    write_wav(tmp_name, samples, RATE)
    os.replace(tmp_name, path)  # atomic: a killed run leaves no half-written entry
    return read_wav(path, RATE)[0]  # as later runs will read it (16-bit rounding)


def _command(voice: Voice, prosody: Prosody, word: str, out: Path) -> list[str]:
    if voice.engine == "espeak-ng":
        wpm, pitch = round(160 * prosody.speed), round(min(99, 50 * prosody.pitch))
        return ["espeak-ng", "-v", voice.name, "-s", str(wpm), "-p", str(pitch), "-w", str(out),
                word]  # fmt: skip
    if voice.engine == "flite":
        stretch = 1 / prosody.speed
        return ["flite", "-voice", voice.name, "--setf", f"duration_stretch={stretch:.3f}",
                "--setf", f"f0_shift={prosody.pitch:.3f}", "-t", word, "-o", str(out)]  # fmt: skip
    raise DataError(f"unknown speech engine {voice.engine!r}; expected espeak-ng or flite")


def _run(command: list[str]) -> None:
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=60)
    except FileNotFoundError:
        raise DataError(f"{command[0]} not installed; run `{INSTALL}`") from None
    except subprocess.TimeoutExpired:
        raise DataError(f"{command[0]} did not finish in 60 s: {' '.join(command)}") from None
    if done.returncode != 0:
        error = (done.stderr.strip().splitlines() or ["no message"])[-1]
        raise DataError(f"{' '.join(command)} failed ({error}); check the voice name")


def trim(samples: Tensor, frame: int = RATE // 100, threshold: float = 0.01) -> Tensor:
    """``samples`` without the leading and trailing 10 ms frames whose RMS is below
    ``threshold`` of the loudest frame's; a file of silence only is a DataError."""
    n = samples.shape[0] // frame
    rms = samples[: n * frame].view(n, frame).pow(2).mean(1).sqrt()
    loud = (rms >= threshold * rms.max()).nonzero().flatten() if n else rms.new_zeros(0)
    if loud.numel() == 0 or rms.max() == 0:
        raise DataError("the synthesized audio is silent; check the voice and the text")
    return samples[loud[0] * frame : (loud[-1] + 1) * frame].clone()


def human_word(word: str) -> Tensor:
    """The asterisk speaker's recording of ``word`` ("one", "two", "three"), silence trimmed."""
    if word not in HUMAN_DIGITS:
        raise DataError(f"no human recording of {word!r}; have: {', '.join(HUMAN_DIGITS)}")
    path = HUMAN / HUMAN_DIGITS[word]
    if not path.exists():
        raise DataError(f"{path} is missing; run `{INSTALL}`")
    return trim(read_wav(path, RATE)[0])


def music_tracks() -> list[Path]:
    """The music-on-hold WAV files, sorted by name."""
    tracks = sorted(MUSIC.glob("*.wav")) if MUSIC.is_dir() else []
    if not tracks:
        raise DataError(f"no music in {MUSIC}; run `{INSTALL}`")
    return tracks


@dataclass(frozen=True)
class Utterance:
    """Words joined with silence: ``samples`` (N,) at :data:`RATE` and each word's
    ``(start, end)`` sample."""

    samples: Tensor
    words: tuple[str, ...]
    spans: tuple[tuple[int, int], ...]
    source: str  # the voice (or "human") and prosody, for the report


def join(words: list[tuple[str, Tensor]], gaps: list[int], lead: int, length: int,
         source: str, gain: float = 1.0) -> Utterance:  # fmt: skip
    """Words placed after ``lead`` silent samples with ``gaps`` between them, then silence up to
    ``length`` samples in all (at least the words' own length), scaled to peak ``gain``."""
    pieces, spans, at = [torch.zeros(lead)], [], lead
    for i, (_, samples) in enumerate(words):
        if i:
            pieces.append(torch.zeros(gaps[i - 1]))
            at += gaps[i - 1]
        pieces.append(samples)
        spans.append((at, at + samples.shape[0]))
        at += samples.shape[0]
    pieces.append(torch.zeros(max(0, length - at)))
    audio = torch.cat(pieces)
    audio = audio * (gain / audio.abs().max().clamp_min(1e-9))
    return Utterance(audio, tuple(w for w, _ in words), tuple(spans), source)


def random_prosody(rng: random.Random, spread: float = 0.25) -> Prosody:
    """Speed and pitch drawn from 9-step grids of ±``spread`` around 1 (a grid, so that the
    cache of synthesized words is reused across runs)."""
    grid = [1 + spread * (i - 4) / 4 for i in range(9)]
    return Prosody(rng.choice(grid), rng.choice(grid))

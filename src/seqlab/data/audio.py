"""WAV files in and out with the standard library's :mod:`wave`, and resampling in torch.

torchaudio from PyPI does not load beside the CPU build of torch, so audio is read here:

- :func:`read_wav` takes uncompressed PCM WAV of 8, 16, 24 or 32 bits (8-bit is unsigned, the
  others signed little-endian, as the format defines them), any number of channels and any rate;
  it returns mono float32 samples in [-1, 1) at the rate asked for. **Conversions**: several
  channels are averaged into one (mono); 8-bit and 24-bit samples are scaled to [-1, 1) like the
  16-bit ones; any other rate (96 kHz, 22,050 Hz, ...) is resampled with :func:`resample`.
- Refused with a one-line :class:`~seqlab.errors.DataError`: a file that is not a RIFF/WAVE
  file, a compressed or float WAV (``wave`` reads PCM only), a damaged header, a file whose data
  ends early (fewer bytes than its header announces), and a file with 0 frames.
- :func:`write_wav` writes 16-bit mono PCM, clipping to [-1, 1).

Resampling is band-limited (windowed-sinc) interpolation by the rational ratio ``new/orig``
after dividing both rates by their greatest common divisor: output sample ``n`` sits at input
time ``n·orig/new`` and is ``Σ_k x[k]·h(n·orig/new − k)``, with ``h`` a Hann-windowed sinc whose
cut-off is 0.99 of the lower Nyquist frequency, so down-sampling removes what would alias.
The ``new`` distinct filter phases are one ``conv1d`` with stride ``orig``.
"""

import math
import wave
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor

from ..errors import DataError

SAMPLE_WIDTHS = (1, 2, 3, 4)  # bytes per sample: 8, 16, 24, 32-bit PCM
MAX_RATE = 384_000


def read_wav(path: str | Path, rate: int | None = None) -> tuple[Tensor, int]:
    """The samples of a PCM WAV file as mono float32 in [-1, 1): ``(samples (N,), rate)``.

    Several channels are averaged; with ``rate`` the audio is resampled to it (else the file's
    own rate is returned). A DataError names the file and the fault otherwise (see the module).
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no such audio file; give the path of a .wav file")
    with open(path, "rb") as f:
        head = f.read(12)
    if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
        raise DataError(
            f"{path}: not a WAV file (no RIFF/WAVE header); convert it to PCM WAV, e.g. "
            f"`ffmpeg -i {path.name} out.wav` or `sox {path.name} out.wav`"
        )
    try:
        with wave.open(str(path), "rb") as w:
            channels, width, file_rate = w.getnchannels(), w.getsampwidth(), w.getframerate()
            frames = w.getnframes()
            data = w.readframes(frames)
    except (wave.Error, EOFError, OSError) as err:
        raise DataError(
            f"{path}: unreadable WAV ({err}); only uncompressed PCM WAV is read — convert it "
            "to 16-bit PCM, e.g. `sox in.wav -b 16 -e signed-integer out.wav`"
        ) from None
    if width not in SAMPLE_WIDTHS or channels < 1 or not 0 < file_rate <= MAX_RATE:
        raise DataError(
            f"{path}: unsupported WAV ({channels} channels, {8 * width}-bit, {file_rate} Hz); "
            "expected 8/16/24/32-bit PCM at up to 384 kHz"
        )
    if frames == 0:
        raise DataError(f"{path}: the WAV file holds 0 frames (no audio); record or pick another")
    if len(data) < frames * channels * width:
        raise DataError(
            f"{path}: the WAV file is cut short ({len(data)} of {frames * channels * width} "
            "data bytes); the file is damaged, record or copy it again"
        )
    samples = _decode(data, width).view(frames, channels).mean(1)  # (N,): mono by averaging
    if rate is not None and rate != file_rate:
        samples = resample(samples, file_rate, rate)
    return samples, rate or file_rate


def _decode(data: bytes, width: int) -> Tensor:
    """Little-endian PCM bytes -> float32 in [-1, 1): 8-bit unsigned, 16/24/32-bit signed."""
    raw = torch.frombuffer(bytearray(data), dtype=torch.uint8)
    if width == 1:
        return (raw.float() - 128.0) / 128.0
    if width == 2:
        return raw.view(torch.int16).float() / 2.0**15
    if width == 4:
        return raw.view(torch.int32).double().div(2.0**31).float()
    b = raw.view(-1, 3).long()  # 24-bit: three bytes, the last one carries the sign
    value = b[:, 0] | (b[:, 1] << 8) | (b[:, 2] << 16)
    value = torch.where(value >= 2**23, value - 2**24, value)
    return value.float() / 2.0**23


def write_wav(path: str | Path, samples: Tensor, rate: int) -> Path:
    """Write mono ``samples`` (N,) in [-1, 1) as a 16-bit PCM WAV file (values outside are
    clipped); returns the path."""
    path = Path(path)
    if samples.dim() != 1 or samples.numel() == 0:
        raise DataError(f"write_wav: expected a non-empty 1-D tensor, got {tuple(samples.shape)}")
    pcm = (samples.detach().double().cpu() * 2.0**15).round().clamp(-(2**15), 2**15 - 1)
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(int(rate))
        w.writeframes(pcm.to(torch.int16).numpy().tobytes())
    return path


def resample(x: Tensor, orig: int, new: int, zeros: int = 16) -> Tensor:
    """``x`` (..., N) sampled at ``orig`` Hz, resampled to ``new`` Hz (..., ⌈N·new/orig⌉).

    Windowed-sinc interpolation with ``zeros`` zero crossings of the sinc on each side (see the
    module); float32 or float64 in, the same dtype out.
    """
    if orig <= 0 or new <= 0:
        raise DataError(f"resample: rates must be positive, got {orig} -> {new}")
    if orig == new:
        return x
    g = math.gcd(orig, new)
    orig, new = orig // g, new // g
    kernel, width = _sinc_kernel(orig, new, zeros, x.dtype)  # (new, 1, 2·width + orig)
    shape = x.shape
    flat = x.reshape(-1, 1, shape[-1])  # (B, 1, N)
    flat = F.pad(flat, (width, width + orig))
    out = F.conv1d(flat, kernel, stride=orig)  # (B, new, frames): phase j of output frame
    out = out.transpose(1, 2).reshape(flat.shape[0], -1)  # (B, frames·new) in time order
    length = math.ceil(shape[-1] * new / orig)
    return out[:, :length].reshape(*shape[:-1], length)


def _sinc_kernel(orig: int, new: int, zeros: int, dtype) -> tuple[Tensor, int]:
    """The ``new`` filter phases: phase j computes output sample ``frame·new + j``, at input
    time ``frame·orig + j·orig/new``, from inputs ``frame·orig − width`` onwards."""
    cutoff = 0.99 * min(orig, new)  # in cycles per (orig·new) units: the lower Nyquist, less 1%
    width = math.ceil(zeros * orig / cutoff)
    k = torch.arange(-width, width + orig, dtype=torch.float64)  # input offsets
    phase = torch.arange(new, dtype=torch.float64)[:, None] * orig / new  # (new, 1)
    t = (k[None, :] - phase) * cutoff / orig  # distance in units of the cut-off period
    t = t.clamp(-zeros, zeros)
    window = torch.cos(t * math.pi / zeros / 2) ** 2  # Hann over ±zeros crossings
    h = torch.special.sinc(t) * window * cutoff / orig
    return h[:, None, :].to(dtype), width

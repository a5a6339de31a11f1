"""WAV in and out with the standard library, and the windowed-sinc resampler."""

import math
import wave

import pytest
import torch

from seqlab.data.audio import read_wav, resample, write_wav
from seqlab.errors import DataError


def write_pcm(path, frames: bytes, width: int, channels: int = 1, rate: int = 8000):
    with wave.open(str(path), "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(width)
        w.setframerate(rate)
        w.writeframes(frames)
    return path


def tone(freq: float, rate: int, seconds: float = 1.0) -> torch.Tensor:
    t = torch.arange(round(rate * seconds), dtype=torch.float64) / rate
    return torch.sin(2 * math.pi * freq * t)


def test_a_written_file_reads_back_to_16_bit_rounding(tmp_path):
    x = 0.8 * tone(440, 8000).float()
    write_wav(tmp_path / "a.wav", x, 8000)
    y, rate = read_wav(tmp_path / "a.wav")
    assert rate == 8000 and y.dtype == torch.float32 and y.shape == x.shape
    assert (y - x).abs().max() <= 0.5 / 2**15 + 1e-7


@pytest.mark.parametrize(
    ("width", "frames", "expected"),
    [
        (1, bytes([0, 128, 255]), [-1.0, 0.0, 127 / 128]),  # 8-bit is unsigned, 128 is zero
        (2, (-32768).to_bytes(2, "little", signed=True) + (16384).to_bytes(2, "little"),
         [-1.0, 0.5]),
        (3, (-(2**23)).to_bytes(3, "little", signed=True) + (2**22).to_bytes(3, "little")
         + (-1).to_bytes(3, "little", signed=True), [-1.0, 0.5, -(2.0**-23)]),
        (4, (2**30).to_bytes(4, "little", signed=True) + (-(2**31)).to_bytes(4, "little",
         signed=True), [0.5, -1.0]),
    ],
)  # fmt: skip
def test_every_pcm_width_is_scaled_to_minus_one_one(tmp_path, width, frames, expected):
    y, _ = read_wav(write_pcm(tmp_path / "w.wav", frames, width))
    assert y.tolist() == pytest.approx(expected, abs=1e-7)


def test_stereo_is_averaged_to_mono(tmp_path):
    left, right = (8192).to_bytes(2, "little"), (-16384).to_bytes(2, "little", signed=True)
    y, _ = read_wav(write_pcm(tmp_path / "s.wav", (left + right) * 3, 2, channels=2))
    assert y.tolist() == pytest.approx([(0.25 - 0.5) / 2] * 3)


def test_96_khz_is_resampled_keeping_the_tone(tmp_path):
    write_wav(tmp_path / "hi.wav", 0.5 * tone(1000, 96000).float(), 96000)
    y, rate = read_wav(tmp_path / "hi.wav", 8000)
    assert rate == 8000 and y.shape == (8000,)
    expected = 0.5 * tone(1000, 8000)
    assert (y.double() - expected)[100:-100].abs().max() < 2e-3


def test_resampling_keeps_what_fits_and_removes_what_would_alias():
    for orig, new in [(22050, 8000), (16000, 8000), (8000, 16000), (8000, 11025)]:
        y = resample(tone(440, orig), orig, new)
        assert y.shape == (math.ceil(orig * 1.0 * new / orig),)
        assert (y - tone(440, new))[200:-200].abs().max() < 1e-3, (orig, new)
    aliased = resample(tone(6000, 22050), 22050, 8000)  # above the new Nyquist (4 kHz)
    assert aliased[200:-200].abs().max() < 5e-3
    batch = torch.stack([tone(440, 16000), tone(880, 16000)])  # (..., N) works per row
    assert torch.allclose(resample(batch, 16000, 8000)[1], resample(batch[1], 16000, 8000))


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"ID3\x04 this is an mp3", "not a WAV file"),
        (b"", "not a WAV file"),
        (b"RIFF\x24\x00\x00\x00WAVEfmt \x10\x00\x00\x00\x03\x00", "unreadable WAV"),
    ],
)
def test_non_wav_and_corrupt_files_are_one_line_errors(tmp_path, content, message):
    path = tmp_path / "bad.wav"
    path.write_bytes(content)
    with pytest.raises(DataError, match=message) as err:
        read_wav(path)
    assert "\n" not in str(err.value) and str(path) in str(err.value)


def test_a_wav_with_no_frames_or_cut_short_is_refused(tmp_path):
    with pytest.raises(DataError, match="0 frames"):
        read_wav(write_pcm(tmp_path / "empty.wav", b"", 2))
    full = write_pcm(tmp_path / "full.wav", b"\x01\x02" * 1000, 2).read_bytes()
    (tmp_path / "cut.wav").write_bytes(full[:-500])
    with pytest.raises(DataError, match="cut short"):
        read_wav(tmp_path / "cut.wav")
    with pytest.raises(DataError, match="no such audio file"):
        read_wav(tmp_path / "missing.wav")

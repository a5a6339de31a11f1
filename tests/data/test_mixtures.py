"""Voice-and-music mixtures and the SI-SDR that scores their separation."""

import math

import pytest
import torch

from seqlab.data import mixtures
from seqlab.data.mixtures import prompt_split, si_sdr
from seqlab.errors import DataError

from .test_speech import tools  # noqa: F401 - the fixture that skips without the packages


def test_si_sdr_of_a_known_distortion_and_its_scale_invariance():
    gen = torch.Generator().manual_seed(0)
    s = torch.randn(4000, generator=gen, dtype=torch.float64)
    s -= s.mean()
    e = torch.randn(4000, generator=gen, dtype=torch.float64)
    e -= e.mean()
    e -= (e @ s) / (s @ s) * s  # orthogonal to s: all of it is distortion
    e *= s.norm() / e.norm() * 10 ** (-12 / 20)  # 12 dB below the signal
    assert float(si_sdr(s + e, s)) == pytest.approx(12.0, abs=1e-9)
    assert float(si_sdr(0.1 * (s + e), s)) == pytest.approx(12.0, abs=1e-9)
    assert float(si_sdr(-3 * (s + e), s)) == pytest.approx(12.0, abs=1e-9)
    assert si_sdr(s, s) > 100


def test_prompts_split_by_their_path_about_one_in_five_held_out():
    names = [f"folder/prompt-{i}.wav" for i in range(2000)]
    held = sum(prompt_split(n) == "test" for n in names)
    assert 0.17 < held / 2000 < 0.24
    assert all(prompt_split(n) == prompt_split(n) for n in names[:20])


def test_mixtures_add_up_and_keep_the_ratio(tools):  # noqa: F811
    gen = torch.Generator().manual_seed(0)
    mix, voice, music = mixtures.mixtures(8, 1.5, "test", gen, ratio_db=(-3.0, 3.0))
    assert mix.shape == voice.shape == music.shape == (8, 12000)
    assert torch.allclose(mix, voice + music, atol=1e-6)
    ratio = 10 * torch.log10(voice.pow(2).mean(1) / music.pow(2).mean(1))
    assert ((ratio > -3.001) & (ratio < 3.001)).all()
    assert torch.allclose(mix.abs().amax(1), torch.full((8,), 0.9), atol=1e-6)
    assert (voice.pow(2).mean(1).sqrt() > 0).all()


def test_the_splits_hold_different_audio(tools):  # noqa: F811
    train, test = mixtures.voice_stream("train"), mixtures.voice_stream("test")
    assert 0.15 < test.shape[0] / (train.shape[0] + test.shape[0]) < 0.3
    music_train, music_test = mixtures.music_stream("train"), mixtures.music_stream("test")
    assert music_test.shape[0] / (music_train.shape[0] + music_test.shape[0]) == pytest.approx(
        0.2, abs=0.01
    )
    assert not math.isclose(float(train[:8000].std()), float(test[:8000].std()))
    with pytest.raises(DataError, match="split"):
        mixtures.voice_stream("valid")

"""Log-mel and MFCC in torch against python_speech_features on the same audio."""

import math
from pathlib import Path

import numpy as np
import pytest
import torch
from python_speech_features import logfbank, mfcc

from seqlab.data import features
from seqlab.data.audio import read_wav
from seqlab.data.features import FeatureConfig

HUMAN_ONE = Path("/usr/share/asterisk/sounds/en_US_f_Allison/digits/1.wav")


def signals():
    """A chirp in noise with silence around it (always), and a real recording where installed."""
    gen = torch.Generator().manual_seed(0)
    t = torch.arange(6000, dtype=torch.float64) / 8000
    chirp = torch.sin(2 * math.pi * (200 + 1500 * t) * t) + 0.05 * torch.randn(6000, generator=gen)
    out = [("chirp", torch.cat([torch.zeros(1000), 0.5 * chirp, torch.zeros(777)]))]
    if HUMAN_ONE.exists():
        out.append(("human", read_wav(HUMAN_ONE)[0].double()))
    return out


def reference(x: torch.Tensor, cfg: FeatureConfig):
    kwargs = dict(samplerate=cfg.rate, winlen=cfg.win_s, winstep=cfg.step_s, nfilt=cfg.n_mels,
                  nfft=cfg.n_fft, preemph=cfg.preemphasis)  # fmt: skip
    x = x.double().numpy()
    return (mfcc(x, numcep=cfg.n_ceps, ceplifter=cfg.lifter, **kwargs), logfbank(x, **kwargs))


@pytest.mark.parametrize("cfg", [FeatureConfig(), FeatureConfig(rate=16000, n_fft=512)])
def test_float64_features_equal_python_speech_features(cfg):
    for name, x in signals():
        if cfg.rate != 8000:
            x = torch.cat([x, x])  # any samples; only the arithmetic is compared
        ref_mfcc, ref_mel = reference(x, cfg)
        assert np.allclose(features.mfcc(x, cfg).numpy(), ref_mfcc, rtol=0, atol=1e-9), name
        assert np.allclose(features.log_mel(x, cfg).numpy(), ref_mel, rtol=0, atol=1e-9), name


def test_float32_features_agree_to_float32_rounding_on_non_silent_frames():
    cfg = FeatureConfig()
    for name, x in signals():
        ref_mfcc, ref_mel = reference(x, cfg)
        energy = np.exp(ref_mfcc[:, 0])
        loud = energy > 1e-4 * energy.max()  # silent frames' logs of ~0 are not compared
        assert loud.sum() > 20, name
        got_mfcc = features.mfcc(x.float(), cfg).double().numpy()[loud]
        got_mel = features.log_mel(x.float(), cfg).double().numpy()[loud]
        # float32 keeps ~7 digits: errors of a few units of float32's eps times the scale
        scale_mfcc = np.abs(ref_mfcc[loud]).max()
        assert np.abs(got_mfcc - ref_mfcc[loud]).max() < 50 * 1.2e-7 * scale_mfcc, name
        assert np.abs(got_mel - ref_mel[loud]).max() < 50 * 1.2e-7 * np.abs(ref_mel).max(), name


def test_frames_follow_the_frame_count_rule():
    cfg = FeatureConfig()  # win 200, step 80
    for n, count in [(1, 1), (200, 1), (201, 2), (280, 2), (281, 3)]:
        assert features.frames(torch.ones(n), cfg).shape == (count, 200)


def test_bad_settings_name_the_field():
    with pytest.raises(ValueError, match="n_fft"):
        FeatureConfig(n_fft=128)

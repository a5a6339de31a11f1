"""The mask separator: the STFT round trip, a mask of ones, the normaliser."""

import torch

from seqlab.models.separator import Separator


def test_a_mask_of_ones_gives_back_the_mixture():
    sep = Separator(n_fft=256, hop=128, hidden_size=4, num_layers=1).double()
    x = torch.randn(2, 4000, dtype=torch.float64)
    spec = sep.stft(x)
    assert spec.shape == (2, 129, 4000 // 128 + 1)
    assert torch.allclose(sep.istft(spec, 4000), x, atol=1e-10)
    with torch.no_grad():
        sep.readout.weight.zero_()
        sep.readout.bias.fill_(50.0)  # σ(50) = 1 to double precision
    assert torch.allclose(sep.separate(x), x, atol=1e-10)


def test_the_mask_is_in_zero_one_and_the_features_are_normalised():
    torch.manual_seed(0)
    sep = Separator(n_fft=128, hop=32, hidden_size=8, num_layers=2, bidirectional=True)
    x = torch.randn(3, 2000) * torch.linspace(0.1, 2, 2000)
    sep.fit_normaliser(x)
    u = sep.features(sep.stft(x))
    assert u.mean((0, 1)).abs().max() < 1e-4 and (u.std((0, 1)) - 1).abs().max() < 1e-3
    mask = sep(x)
    assert mask.shape == (3, 2000 // 32 + 1, 65) and ((mask > 0) & (mask < 1)).all()
    assert "mean" in sep.state_dict() and "window" not in sep.state_dict()

"""Generated tasks: targets by their definition, streams by (seed, index)."""

import pytest
import torch

from seqlab.data import synthetic
from seqlab.errors import InputError


def test_delay_targets_are_the_inputs_k_frames_earlier():
    x, y, mask = synthetic.delay(4, 12, 3, synthetic.generator(0, 0))
    assert x.shape == y.shape == (4, 12, 1) and mask.shape == (4, 12)
    assert set(x.unique().tolist()) == {-1.0, 1.0}
    torch.testing.assert_close(y[:, 3:], x[:, :9])
    assert not mask[:, :3].any() and mask[:, 3:].all()


def test_product_is_the_and_of_the_last_two_bits():
    x, y, mask = synthetic.product(8, 10, synthetic.generator(1, 5))
    assert set(x.unique().tolist()) <= {0.0, 1.0}
    for b in range(8):
        for t in range(1, 10):
            assert y[b, t, 0] == (x[b, t - 1, 0] == 1 and x[b, t, 0] == 1)
    assert not mask[:, 0].any() and mask[:, 1:].all()


def test_streams_repeat_by_seed_and_index_and_differ_otherwise():
    a = synthetic.delay(16, 20, 2, synthetic.generator(3, 7))[0]
    assert torch.equal(a, synthetic.delay(16, 20, 2, synthetic.generator(3, 7))[0])
    for other in (
        synthetic.generator(3, 8),
        synthetic.generator(4, 7),
        synthetic.generator(3, synthetic.VALID),
    ):
        assert not torch.equal(a, synthetic.delay(16, 20, 2, other)[0])


def test_bad_lengths_say_what_is_needed():
    with pytest.raises(InputError, match="lag=12 needs 0 <= lag < sequence length 12"):
        synthetic.delay(2, 12, 12, synthetic.generator(0, 0))
    with pytest.raises(InputError, match="length >= 2"):
        synthetic.product(2, 1, synthetic.generator(0, 0))

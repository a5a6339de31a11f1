"""The generated tasks of the topologies experiment, against answers worked out by hand."""

import pytest
import torch

from seqlab.data import topologies as data
from seqlab.data.synthetic import generator
from seqlab.data.vocab import BOS_ID, EOS_ID, PAD_ID
from seqlab.errors import InputError


def test_bit_counts_of_known_numbers():
    x, y = data.bit_counts(torch.tensor([0, 1, 0b1011, 0xFFFF, 0x8000]), 16)
    assert x.shape == (5, 1, 16) and x.dtype == torch.float32
    assert y.tolist() == [0, 1, 3, 16, 1]
    assert x[1, 0, -1] == 1 and x[1, 0, :-1].sum() == 0  # least significant bit last
    assert x[4, 0, 0] == 1 and x[4, 0, 1:].sum() == 0  # most significant bit first


def test_split_numbers_is_a_seeded_partition():
    train, test = data.split_numbers(8, 0.25, generator(3, -3))
    assert len(test) == 64 and len(train) == 192
    assert sorted(torch.cat([train, test]).tolist()) == list(range(256))
    again, _ = data.split_numbers(8, 0.25, generator(3, -3))
    other, _ = data.split_numbers(8, 0.25, generator(4, -3))
    assert torch.equal(train, again) and not torch.equal(train, other)
    with pytest.raises(InputError, match="empty split"):
        data.split_numbers(2, 0.01, generator(0, 0))


def test_digit_names_spell_each_digit_then_end():
    digits, targets = data.digit_names(200, generator(0, 0))
    assert targets.shape == (200, 6) and set(digits.tolist()) == set(range(10))
    for d, t in zip(digits.tolist(), targets, strict=True):
        word = data.DIGIT_NAMES[d]
        assert data.spell(t) == word
        assert t[len(word)] == EOS_ID  # the end right after the word
        assert (t[len(word) + 1 :] == PAD_ID).all()
    four = targets[digits == 4][0]
    letters = data.LETTERS.tokens  # ids 0-3 are the specials, letters from id 4
    assert four[:5].tolist() == [letters.index(c) for c in "four"] + [EOS_ID]
    assert data.spell(four) == "four" and min(four[:4].tolist()) >= 4


def test_digit_sums_are_the_sum_mod_10_of_the_first_length_digits():
    x, lengths, y = data.digit_sums(300, 2, 6, generator(1, 5))
    assert x.shape == (300, 6) and lengths.min() >= 2 and lengths.max() <= 6
    for row, n, label in zip(x.tolist(), lengths.tolist(), y.tolist(), strict=True):
        assert all(4 <= i <= 13 for i in row[:n])  # digit d has id d + 4
        assert sum(i - 4 for i in row[:n]) % 10 == label
        assert row[n:] == [PAD_ID] * (6 - n)


def test_running_parity_by_hand():
    x, y, mask = data.running_parity(200, 3, 9, generator(2, 7))
    assert x.shape == y.shape == (200, 9, 1) and mask.shape == (200, 9)
    for bits, parity, m in zip(x[..., 0].tolist(), y[..., 0].tolist(), mask.tolist(), strict=True):
        n = sum(m)
        assert 3 <= n <= 9 and m == [True] * n + [False] * (9 - n)
        running = 0
        for t in range(n):
            running ^= int(bits[t])
            assert parity[t] == running
        assert bits[n:] == [0] * (9 - n)


def test_reversals_end_with_eos_and_ignore_the_rest():
    src, lengths, tgt = data.reversals(100, 3, 8, generator(0, 1))
    assert src.shape == (100, 8) and tgt.shape == (100, 9)
    for s, n, t in zip(src.tolist(), lengths.tolist(), tgt.tolist(), strict=True):
        assert t[:n] == s[:n][::-1]
        assert t[n] == EOS_ID and t[n + 1 :] == [PAD_ID] * (8 - n)
        assert data.until_end(t) == s[:n][::-1]


def test_teacher_inputs_shift_targets_right_after_bos():
    targets = torch.tensor([[7, 8, EOS_ID, PAD_ID], [11, EOS_ID, PAD_ID, PAD_ID]])
    assert data.teacher_inputs(targets).tolist() == [
        [BOS_ID, 7, 8, EOS_ID],
        [BOS_ID, 11, EOS_ID, PAD_ID],
    ]


def test_batches_are_pure_functions_of_the_stream():
    a = data.reversals(16, 3, 8, generator(5, 10))
    b = data.reversals(16, 3, 8, generator(5, 10))
    c = data.reversals(16, 3, 8, generator(5, 11))
    assert all(torch.equal(u, v) for u, v in zip(a, b, strict=True))
    assert not torch.equal(a[0], c[0])


@pytest.mark.parametrize("low, high", [(0, 4), (5, 4)])
def test_bad_lengths_are_input_errors(low, high):
    with pytest.raises(InputError, match=rf"\[{low}, {high}\]"):
        data.digit_sums(4, low, high, generator(0, 0))

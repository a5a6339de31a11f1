"""Generated data for the five topologies of a recurrent network (one-to-one, one-to-many,
many-to-one, synced many-to-many, sequence-to-sequence): each generator is a pure function of
its sizes and a ``torch.Generator`` (see :func:`seqlab.data.synthetic.generator`).

Token conventions shared by the sequence tasks:

- digits are the token ids 0-9; :data:`EOS` (10) ends a target sequence and :data:`BOS` (11)
  is a decoder's first input, so a digit decoder reads 12 ids and predicts 11;
- the spelled digit names use the ids of :data:`LETTERS` and their own end id ``len(LETTERS)``;
- padded target positions hold :data:`IGNORE` (what ``F.cross_entropy`` skips); padded input
  positions hold 0 and are cut off by the ``lengths`` the engine receives.
"""

import torch
from torch import Tensor

from ..errors import InputError

IGNORE = -100
EOS, BOS = 10, 11  # after the ten digits
DIGIT_NAMES = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
LETTERS = "".join(sorted(set("".join(DIGIT_NAMES))))  # 15 letters


def _check_lengths(low: int, high: int) -> None:
    if not 1 <= low <= high:
        raise InputError(f"sequence lengths [{low}, {high}]: expected 1 <= low <= high")


def random_lengths(n: int, low: int, high: int, gen: torch.Generator) -> Tensor:
    """(n,) int64 lengths uniform in [low, high]."""
    _check_lengths(low, high)
    return torch.randint(low, high + 1, (n,), generator=gen)


def length_mask(lengths: Tensor, T: int) -> Tensor:
    """(B, T) bool: True at the frames t < length of each row."""
    return torch.arange(T).unsqueeze(0) < lengths.unsqueeze(1)


# ------------------------------------------------------------------ one-to-one: bits set
def split_numbers(bits: int, test_fraction: float, gen: torch.Generator) -> tuple[Tensor, Tensor]:
    """The ``2**bits`` numbers split at random into (training numbers, held-out test numbers),
    each in random order, so the test measures numbers the network never saw."""
    if not 1 <= bits <= 24:
        raise InputError(f"bits={bits}: expected 1 <= bits <= 24")
    order = torch.randperm(1 << bits, generator=gen)
    cut = int(round((1 << bits) * test_fraction))
    if not 0 < cut < 1 << bits:
        raise InputError(
            f"test_fraction={test_fraction} of {1 << bits} numbers leaves an empty split; "
            "use a fraction strictly between 0 and 1 or more bits"
        )
    return order[cut:], order[:cut]


def bit_counts(numbers: Tensor, bits: int) -> tuple[Tensor, Tensor]:
    """``numbers`` (B,) as their bits, most significant first, and how many are set:
    x (B, 1, bits) float in {0, 1} (a one-step sequence), y (B,) int64 in [0, bits]."""
    shifts = torch.arange(bits - 1, -1, -1)  # (bits,) most significant bit first
    x = ((numbers.unsqueeze(1) >> shifts) & 1).float()  # (B, bits)
    return x.unsqueeze(1), x.sum(1).long()


def draw(pool: Tensor, n: int, gen: torch.Generator) -> Tensor:
    """(n,) items of ``pool`` drawn uniformly with replacement."""
    return pool[torch.randint(0, len(pool), (n,), generator=gen)]


# ------------------------------------------------------------------ one-to-many: digit names
def spell_ids(word: str) -> list[int]:
    """Letter ids of ``word`` followed by the end id ``len(LETTERS)``."""
    return [LETTERS.index(c) for c in word] + [len(LETTERS)]


def digit_names(n: int, gen: torch.Generator) -> tuple[Tensor, Tensor]:
    """(digits (n,) int64, targets (n, 6) int64): each digit's English name as letter ids and
    an end id, padded with IGNORE (the longest names have 5 letters)."""
    table = torch.full((10, 6), IGNORE, dtype=torch.long)  # (10, 5 letters + end)
    for digit, word in enumerate(DIGIT_NAMES):
        ids = spell_ids(word)
        table[digit, : len(ids)] = torch.tensor(ids)
    digits = torch.randint(0, 10, (n,), generator=gen)
    return digits, table[digits]


def spell(ids) -> str:
    """Letter ids up to (not including) the end id, as text."""
    out = []
    for i in map(int, ids):
        if i == len(LETTERS) or i == IGNORE:
            break
        out.append(LETTERS[i] if 0 <= i < len(LETTERS) else "?")
    return "".join(out)


# ------------------------------------------------------------------ many-to-one: digit sums
def digit_sequences(n: int, low: int, high: int, gen: torch.Generator) -> tuple[Tensor, Tensor]:
    """(x (n, high) int64 digits, 0 past each length; lengths (n,) in [low, high])."""
    lengths = random_lengths(n, low, high, gen)
    x = torch.randint(0, 10, (n, high), generator=gen)
    return x * length_mask(lengths, high), lengths


def digit_sums(
    n: int, low: int, high: int, gen: torch.Generator, modulus: int = 10
) -> tuple[Tensor, Tensor, Tensor]:
    """Digit sequences of lengths in [low, high] and the label ``(Σ_t x_t) mod modulus``:
    (x (n, high), lengths (n,), y (n,))."""
    x, lengths = digit_sequences(n, low, high, gen)
    return x, lengths, x.sum(1) % modulus  # padding is 0: it adds nothing


# ------------------------------------------------------------------ synced many-to-many: parity
def running_parity(
    n: int, low: int, high: int, gen: torch.Generator
) -> tuple[Tensor, Tensor, Tensor]:
    """Bit streams and their running parity ``y_t = x_1 ⊕ … ⊕ x_t`` at every frame:
    x (n, high, 1) float bits (0 past the length), y (n, high, 1) float, mask (n, high) bool
    (the frames within each length; the synthetic-task ``Batch`` layout)."""
    lengths = random_lengths(n, low, high, gen)
    mask = length_mask(lengths, high)
    x = torch.randint(0, 2, (n, high), generator=gen) * mask  # (B, T)
    y = x.cumsum(1) % 2
    return x.unsqueeze(-1).float(), y.unsqueeze(-1).float(), mask


# ------------------------------------------------------------------ sequence-to-sequence: reverse
def reversals(n: int, low: int, high: int, gen: torch.Generator) -> tuple[Tensor, Tensor, Tensor]:
    """Digit sequences and their reversal followed by EOS:
    src (n, high) int64 (0 past each length), lengths (n,), tgt (n, high + 1) int64
    ``x_L … x_1 EOS`` padded with IGNORE."""
    src, lengths = digit_sequences(n, low, high, gen)
    steps = torch.arange(high + 1).unsqueeze(0)  # (1, S + 1)
    index = (lengths.unsqueeze(1) - 1 - steps).clamp(min=0)  # (B, S + 1): x_{L-1-t}
    tgt = src.gather(1, index.clamp(max=high - 1))
    tgt = torch.where(steps == lengths.unsqueeze(1), EOS, tgt)
    return src, lengths, torch.where(steps > lengths.unsqueeze(1), IGNORE, tgt)


def teacher_inputs(targets: Tensor, bos: int) -> Tensor:
    """A decoder's inputs under teacher forcing: ``bos`` then the targets shifted right by one;
    (B, T) like ``targets``, IGNORE replaced by 0 (those steps are not scored)."""
    shifted = torch.cat([torch.full_like(targets[:, :1], bos), targets[:, :-1]], dim=1)
    return shifted.masked_fill(shifted == IGNORE, 0)


def until_end(ids, end: int) -> list[int]:
    """The ids before the first ``end`` (all of them if none)."""
    out = []
    for i in map(int, ids):
        if i == end or i == IGNORE:
            break
        out.append(i)
    return out

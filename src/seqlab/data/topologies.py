"""Generated data for the five topologies of a recurrent network (one-to-one, one-to-many,
many-to-one, synced many-to-many, sequence-to-sequence): each generator is a pure function of
its sizes and a ``torch.Generator`` (see :func:`seqlab.data.synthetic.generator`).

Token ids follow the project's one convention (:mod:`seqlab.data.vocab`): 0 padding, 1 BOS
(a decoder's first input), 2 EOS (ends a target sequence), 3 unknown, then the tokens:

- digits are the tokens of :data:`DIGITS`: digit ``d`` has id ``d + 4`` (:func:`digit_ids`);
- the spelled digit names use the tokens of :data:`LETTERS` (letter ``k`` of it has id
  ``k + 4``);
- padded positions hold 0: targets there are not scored (``ignore_index=PAD_ID``) and inputs
  are cut off by the ``lengths`` the engine receives.
"""

import torch
from torch import Tensor

from ..errors import InputError
from .vocab import BOS_ID, EOS_ID, PAD_ID, TokenVocab

DIGIT_NAMES = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
DIGITS = TokenVocab(list("0123456789"))  # 14 ids
LETTERS = TokenVocab(sorted(set("".join(DIGIT_NAMES))))  # 15 letters, 19 ids
FIRST = 4  # the id of a vocabulary's first token


def digit_ids(digits: Tensor) -> Tensor:
    """Digit values 0-9 -> their token ids."""
    return digits + FIRST


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
    """Letter ids of ``word`` followed by EOS."""
    return LETTERS.encode(list(word)) + [EOS_ID]


def digit_names(n: int, gen: torch.Generator) -> tuple[Tensor, Tensor]:
    """(digits (n,) int64 values 0-9, targets (n, 6) int64): each digit's English name as
    letter ids and EOS, padded with 0 (the longest names have 5 letters)."""
    table = torch.full((10, 6), PAD_ID, dtype=torch.long)  # (10, 5 letters + EOS)
    for digit, word in enumerate(DIGIT_NAMES):
        ids = spell_ids(word)
        table[digit, : len(ids)] = torch.tensor(ids)
    digits = torch.randint(0, 10, (n,), generator=gen)
    return digits, table[digits]


def spell(ids) -> str:
    """Letter ids up to (not including) EOS or padding, as text ("?" for a non-letter id)."""
    letters = LETTERS.tokens
    return "".join(letters[i] if FIRST <= i < len(letters) else "?" for i in until_end(ids))


# ------------------------------------------------------------------ many-to-one: digit sums
def digit_sequences(
    n: int, low: int, high: int, gen: torch.Generator
) -> tuple[Tensor, Tensor, Tensor]:
    """(x (n, high) int64 digit ids, 0 past each length; lengths (n,) in [low, high]; the
    digit values (n, high), 0 past each length)."""
    lengths = random_lengths(n, low, high, gen)
    values = torch.randint(0, 10, (n, high), generator=gen) * length_mask(lengths, high)
    return digit_ids(values) * length_mask(lengths, high), lengths, values


def digit_sums(
    n: int, low: int, high: int, gen: torch.Generator, modulus: int = 10
) -> tuple[Tensor, Tensor, Tensor]:
    """Digit sequences of lengths in [low, high] and the label ``(Σ_t x_t) mod modulus`` of
    their values: (x (n, high) ids, lengths (n,), y (n,))."""
    x, lengths, values = digit_sequences(n, low, high, gen)
    return x, lengths, values.sum(1) % modulus


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
    src (n, high) int64 ids (0 past each length), lengths (n,), tgt (n, high + 1) int64
    ``x_L … x_1 EOS`` padded with 0."""
    src, lengths, _ = digit_sequences(n, low, high, gen)
    steps = torch.arange(high + 1).unsqueeze(0)  # (1, S + 1)
    index = (lengths.unsqueeze(1) - 1 - steps).clamp(min=0)  # (B, S + 1): x_{L-1-t}
    tgt = src.gather(1, index.clamp(max=high - 1))
    tgt = torch.where(steps == lengths.unsqueeze(1), EOS_ID, tgt)
    return src, lengths, torch.where(steps > lengths.unsqueeze(1), PAD_ID, tgt)


def teacher_inputs(targets: Tensor) -> Tensor:
    """A decoder's inputs under teacher forcing: BOS then the targets shifted right by one;
    (B, T) like ``targets`` (padding stays padding: those steps are not scored)."""
    return torch.cat([torch.full_like(targets[:, :1], BOS_ID), targets[:, :-1]], dim=1)


def until_end(ids) -> list[int]:
    """The ids before the first EOS or padding (all of them if neither)."""
    out = []
    for i in map(int, ids):
        if i in (EOS_ID, PAD_ID):
            break
        out.append(i)
    return out

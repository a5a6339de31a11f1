"""Generated sentences about the houses of Shakespeare's plays, for the keyword classifier.

The cast is real: the two houses of *Romeo and Juliet* and the two of the history plays
(*Richard II*, *Henry IV*-*VI*, *Richard III*), each character under one lowercase name::

    montague   romeo benvolio balthasar abram montague
    capulet    juliet tybalt rosaline sampson gregory capulet
    york       york edward clarence rutland aumerle cambridge
    lancaster  gaunt bolingbroke hal humphrey bedford margaret

(Margaret of Anjou married into Lancaster; "york" is Richard Plantagenet, Duke of York.)
A sentence is an opener, a frame with the name slot(s) and a closer, each drawn at random, so
the deciding word moves: "late at night the servant of tybalt ran to the church in the rain".
Every other word is drawn independently of the label and carries no information about it.

Part 1 (``part=1``): one name; the label is that character's house.

Part 2 (``part=2``, marital): a marriage of two characters; the label is the house the
partner named first belongs to afterwards. They marry into the house of the partner named
second, except that the crown never marries out: a Lancaster named first keeps the couple in
Lancaster. So the label needs both names (after the first one it could still be any house),
unless the first is a Lancaster, whose name alone decides it. Sentences are ``two-name``
(decided at the second name) or ``one-name`` (decided at the first).

Held out from training: whole frames (:data:`TEST_FRAMES`; every word of them also occurs in
the training frames, openers and closers, so none is an untrained embedding) and, in part 2, a
fixed fifth of the couples (:func:`held_out_couples`). A single name cannot be held out: a
word-level model has no way to know the house of a name it never read.
"""

import random
from dataclasses import dataclass

HOUSES = ("montague", "capulet", "york", "lancaster")
CAST = {
    "montague": ("romeo", "benvolio", "balthasar", "abram", "montague"),
    "capulet": ("juliet", "tybalt", "rosaline", "sampson", "gregory", "capulet"),
    "york": ("york", "edward", "clarence", "rutland", "aumerle", "cambridge"),
    "lancaster": ("gaunt", "bolingbroke", "hal", "humphrey", "bedford", "margaret"),
}
HOUSE_OF = {name: HOUSES.index(house) for house, names in CAST.items() for name in names}
NAMES = tuple(HOUSE_OF)
DECIDES_ALONE = HOUSES.index("lancaster")

OPENERS = (
    "",
    "",
    "yesterday",
    "in the morning",
    "they say that",
    "as the story goes",
    "late at night",
    "in fair verona",
    "at the feast",
    "it is said that",
    "after the battle",
    "the servants whisper that",
    "once upon a time",
    "that evening",
    "before dawn on a cold day",
)
CLOSERS = (
    "",
    "",
    "before dawn",
    "and nobody knew why",
    "that evening",
    "with great haste",
    "in the rain",
    "once again",
    "at the feast",
    "as the bells rang",
)
# "{}" is the name's slot; part 2's frames have two.
FRAMES = {
    1: (
        "{} drew a sword",
        "the young {} walked into the square",
        "a letter from {} arrived",
        "everyone saw {} at the gate",
        "{} spoke of the quarrel",
        "the servant of {} ran to the church",
        "nobody trusted {}",
        "{} laughed and left the hall",
        "with a heavy heart {} wrote a letter",
        "a friend of {} sang in the garden",
        "{} was seen near the church",
        "the old nurse called for {}",
    ),
    2: (
        "{} married {}",
        "{} wed {} in secret",
        "the wedding of {} and {} was held at the church",
        "{} took {} as a spouse",
        "a friar joined {} and {} in marriage",
        "{} and {} were married",
        "{} promised a ring to {} and they married",
        "the marriage of {} to {} surprised everyone",
        "the young {} and the old {} were married at the gate",
        "a priest wed {} to {}",
        "the old {} married the young {}",
        "a friend of {} married {} at the feast",
    ),
}
TEST_FRAMES = {
    1: (
        "the friend of {} walked to the gate",
        "a servant saw {} in the square",
        "{} ran into the garden",
        "everyone spoke of {} at the feast",
    ),
    2: (
        "{} and {} married in secret",
        "a friar wed {} to {}",
        "everyone spoke of the wedding of {} and {}",
        "the old {} took the young {} as a spouse",
    ),
}


@dataclass(frozen=True)
class Sentence:
    words: tuple[str, ...]
    label: int  # index into HOUSES
    names: tuple[int, ...]  # positions of the names
    deciding: int  # position of the word after which the label is determined
    kind: str  # "one-name" (part 1, or part 2 decided by the first name) or "two-name"


def label_of(names: tuple[str, ...]) -> int:
    """Part 1: the house of the one name. Part 2 (names in the order they are read): the
    second's house, unless the first is a Lancaster (the crown never marries out)."""
    if len(names) == 1 or HOUSE_OF[names[0]] == DECIDES_ALONE:
        return HOUSE_OF[names[0]]
    return HOUSE_OF[names[1]]


def held_out_couples(seed: int = 0) -> frozenset[frozenset[str]]:
    """A fixed fifth of the unordered couples, never in a training sentence of part 2."""
    couples = sorted(tuple(sorted((a, b))) for i, a in enumerate(NAMES) for b in NAMES[i + 1 :])
    rng = random.Random(f"couples-{seed}")
    return frozenset(frozenset(c) for c in rng.sample(couples, len(couples) // 5))


def make_sentence(frame: str, names: tuple[str, ...], opener: str, closer: str) -> Sentence:
    parts = [p for p in (opener, frame.format(*names), closer) if p]
    words = tuple(" ".join(parts).split())
    positions = [words.index(name) for name in names]  # no filler word is a name
    if positions != sorted(positions):
        raise ValueError(f"frame {frame!r} must hold the names in the order they are given")
    label = label_of(names)
    one_name = len(names) == 1 or HOUSE_OF[names[0]] == DECIDES_ALONE
    deciding = min(positions) if one_name else max(positions)
    return Sentence(
        words, label, tuple(positions), deciding, "one-name" if one_name else "two-name"
    )


def sentences(
    part: int,
    count: int,
    rng: random.Random,
    frames: str = "train",
    couples: str = "train",
    seed: int = 0,
) -> list[Sentence]:
    """``count`` random sentences of ``part`` (1 or 2) from the training frames
    (``frames="train"``) or the held-out ones (``"test"``); in part 2 with the training
    couples (``couples="train"``), the held-out ones (``"test"``) or any (``"any"``)."""
    pool = FRAMES[part] if frames == "train" else TEST_FRAMES[part]
    held = held_out_couples(seed)
    out = []
    while len(out) < count:
        names = tuple(rng.choice(NAMES) for _ in range(part))
        if part == 2:
            pair = frozenset(names)
            if (
                len(pair) < 2
                or (couples == "train" and pair in held)
                or (couples == "test" and pair not in held)
            ):
                continue
        out.append(make_sentence(rng.choice(pool), names, rng.choice(OPENERS), rng.choice(CLOSERS)))
    return out


def vocabulary_words() -> list[str]:
    """Every word a sentence can hold, frames of both kinds included, in first-seen order."""
    text = " ".join([*OPENERS, *CLOSERS, *(f for p in (1, 2) for f in FRAMES[p] + TEST_FRAMES[p])])
    return list(dict.fromkeys([*text.replace("{}", " ").split(), *NAMES]))

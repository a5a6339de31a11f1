"""Token vocabularies for translation, and the simple tokenizers that feed them.

A :class:`TokenVocab` maps ``V`` tokens to ids ``0 .. V-1``. The first four ids are the same
in every vocabulary::

    0 <pad>   fills a batch's shorter sequences up to the longest (S or T)
    1 <s>     begin of sentence: the decoder's first input
    2 </s>    end of sentence: the decoder's last target, where decoding stops
    3 <unk>   a token the vocabulary lacks (only with ``encode(..., unknown="unk")``)

The other tokens follow from id 4, most frequent first (ties in alphabetical order) when built
from a corpus with :meth:`TokenVocab.build`.

Tokenizers. :func:`char_tokens` is the string's characters. :func:`word_tokens` lowercases
(after NFC normalisation), turns curly quotes and apostrophes into straight ones, and splits
into words (letters and digits, with apostrophes and hyphens kept inside a word: ``don't``,
``well-known``) and single punctuation marks::

    word_tokens("He said, “Don’t go!”")
    == ['he', 'said', ',', '"', "don't", 'go', '!', '"']

:func:`detokenize` joins tokens back into readable text for sacreBLEU, whose own tokenizer
splits the punctuation again; it does not restore letter case.
"""

import json
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable
from pathlib import Path

from ..errors import DataError, InputError
from ..files import atomic_write_text

PAD, BOS, EOS, UNK = "<pad>", "<s>", "</s>", "<unk>"
SPECIALS = (PAD, BOS, EOS, UNK)
PAD_ID, BOS_ID, EOS_ID, UNK_ID = range(4)  # every TokenVocab's ids of SPECIALS
FORMAT = "seqlab.TokenVocab/1"
_SHOW_UNKNOWN = 10  # how many unknown tokens an error message lists

_QUOTES = str.maketrans({"‘": "'", "’": "'", "‚": "'", "‛": "'", "“": '"', "”": '"', "„": '"'})
_WORD = re.compile(r"[^\W_]+(?:['-][^\W_]+)*|\S")
_NO_SPACE_BEFORE = set(",.;:!?)]}’”—")
_NO_SPACE_AFTER = set("([{¿¡“‘—")
_STRAIGHT_QUOTES = ('"', "'")


class TokenVocab:
    """Tokens <-> integer ids, with ``<pad>, <s>, </s>, <unk>`` as ids 0-3 (module docstring).

    ``tokens`` lists every token by id, specials included; ``len(vocab)`` is ``V``.
    """

    pad, bos, eos, unk = PAD_ID, BOS_ID, EOS_ID, UNK_ID

    def __init__(self, tokens: list[str]):
        tokens = list(tokens)
        bad = [t for t in tokens if not isinstance(t, str) or not t]
        if bad:
            raise InputError(f"vocabulary tokens must be non-empty strings, got {bad[:5]!r}")
        specials = [t for t in tokens if t in SPECIALS]
        if specials:
            raise InputError(
                f"{specials!r} are special tokens that every vocabulary holds as ids 0-3; "
                "pass only the other tokens"
            )
        repeated = sorted(t for t, n in Counter(tokens).items() if n > 1)
        if repeated:
            raise InputError(f"tokens {repeated[:10]!r} appear twice; pass each token once")
        self.tokens = [*SPECIALS, *tokens]
        self.index = {t: i for i, t in enumerate(self.tokens)}

    @classmethod
    def build(
        cls, sequences: Iterable[list[str]], min_count: int = 1, max_size: int | None = None
    ) -> "TokenVocab":
        """The tokens of ``sequences`` seen at least ``min_count`` times, most frequent first
        (ties alphabetical), at most ``max_size`` of them besides the four specials."""
        if isinstance(min_count, bool) or not isinstance(min_count, int) or min_count < 1:
            raise InputError(f"min_count={min_count!r}: expected an integer >= 1")
        if max_size is not None and (
            isinstance(max_size, bool) or not isinstance(max_size, int) or max_size < 0
        ):
            raise InputError(f"max_size={max_size!r}: expected None (no limit) or an integer >= 0")
        counts = Counter()
        for sequence in sequences:
            if isinstance(sequence, str):
                raise InputError(
                    "build() takes sequences of tokens (lists of strings), got a string; "
                    "tokenize it first, e.g. with word_tokens(text)"
                )
            counts.update(sequence)
        for special in SPECIALS:
            counts.pop(special, None)
        ranked = sorted(
            (t for t, n in counts.items() if n >= min_count), key=lambda t: (-counts[t], t)
        )
        return cls(ranked if max_size is None else ranked[:max_size])

    def __len__(self) -> int:
        return len(self.tokens)

    def __eq__(self, other) -> bool:
        return isinstance(other, TokenVocab) and self.tokens == other.tokens

    def __repr__(self) -> str:
        return f"TokenVocab({len(self)} tokens: {self.tokens[4:9]!r}...)"

    def unknown(self, tokens: Iterable[str]) -> list[str]:
        """The tokens the vocabulary lacks, once each, in the order they first appear."""
        return list(dict.fromkeys(t for t in tokens if t not in self.index))

    @staticmethod
    def listing(missing: list[str]) -> str:
        """Unknown tokens for an error message: the first few quoted, then how many more."""
        shown = ", ".join(repr(t) for t in missing[:_SHOW_UNKNOWN])
        rest = len(missing) - _SHOW_UNKNOWN
        return shown + (f" and {rest} more" if rest > 0 else "")

    def encode(self, tokens: list[str], unknown: str = "error") -> list[int]:
        """Token ids; an unknown token raises an InputError (``"error"``) or becomes ``<unk>``
        (``"unk"``)."""
        if unknown not in ("error", "unk"):
            raise InputError(f"unknown={unknown!r}: expected 'error' or 'unk'")
        if isinstance(tokens, str):
            raise InputError(
                "encode() takes a list of tokens, got a string; tokenize it first, e.g. with "
                "word_tokens(text) or char_tokens(text)"
            )
        if unknown == "error":
            missing = self.unknown(tokens)
            if missing:
                raise InputError(
                    f"{len(missing)} token(s) are not in the vocabulary of {len(self)} tokens: "
                    f"{self.listing(missing)}; build the vocabulary from text that has them, or "
                    "pass unknown='unk' to map them to <unk>"
                )
        return [self.index.get(t, self.unk) for t in tokens]

    def decode(self, ids: Iterable[int]) -> list[str]:
        """The tokens of ``ids`` (ints or 0-d tensors); specials come out as their strings."""
        out = []
        for i in ids:
            i = int(i)
            if not 0 <= i < len(self.tokens):
                raise InputError(
                    f"id {i} is outside this vocabulary of {len(self)} tokens "
                    f"(0..{len(self) - 1}); was the model trained with another vocabulary?"
                )
            out.append(self.tokens[i])
        return out

    def save(self, path: str | Path) -> None:
        """Write the vocabulary as JSON, atomically."""
        data = {"format": FORMAT, "specials": list(SPECIALS), "tokens": self.tokens[4:]}
        atomic_write_text(Path(path), json.dumps(data, ensure_ascii=False) + "\n")

    @classmethod
    def load(cls, path: str | Path) -> "TokenVocab":
        """The vocabulary :meth:`save` wrote; a DataError if the file is missing or damaged."""
        try:
            data = json.loads(Path(path).read_text("utf-8"))
            if data["format"] != FORMAT or data["specials"] != list(SPECIALS):
                raise ValueError(f"format {data['format']!r}, expected {FORMAT!r}")
            if not isinstance(data["tokens"], list):
                raise ValueError("'tokens' is not a list")
            return cls(data["tokens"])
        except (OSError, ValueError, KeyError, TypeError) as err:
            raise DataError(
                f"{path}: not a readable token vocabulary ({err}); save it again with "
                "TokenVocab.save or rebuild it with TokenVocab.build"
            ) from None


def char_tokens(text: str) -> list[str]:
    """The characters of ``text``, as they are."""
    return list(text)


def word_tokens(text: str) -> list[str]:
    """Lowercased words and single punctuation marks, quotes made straight (module docstring)."""
    text = unicodedata.normalize("NFC", text).translate(_QUOTES).lower()
    return _WORD.findall(text)


def detokenize(tokens: list[str]) -> str:
    """Tokens joined by spaces, except before ``, . ; : ! ? ) ] } ’ ” —`` and after
    ``( [ { ¿ ¡ “ ‘ —``; a straight quote opens and closes in turn (no space after an opening
    one, none before a closing one)."""
    out: list[str] = []
    open_quote = dict.fromkeys(_STRAIGHT_QUOTES, False)
    glue_next = True  # no space before the first token
    for token in tokens:
        if token in open_quote:
            closing = open_quote[token]
            open_quote[token] = not closing
            glue = glue_next or closing
            glue_after = not closing
        else:
            glue = glue_next or token in _NO_SPACE_BEFORE
            glue_after = token in _NO_SPACE_AFTER
        out.append(token if glue else " " + token)
        glue_next = glue_after
    return "".join(out)

"""English -> Spanish verse pairs from two public-domain Bibles that Debian packages for SWORD.

Sources: the World English Bible (``engWEB2015eb``, package ``sword-text-web``) and the
Reina-Valera 1909 (``spaRV1909eb``, ``sword-text-sparv``), read with the SWORD command-line
front end ``diatheke``. Both use the KJV versification for the 66 books they share, so a verse
is aligned by its key ``(book, chapter, verse)``; the WEB's deuterocanon is never exported.

Export. ``diatheke -b MODULE -f OSIS -o fh -l en -k Gen-Mal`` (and ``Mat-Rev``) prints one
line per verse, ``[heading]Book C:V: <w>text</w> ...<note>...</note>...<milestone .../>``:

- OSIS rather than ``-f plain``: the modules have no spaces around a footnote or between some
  ``<w>`` words (``God<note>..</note>created``, ``será<w>siempre``), so plain text runs words
  together; with the markup seen, a removed note or a word boundary becomes a space.
- ``-o f`` shows footnotes so that they can be found and removed; ``-o h`` shows headings,
  which otherwise diatheke repeats in front of every later verse; ``-l en`` keeps the book
  names of :data:`BOOKS` whatever the user's locale.

Cleaning: footnotes and all markup removed, whitespace collapsed to single spaces, no space
before the punctuation that followed a removed note; quotes and letter case are kept as the
modules have them (``EN el principio``, curly quotes: the tokenizer normalises them).
Headings are dropped, except in Psalms: there the WEB prints the canonical titles ("A Psalm by
David.") and the acrostic letters of Psalm 119 as headings, while the RV 1909 has them inside
verse 1 (or 9, 17 ...), so the English heading is put in front of its verse. The WEB's glossary,
which the module stores inside Revelation 22:21, is cut off. Verses empty in either language
are dropped (the WEB leaves Romans 16:25-27 empty and has that doxology at the end of 14:23).

Versification. Where the RV 1909 numbers verses differently from the KJV scheme (Numbers 13,
1 Samuel 24, Job 39, Jonah 2 ...), the module moves the text by a verse or more and leaves
verses empty or merged, so a whole chapter pairs each English verse with its neighbour's
Spanish one. Such a chapter shows in the lengths: the mean ``|ln(len es / len en)|`` of its
verses is ~0.1 where verses align and above :data:`SHIFTED_CHAPTER` where they are shifted;
those chapters (10 of 1,189, 211 verses) are left out. Merged or shifted verses inside an
otherwise aligned chapter remain (1 Kings 22:43-53, Judges 14:19-20, the RV's subscriptions
after the epistles, e.g. 1 Corinthians 16:24).

The aligned verses are cached as a TSV file in :func:`cache_dir` (written atomically); later
calls read it without running diatheke.
"""

import math
import os
import re
import shutil
import subprocess
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from ..errors import DataError
from ..files import atomic_write_text

INSTALL = "sudo apt-get install --no-install-recommends diatheke sword-text-web sword-text-sparv"
ENGLISH, SPANISH = "engWEB2015eb", "spaRV1909eb"
BOOKS: tuple[str, ...] = (
    *("Genesis", "Exodus", "Leviticus", "Numbers", "Deuteronomy", "Joshua", "Judges", "Ruth"),
    *("I Samuel", "II Samuel", "I Kings", "II Kings", "I Chronicles", "II Chronicles", "Ezra"),
    *("Nehemiah", "Esther", "Job", "Psalms", "Proverbs", "Ecclesiastes", "Song of Solomon"),
    *("Isaiah", "Jeremiah", "Lamentations", "Ezekiel", "Daniel", "Hosea", "Joel", "Amos"),
    *("Obadiah", "Jonah", "Micah", "Nahum", "Habakkuk", "Zephaniah", "Haggai", "Zechariah"),
    *("Malachi", "Matthew", "Mark", "Luke", "John", "Acts", "Romans", "I Corinthians"),
    *("II Corinthians", "Galatians", "Ephesians", "Philippians", "Colossians"),
    *("I Thessalonians", "II Thessalonians", "I Timothy", "II Timothy", "Titus", "Philemon"),
    *("Hebrews", "James", "I Peter", "II Peter", "I John", "II John", "III John", "Jude"),
    "Revelation of John",
)
RANGES = ("Gen-Mal", "Mat-Rev")  # the two testaments; "Gen-Rev" would pass the deuterocanon
CACHE_NAME = f"bible-{ENGLISH}-{SPANISH}.tsv"
_HEADER = f"# seqlab bible v1\t{ENGLISH}\t{SPANISH}"
# Mean |ln(len Spanish / len English)| of a chapter's verses above which its verses are taken
# to be shifted against each other: ~0.1 in aligned chapters, 0.25-0.53 in shifted ones.
SHIFTED_CHAPTER = 0.24
_GLOSSARY = "World English Bible Glossary"  # a heading inside the WEB's Revelation 22:21

_BOOK_INDEX = {book: i for i, book in enumerate(BOOKS)}
# Longest names first, so that "III John 1:1:" is not read as "John 1:1:" behind a heading.
_BOOK_ALTERNATION = "|".join(re.escape(b) for b in sorted(BOOKS, key=len, reverse=True))
_LINE = re.compile(
    rf"^(?P<heading>.*?)(?P<book>{_BOOK_ALTERNATION}) "
    r"(?P<chapter>\d+):(?P<verse>\d+): (?P<body>.*)$"
)
_NOTE = re.compile(r"<note\b[^>]*/>|<note\b[^>]*>.*?</note>", re.DOTALL)
_WORD_TAG = re.compile(r"</?w\b[^>]*>")
_TAG = re.compile(r"<[^>]*>")
_NOTE_MARK, _WORD_MARK = "\x00", "\x01"


@dataclass(frozen=True)
class Verse:
    """One aligned verse: its key (book as in :data:`BOOKS`) and its text in both languages."""

    book: str
    chapter: int
    verse: int
    english: str
    spanish: str


def cache_dir() -> Path:
    """``$SEQLAB_CACHE_DIR``, else ``$XDG_CACHE_HOME/seqlab``, else ``~/.cache/seqlab``."""
    if os.environ.get("SEQLAB_CACHE_DIR"):
        return Path(os.environ["SEQLAB_CACHE_DIR"]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base).expanduser() / "seqlab"


def clean_osis(markup: str) -> str:
    """One verse's OSIS markup as plain text (see the module docstring)."""
    if _GLOSSARY in markup:
        markup = markup[: markup.index(_GLOSSARY)]
    text = _NOTE.sub(_NOTE_MARK, markup)
    text = _WORD_TAG.sub(_WORD_MARK, text)
    text = _TAG.sub(" ", text)
    # A note right before punctuation leaves nothing behind: "near at hand<note/>." -> "hand."
    text = re.sub(r"[\s\x01]*\x00[\s\x00\x01]*(?=[,.;:!?)\]”’])", "", text)
    # Between two words a note or a word boundary is a space: "God<note/><w>created".
    text = re.sub(r"(?<=\w)[\x00\x01]+(?=\w)", " ", text)
    # ... and so it is after the end of a clause: "believed.”<w>His", "Jude,<note/><w>a".
    text = re.sub(r"([,.;:!?][”’]?)[\x00\x01]+(?=\w)", r"\1 ", text)
    text = text.replace(_NOTE_MARK, " ").replace(_WORD_MARK, "")
    return " ".join(text.split())


def parse_export(output: str) -> dict[tuple[str, int, int], str]:
    """diatheke's OSIS output -> {(book, chapter, verse): clean text}, in the output's order."""
    verses: dict[tuple[str, int, int], str] = {}
    key = None
    for line in output.split("\n"):  # not splitlines(): it would also split at U+2028
        match = _LINE.match(line)
        if match is None:
            if key is not None and line.strip() and not re.fullmatch(r"\(\w+\)", line.strip()):
                verses[key] = f"{verses[key]} {clean_osis(line)}".strip()  # a wrapped verse
            continue
        key = (match["book"], int(match["chapter"]), int(match["verse"]))
        text = clean_osis(match["body"])
        heading = clean_osis(match["heading"])
        if heading and match["book"] == "Psalms":
            text = f"{heading} {text}".strip()
        verses[key] = text
    return verses


def _check_installed() -> str:
    diatheke = shutil.which("diatheke")
    if diatheke is None:
        raise DataError(
            f"the English-Spanish Bible needs the SWORD tool diatheke, which is not installed; "
            f"run `{INSTALL}`"
        )
    listed = _run([diatheke, "-b", "system", "-k", "modulelistnames"]).split()
    missing = [m for m in (ENGLISH, SPANISH) if m not in listed]
    if missing:
        raise DataError(
            f"the SWORD module(s) {', '.join(missing)} are not installed (diatheke lists "
            f"{', '.join(listed) or 'none'}); run `{INSTALL}`"
        )
    return diatheke


def _run(command: list[str]) -> str:
    try:
        done = subprocess.run(command, capture_output=True, encoding="utf-8", errors="replace")
    except OSError as err:
        raise DataError(f"cannot run `{command[0]}` ({err}); run `{INSTALL}`") from None
    if done.returncode != 0:
        raise DataError(
            f"`{' '.join(command)}` failed with exit status {done.returncode}: "
            f"{done.stderr.strip()[-300:]}; reinstall with `{INSTALL}`"
        )
    return done.stdout


def export_module(module: str, diatheke: str = "diatheke") -> dict[tuple[str, int, int], str]:
    """All verses of the 66 books in ``module``: {(book, chapter, verse): clean text}."""
    verses = {}
    for key_range in RANGES:
        # -l en: book names as in BOOKS whatever the user's locale ("Génesis" under -l es).
        command = [diatheke, "-b", module, "-f", "OSIS", "-o", "fh", "-l", "en", "-k", key_range]
        verses.update(parse_export(_run(command)))
    return verses


def align(english: dict, spanish: dict) -> list[Verse]:
    """The keys both sides have, non-empty in both, in canonical order, without the chapters
    that the two versifications shift against each other (see the module docstring)."""
    keys = [k for k in english if k in spanish and english[k] and spanish[k]]
    keys.sort(key=lambda k: (_BOOK_INDEX[k[0]], k[1], k[2]))
    by_chapter = defaultdict(list)
    for k in keys:
        by_chapter[k[:2]].append(abs(math.log(len(spanish[k]) / len(english[k]))))
    shifted = {c for c, logs in by_chapter.items() if sum(logs) / len(logs) > SHIFTED_CHAPTER}
    return [Verse(*k, english[k], spanish[k]) for k in keys if k[:2] not in shifted]


def _write_cache(path: Path, verses: list[Verse]) -> None:
    rows = [_HEADER] + [
        f"{v.book}\t{v.chapter}\t{v.verse}\t{v.english}\t{v.spanish}" for v in verses
    ]
    atomic_write_text(path, "\n".join(rows) + "\n")


def _read_cache(path: Path) -> list[Verse]:
    fix = f"delete {path} or call load_bible(refresh=True) to rebuild it"
    try:
        lines = path.read_text("utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as err:
        raise DataError(f"{path}: the Bible cache is unreadable ({err}); {fix}") from None
    if not lines or lines[0] != _HEADER:
        raise DataError(f"{path}: not a seqlab Bible cache (its first line is wrong); {fix}")
    verses = []
    for number, line in enumerate(lines[1:], start=2):
        fields = line.split("\t")
        if len(fields) != 5 or fields[0] not in _BOOK_INDEX or not all(fields[3:]):
            raise DataError(f"{path}: line {number} is damaged; {fix}")
        try:
            verses.append(Verse(fields[0], int(fields[1]), int(fields[2]), *fields[3:]))
        except ValueError:
            raise DataError(f"{path}: line {number} is damaged; {fix}") from None
    if not verses:
        raise DataError(f"{path}: the Bible cache holds no verses; {fix}")
    return verses


def load_bible(refresh: bool = False) -> list[Verse]:
    """The aligned verses, from the cache or (the first time, or with ``refresh``) diatheke."""
    path = cache_dir() / CACHE_NAME
    if path.exists() and not refresh:
        return _read_cache(path)
    diatheke = _check_installed()
    verses = align(export_module(ENGLISH, diatheke), export_module(SPANISH, diatheke))
    if not verses:
        raise DataError(f"diatheke gave no aligned verses; reinstall with `{INSTALL}`")
    _write_cache(path, verses)
    return verses

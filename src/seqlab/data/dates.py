"""Synthetic translation: a date as people write it -> the ISO date ``YYYY-MM-DD``.

    "Tuesday, March 3, 1998" (en_US full)    -> "1998-03-03"
    "3/3/98"                 (en_US short)   -> "1998-03-03"
    "19 mai 2049"            (fr_FR d MMM y) -> "2049-05-19"
    "Dienstag, 3. März 1998" (de_DE full)    -> "1998-03-03"

Sources come from ``babel.dates.format_date(day, format=FORMAT, locale=LOCALE)`` for each
``(LOCALE, FORMAT)`` in :data:`FORMATS`: 8 locales, each with babel's ``short``/``medium``/
``long``/``full`` and some CLDR patterns of its own (``d MMM y``, ``EEEE d MMMM y``, ``d.M.yy``,
``y-MM-dd`` ...). Non-breaking and narrow spaces in babel's output become plain spaces.

A solvable task: a source string never stands for two dates.

- Years run from FIRST_YEAR = 1950 to LAST_YEAR = 2049, so a two-digit year is unambiguous:
  50-99 -> 19xx, 00-49 -> 20xx.
- Numeric dates would collide across locales (en_US "3/4/98" is March 4, es_ES "3/4/98" is
  3 April), so a date written with slashes is always month-first (en_US ``M/d/yy``, ``M/d/y``)
  and day-first numeric dates use dots or hyphens (``dd.MM.yy``, ``d-M-y``, ``dd-MM-y`` ...):
  the day-first slash formats of en_GB, fr_FR, es_ES, it_IT, pt_BR are left out. The list was
  checked over every day of 1950-2049 (all formats together map sources to dates as a function);
  the tests repeat the check on whole years.

Splits are disjoint by date: a fixed hash of the ISO date (BLAKE2b, not Python's salted
``hash``) puts ~90 % of the days in "train", ~5 % in "valid" and ~5 % in "test", whatever the
format, so a model is tested on days it never saw in any form.
"""

import datetime
import hashlib
import random
from dataclasses import dataclass
from functools import cache

from babel import Locale, UnknownLocaleError
from babel.dates import format_date

from ..errors import InputError

FIRST_YEAR, LAST_YEAR = 1950, 2049
SPLITS = ("train", "valid", "test")
# Percent of days per split, in the order of SPLITS (the hash's value mod 100 picks the split).
SPLIT_PERCENT = (90, 5, 5)

FORMATS: tuple[tuple[str, str], ...] = (
    *(("en_US", f) for f in ("short", "medium", "long", "full", "M/d/y", "EEE, MMM d, y")),
    *(("en_US", f) for f in ("MMMM d y", "d MMMM y", "MMM d y", "EEEE MMMM d y")),
    *(("en_GB", f) for f in ("medium", "long", "full", "EEE d MMM y", "d MMMM, y")),
    *(("en_GB", f) for f in ("EEEE d MMMM y", "d MMM yy")),
    *(("fr_FR", f) for f in ("medium", "long", "full", "EEE d MMM y", "d MMMM yy", "dd-MM-y")),
    ("fr_FR", "EEEE d MMM y"),
    *(("de_DE", f) for f in ("short", "medium", "long", "full", "d. MMM y", "d.M.y", "d.M.yy")),
    *(("de_DE", f) for f in ("EEE, d. MMM y", "y-MM-dd", "d. MMMM yy", "EEEE, d.M.y")),
    *(("es_ES", f) for f in ("medium", "long", "full", "d-M-y", "EEE, d MMM y", "d MMMM y")),
    ("es_ES", "d 'de' MMM 'de' y"),
    *(("it_IT", f) for f in ("medium", "long", "full", "dd-MM-y", "EEE d MMM y", "dd.MM.y")),
    ("it_IT", "EEEE, d MMMM y"),
    *(("pt_BR", f) for f in ("medium", "long", "full", "EEE, d 'de' MMM 'de' y", "d MMM y")),
    *(("pt_BR", f) for f in ("d-M-y", "dd.MM.y")),
    *(("nl_NL", f) for f in ("short", "medium", "long", "full", "d-M-y", "d-M-yy", "dd-MM-yy")),
    *(("nl_NL", f) for f in ("EEE d MMM y", "d MMM yy", "EEEE d MMMM y")),
)


@dataclass(frozen=True)
class DatePair:
    """One example: ``source`` as written in ``locale`` with ``format``, ``target`` ISO."""

    source: str
    target: str
    locale: str
    format: str


def split_of(day: datetime.date) -> str:
    """ "train", "valid" or "test", a fixed function of the date."""
    digest = hashlib.blake2b(_check_day(day).isoformat().encode(), digest_size=8).digest()
    bucket = int.from_bytes(digest, "big") % 100
    upper = 0
    for split, percent in zip(SPLITS, SPLIT_PERCENT, strict=True):
        upper += percent
        if bucket < upper:
            return split
    raise AssertionError("SPLIT_PERCENT must add up to 100")


@cache
def _days(split: str) -> tuple[datetime.date, ...]:
    first, last = datetime.date(FIRST_YEAR, 1, 1), datetime.date(LAST_YEAR, 12, 31)
    every = (first + datetime.timedelta(days=i) for i in range((last - first).days + 1))
    return tuple(d for d in every if split_of(d) == split)


def dates_of(split: str) -> list[datetime.date]:
    """Every date of ``split`` from FIRST_YEAR-01-01 to LAST_YEAR-12-31, in order."""
    return list(_days(_check_split(split)))


def date_pair(day: datetime.date, locale: str, fmt: str) -> DatePair:
    """``day`` written with babel's ``fmt`` (a name or a CLDR pattern) in ``locale``.

    Any locale and pattern work; only :data:`FORMATS` is proven free of collisions.
    """
    day = _check_day(day)
    try:
        written = format_date(day, format=fmt, locale=_locale(locale))
    except (UnknownLocaleError, ValueError, TypeError, KeyError) as err:
        raise InputError(
            f"babel cannot write a date with locale={locale!r}, format={fmt!r} ({err}); use a "
            "locale such as 'en_US' and a CLDR pattern such as 'd MMM y' or one of "
            "'short', 'medium', 'long', 'full'"
        ) from None
    return DatePair(" ".join(written.split()), day.isoformat(), locale, fmt)


def sample_pairs(n: int, split: str, rng: random.Random) -> list[DatePair]:
    """``n`` pairs, each with a date drawn uniformly from ``split`` and a format drawn uniformly
    from :data:`FORMATS`, using only ``rng`` (a seeded ``random.Random`` repeats them)."""
    if isinstance(n, bool) or not isinstance(n, int) or n < 0:
        raise InputError(f"n={n!r}: expected an integer >= 0")
    if not isinstance(rng, random.Random):
        raise InputError(f"rng={rng!r}: expected a random.Random, e.g. random.Random(seed)")
    days = _days(_check_split(split))
    return [date_pair(rng.choice(days), *rng.choice(FORMATS)) for _ in range(n)]


@cache
def _locale(name: str) -> Locale:
    return Locale.parse(name)


def _check_split(split: str) -> str:
    if split not in SPLITS:
        raise InputError(f"split={split!r}: expected one of {', '.join(SPLITS)}")
    return split


def _check_day(day) -> datetime.date:
    if isinstance(day, datetime.datetime):
        day = day.date()
    if not isinstance(day, datetime.date):
        raise InputError(f"day={day!r}: expected a datetime.date, e.g. datetime.date(1998, 3, 3)")
    if not FIRST_YEAR <= day.year <= LAST_YEAR:
        raise InputError(
            f"day={day.isoformat()}: the task covers {FIRST_YEAR}-{LAST_YEAR} only (so that "
            "two-digit years are unambiguous); pick a date in that range"
        )
    return day

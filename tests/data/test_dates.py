"""Synthetic dates: the task is a function (no source stands for two dates), splits by date."""

import datetime
import os
import random
import re
import subprocess
import sys
from collections import Counter

import pytest

from seqlab.data import dates
from seqlab.data.dates import FORMATS, DatePair, date_pair, dates_of, sample_pairs, split_of
from seqlab.errors import InputError

# The ends of the range (two-digit years 50 and 49), a century boundary, leap years.
PROOF_YEARS = (1950, 1999, 2000, 2012, 2049)


def days_of(year: int) -> list[datetime.date]:
    first = datetime.date(year, 1, 1)
    return [
        first + datetime.timedelta(i) for i in range((datetime.date(year + 1, 1, 1) - first).days)
    ]


def collisions(formats, years=PROOF_YEARS) -> dict[str, set[str]]:
    """Sources that stand for more than one target."""
    targets: dict[str, set[str]] = {}
    for year in years:
        for day in days_of(year):
            for locale, fmt in formats:
                pair = date_pair(day, locale, fmt)
                targets.setdefault(pair.source, set()).add(pair.target)
    return {source: t for source, t in targets.items() if len(t) > 1}


def test_no_source_stands_for_two_dates():
    assert collisions(FORMATS) == {}


def test_the_check_finds_the_collision_the_format_list_avoids():
    # es_ES writes 4 March 1998 as "4/3/98", which en_US reads as April 3.
    found = collisions([("en_US", "short"), ("es_ES", "short")], years=(1998,))
    assert found["4/3/98"] == {"1998-04-03", "1998-03-04"}
    assert len(found) == 12 * 12 - 12  # every day <= 12 in another month


def test_formats_cover_many_locales_and_babel_names():
    locales = {locale for locale, _ in FORMATS}
    assert {"en_US", "en_GB", "fr_FR", "de_DE", "es_ES", "it_IT", "pt_BR", "nl_NL"} <= locales
    for locale in locales:
        names = {fmt for loc, fmt in FORMATS if loc == locale}
        assert {"medium", "long", "full"} <= names, locale
        assert len(names) >= 6, locale
    assert len(set(FORMATS)) == len(FORMATS)


@pytest.mark.parametrize(
    "day, locale, fmt, source",
    [
        ((1998, 3, 3), "en_US", "full", "Tuesday, March 3, 1998"),
        ((1998, 3, 3), "en_US", "short", "3/3/98"),
        ((2049, 5, 19), "fr_FR", "d MMM y", "19 mai 2049"),
        ((1950, 12, 24), "de_DE", "full", "Sonntag, 24. Dezember 1950"),
        ((2004, 2, 29), "es_ES", "long", "29 de febrero de 2004"),
        ((2000, 1, 9), "nl_NL", "d-M-yy", "9-1-00"),
        ((1977, 7, 4), "de_DE", "y-MM-dd", "1977-07-04"),
    ],
)
def test_examples(day, locale, fmt, source):
    pair = date_pair(datetime.date(*day), locale, fmt)
    assert pair == DatePair(source, datetime.date(*day).isoformat(), locale, fmt)


def test_targets_are_iso_dates_and_sources_have_plain_single_spaces():
    for day in (
        datetime.date(1950, 1, 1),
        datetime.date(1987, 11, 30),
        datetime.date(2049, 12, 31),
    ):
        for locale, fmt in FORMATS:
            pair = date_pair(day, locale, fmt)
            assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", pair.target)
            assert datetime.date.fromisoformat(pair.target) == day
            assert pair.source == " ".join(pair.source.split()) != ""
            assert all(c == " " or not c.isspace() for c in pair.source)


def test_non_breaking_spaces_become_plain_spaces():
    day = datetime.date(1998, 3, 3)
    # babel writes Russian "1998 г." with a narrow no-break space, and quoted literals as given.
    assert date_pair(day, "ru_RU", "long").source == "3 марта 1998 г."
    assert date_pair(day, "en_GB", "d\u00a0MMM\u202f\u202fy").source == "3 Mar 1998"


def test_splits_partition_the_days_about_90_5_5():
    every = days_of(1950)[0], datetime.date(2049, 12, 31)
    total = (every[1] - every[0]).days + 1
    splits = {s: dates_of(s) for s in ("train", "valid", "test")}
    assert sum(map(len, splits.values())) == total == 36_525
    assert set().union(*map(set, splits.values())) == {
        every[0] + datetime.timedelta(i) for i in range(total)
    }
    for split, days in splits.items():
        assert days == sorted(days) and all(split_of(d) == split for d in days)
    assert 0.885 < len(splits["train"]) / total < 0.915
    assert 0.04 < len(splits["valid"]) / total < 0.06
    assert 0.04 < len(splits["test"]) / total < 0.06
    dates_of("test").clear()  # a caller's copy: the module's cache is unharmed
    assert len(dates_of("test")) == len(splits["test"])


def test_the_split_hash_is_fixed():
    # Not Python's salted hash: another process with another hash seed splits the same way.
    code = (
        "import datetime; from seqlab.data.dates import split_of; "
        "d = datetime.date(1998, 1, 1); "
        "print(''.join(split_of(d + datetime.timedelta(i))[0] for i in range(365)))"
    )
    here = "".join(split_of(d)[0] for d in days_of(1998))
    seed = "2" if os.environ.get("PYTHONHASHSEED") == "1" else "1"
    env = {**os.environ, "PYTHONHASHSEED": seed}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert out.stdout.strip() == here, out.stderr
    # Pinned, so that a change of the hash (which would reshuffle every split) is noticed.
    test_days = [d for d in days_of(1998) if split_of(d) == "test"][:3]
    assert test_days == [
        datetime.date(1998, 1, 12),
        datetime.date(1998, 1, 19),
        datetime.date(1998, 2, 12),
    ]
    assert [d for d in days_of(1998) if split_of(d) == "valid"][:2] == [
        datetime.date(1998, 1, 7),
        datetime.date(1998, 2, 28),
    ]


def test_sampling_is_seeded_uniform_and_stays_in_its_split():
    first = sample_pairs(50, "valid", random.Random(7))
    assert first == sample_pairs(50, "valid", random.Random(7))
    assert first != sample_pairs(50, "valid", random.Random(8))
    valid = set(dates_of("valid"))
    assert all(datetime.date.fromisoformat(p.target) in valid for p in first)
    pairs = sample_pairs(100 * len(FORMATS), "test", random.Random(0))
    per_format = Counter((p.locale, p.format) for p in pairs)
    assert set(per_format) == set(FORMATS)
    assert min(per_format.values()) > 60 and max(per_format.values()) < 145
    assert sample_pairs(0, "train", random.Random(0)) == []


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: sample_pairs(3, "dev", random.Random(0)), r"split='dev': expected one of"),
        (lambda: sample_pairs(-1, "train", random.Random(0)), r"n=-1: expected an integer"),
        (lambda: sample_pairs(2, "train", 0), r"expected a random.Random"),
        (lambda: date_pair(datetime.date(2050, 1, 1), "en_US", "short"), r"1950-2049 only"),
        (lambda: date_pair("1998-03-03", "en_US", "short"), r"expected a datetime.date"),
        (lambda: date_pair(datetime.date(1998, 3, 3), "xx_XX", "short"), r"locale='xx_XX'"),
        (lambda: split_of(datetime.date(1949, 12, 31)), r"1950-2049 only"),
    ],
)
def test_bad_arguments_say_what_was_expected(call, message):
    with pytest.raises(InputError, match=message):
        call()


def test_module_constants():
    assert (dates.FIRST_YEAR, dates.LAST_YEAR) == (1950, 2049)
    assert sum(dates.SPLIT_PERCENT) == 100

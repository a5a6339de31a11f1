"""English-Spanish Bible verses from Debian's SWORD modules: cleaning, alignment, the cache.

The tests that read the real modules are skipped where diatheke is not installed, unless
SEQLAB_REQUIRE_BIBLE=1 (CI installs the packages and sets it): then they fail.
"""

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from seqlab.data import bible
from seqlab.data.bible import BOOKS, INSTALL, Verse, cache_dir, clean_osis, load_bible
from seqlab.errors import DataError


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """(verses, cache folder) built once with the real diatheke."""
    if shutil.which("diatheke") is None:
        if os.environ.get("SEQLAB_REQUIRE_BIBLE") == "1":
            pytest.fail(f"SEQLAB_REQUIRE_BIBLE=1 but diatheke is not installed; run `{INSTALL}`")
        pytest.skip(f"diatheke is not installed; run `{INSTALL}`")
    folder = tmp_path_factory.mktemp("cache")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SEQLAB_CACHE_DIR", str(folder))
        verses = load_bible(refresh=True)
    return verses, folder


def test_genesis_1_1_is_clean_in_both_languages(built):
    verses, _ = built
    assert verses[0] == Verse(
        "Genesis",
        1,
        1,
        "In the beginning, God created the heavens and the earth.",
        "EN el principio crió Dios los cielos y la tierra.",
    )


def test_all_books_align_in_canonical_order_with_clean_text(built):
    verses, _ = built
    assert 29_000 < len(verses) < 31_103
    keys = [(BOOKS.index(v.book), v.chapter, v.verse) for v in verses]
    assert keys == sorted(set(keys))
    assert {v.book for v in verses} == set(BOOKS) and len(BOOKS) == 66
    for v in verses:
        for text in (v.english, v.spanish):
            assert text and text == " ".join(text.split()), v
            assert not re.search(r"[<>\x00\x01]|&\w+;", text), v
    last = verses[-1]
    assert (last.book, last.chapter, last.verse) == ("Revelation of John", 22, 21)
    assert last.english.endswith("saints. Amen.")  # the WEB's glossary is cut off
    john = next(v for v in verses if (v.book, v.chapter, v.verse) == ("John", 3, 16))
    assert john.english.startswith("For God so loved the world")
    assert john.spanish.startswith("Porque de tal manera amó Dios al mundo")


def test_psalm_titles_join_verse_1_as_in_the_spanish(built):
    verses, _ = built
    psalm_3 = next(v for v in verses if (v.book, v.chapter, v.verse) == ("Psalms", 3, 1))
    assert psalm_3.english.startswith("A Psalm by David, when he fled from Absalom his son. Yahweh")
    assert psalm_3.spanish.startswith("Salmo de David, cuando huía de delante de Absalom")
    song = next(v for v in verses if (v.book, v.chapter, v.verse) == ("Song of Solomon", 1, 2))
    assert song.english.startswith("Let him kiss me")  # no speaker heading ("Beloved")


def test_shifted_chapters_are_left_out(built):
    verses, _ = built
    chapters = {(v.book, v.chapter) for v in verses}
    assert ("Numbers", 13) not in chapters and ("Jonah", 2) not in chapters
    assert ("Numbers", 12) in chapters and ("Jonah", 1) in chapters


def test_the_cache_is_reused_without_diatheke(built, monkeypatch):
    verses, folder = built
    monkeypatch.setenv("SEQLAB_CACHE_DIR", str(folder))
    monkeypatch.setattr(shutil, "which", lambda name: None)

    def no_subprocess(*args, **kwargs):
        raise AssertionError("diatheke ran although the cache exists")

    monkeypatch.setattr(subprocess, "run", no_subprocess)
    assert load_bible() == verses
    assert [p.name for p in folder.iterdir()] == [bible.CACHE_NAME]  # no temporary file left


def test_a_missing_diatheke_names_the_apt_get_line(tmp_path, monkeypatch):
    monkeypatch.setenv("SEQLAB_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(shutil, "which", lambda name: None)
    with pytest.raises(DataError, match=re.escape(INSTALL)):
        load_bible()
    assert list(tmp_path.iterdir()) == []


def test_a_missing_module_is_named(tmp_path, monkeypatch):
    monkeypatch.setenv("SEQLAB_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(shutil, "which", lambda name: "/usr/bin/diatheke")
    monkeypatch.setattr(bible, "_run", lambda command: "engWEB2015eb\nKJV\n")
    with pytest.raises(DataError, match=r"spaRV1909eb are not installed .*" + re.escape(INSTALL)):
        load_bible()


@pytest.mark.parametrize(
    "content, message",
    [
        ("", "not a seqlab Bible cache"),
        ("Genesis\t1\t1\tIn the beginning\tEn el principio\n", "not a seqlab Bible cache"),
        (bible._HEADER + "\nGenesis\t1\tone\tIn\tEn\n", "line 2 is damaged"),
        (bible._HEADER + "\nGenesis\t1\t1\tIn the beginning\n", "line 2 is damaged"),
        (bible._HEADER + "\nGenesis\t1\t1\tIn\tEn\nHobbits\t1\t1\tIn\tEn\n", "line 3 is damaged"),
        (bible._HEADER + "\n", "holds no verses"),
    ],
)
def test_a_damaged_cache_says_how_to_rebuild_it(tmp_path, monkeypatch, content, message):
    monkeypatch.setenv("SEQLAB_CACHE_DIR", str(tmp_path))
    (tmp_path / bible.CACHE_NAME).write_text(content, "utf-8")
    with pytest.raises(DataError, match=rf"{message}.*load_bible\(refresh=True\)"):
        load_bible()


def test_cache_dir_precedence(monkeypatch, tmp_path):
    monkeypatch.delenv("SEQLAB_CACHE_DIR", raising=False)
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    assert cache_dir() == Path.home() / ".cache" / "seqlab"
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_dir() == tmp_path / "xdg" / "seqlab"
    monkeypatch.setenv("SEQLAB_CACHE_DIR", str(tmp_path / "mine"))
    assert cache_dir() == tmp_path / "mine"


NOTE = '<note placement="foot">1:1 or, seed</note>'


@pytest.mark.parametrize(
    "markup, text",
    [
        # The module has no spaces around notes nor between some words.
        (f"<w>God</w>{NOTE}<w>created</w> <w>the</w>", "God created the"),
        (f"near at hand{NOTE}. Then", "near at hand. Then"),
        (f"<w>Jude</w>,{NOTE}<w>a</w> <w>servant</w>", "Jude, a servant"),
        (f"<w>Omega</w>,{NOTE}”<w>says</w>", "Omega,” says"),
        (f"<w>said</w>,{NOTE}“<w>A</w>", "said, “A"),
        ("<w>su alabanza</w>será<w>siempre</w>", "su alabanza será siempre"),
        ('<w>de que</w><w lemma="H1">Salomón</w>', "de que Salomón"),
        ("<w>believed</w>.”<w>His</w>", "believed.” His"),
        ('<w>Yahweh’s</w> <w>law</w>.   <milestone type="line"/>', "Yahweh’s law."),
        ("saints. Amen.   World English Bible Glossary  Abaddon ...", "saints. Amen."),
        (f'{NOTE} <milestone type="line"/>', ""),
    ],
)
def test_clean_osis(markup, text):
    assert clean_osis(markup) == text


def test_parse_export_keeps_psalm_headings_only():
    output = (
        'A Psalm by David.  Psalms 3:1: <w>Yahweh</w>, how!<milestone type="line"/>\n'
        'Psalms 3:2: <w>Many</w>.<milestone type="line"/>\n'
        'Beloved  Song of Solomon 1:2: Let <w>him</w> kiss me.<milestone type="line"/>\n'
        '<div sID="gen1" type="x-p"/>III John 1:15: <milestone type="line"/>\n'
        "(engWEB2015eb)\n"
    )
    assert bible.parse_export(output) == {
        ("Psalms", 3, 1): "A Psalm by David. Yahweh, how!",
        ("Psalms", 3, 2): "Many.",
        ("Song of Solomon", 1, 2): "Let him kiss me.",
        ("III John", 1, 15): "",
    }


def test_align_drops_empty_verses_and_shifted_chapters():
    english = {("Ruth", 1, 1): "a b c d", ("Ruth", 1, 2): "x", ("Genesis", 1, 1): "In the"}
    spanish = {("Ruth", 1, 1): "e f g h", ("Ruth", 1, 2): "", ("Genesis", 1, 1): "En el"}
    english |= {("Jonah", 2, v): "short" for v in (1, 2)}
    spanish |= {("Jonah", 2, v): "a much longer verse" for v in (1, 2)}
    assert bible.align(english, spanish) == [
        Verse("Genesis", 1, 1, "In the", "En el"),
        Verse("Ruth", 1, 1, "a b c d", "e f g h"),
    ]

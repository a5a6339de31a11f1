"""Synthetic words from espeak-ng and flite, the human recordings and the music.

The tests that run the synthesizers or read asterisk's sounds are skipped where they are not
installed, unless SEQLAB_REQUIRE_SPEECH=1 (CI installs the packages and sets it): then they fail.
"""

import os
import shutil

import pytest
import torch

from seqlab.data import speech
from seqlab.data.speech import INSTALL, RATE, Prosody, Voice
from seqlab.errors import DataError


def speech_installed() -> bool:
    ok = all(shutil.which(t) for t in ("espeak-ng", "flite"))
    return ok and speech.HUMAN.is_dir() and speech.MUSIC.is_dir()


@pytest.fixture
def tools():
    if not speech_installed():
        if os.environ.get("SEQLAB_REQUIRE_SPEECH") == "1":
            pytest.fail(f"SEQLAB_REQUIRE_SPEECH=1 but the speech packages are missing; `{INSTALL}`")
        pytest.skip(f"the speech packages are not installed; run `{INSTALL}`")


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("SEQLAB_CACHE_DIR", str(tmp_path))
    return tmp_path / "speech"


def test_a_word_is_synthesized_once_then_read_from_the_cache(tools, cache):
    voice = Voice("espeak-ng", "en-gb+f3")
    first = speech.synthesize("one", voice, Prosody(1.25, 0.75))
    files = list(cache.glob("*.wav"))
    assert len(files) == 1
    again = speech.synthesize("one", voice, Prosody(1.25, 0.75))
    assert torch.equal(first, again) and list(cache.glob("*.wav")) == files
    assert 0.15 * RATE < first.shape[0] < 0.8 * RATE  # a word, its silence cut
    assert first[: RATE // 100].abs().max() > 0  # trimmed: it starts with sound
    files[0].write_bytes(b"damaged")  # a damaged entry is made again
    assert torch.equal(speech.synthesize("one", voice, Prosody(1.25, 0.75)), first)


def test_voices_speeds_and_pitches_change_the_audio(tools, cache):
    slow = speech.synthesize("two", Voice("flite", "slt"), Prosody(0.75, 1.0))
    fast = speech.synthesize("two", Voice("flite", "slt"), Prosody(1.25, 1.0))
    assert slow.shape[0] > 1.3 * fast.shape[0]
    low = speech.synthesize("two", Voice("espeak-ng", "en-us+m3"), Prosody(1.0, 0.75))
    high = speech.synthesize("two", Voice("espeak-ng", "en-us+m3"), Prosody(1.0, 1.25))
    other = speech.synthesize("two", Voice("espeak-ng", "en-us+f2"), Prosody(1.0, 0.75))
    assert not torch.equal(low[:1000], high[:1000]) and not torch.equal(low[:1000], other[:1000])


def test_every_voice_speaks(tools, cache):
    for voice in speech.all_voices():
        assert speech.synthesize("one", voice).abs().max() > 0.1, voice


def test_the_human_recordings_and_the_music_are_read(tools):
    one, two = speech.human_word("one"), speech.human_word("two")
    assert 0.2 * RATE < one.shape[0] < 1.0 * RATE and 0.2 * RATE < two.shape[0] < 1.0 * RATE
    assert len(speech.music_tracks()) >= 5
    with pytest.raises(DataError, match="no human recording"):
        speech.human_word("seven")


def test_a_missing_synthesizer_names_the_install_line(cache, monkeypatch):
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(DataError, match="apt-get install") as err:
        speech.synthesize("one", Voice("espeak-ng", "en-us"))
    assert "\n" not in str(err.value)


def test_held_out_voices_are_never_training_voices():
    train, test = speech.split_voices(0.25, seed=3)
    assert not set(train) & set(test) and set(train) | set(test) == set(speech.all_voices())
    assert {v.engine for v in test} == {"espeak-ng", "flite"}
    assert speech.split_voices(0.25, seed=3) == (train, test)


def test_join_places_words_after_their_gaps():
    a, b = torch.ones(100), -torch.ones(50)
    u = speech.join([("one", a), ("two", b)], [30], lead=20, length=400, source="x", gain=0.5)
    assert u.spans == ((20, 120), (150, 200)) and u.samples.shape == (400,)
    assert u.samples.abs().max() == pytest.approx(0.5) and u.samples[120:150].abs().max() == 0

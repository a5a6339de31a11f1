import os
import shutil
import subprocess
from pathlib import Path

import pytest
import torch

from .runs import run_cli


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


def lengths_mask(lengths: torch.Tensor, T: int) -> torch.Tensor:
    """(T, B, 1) bool mask of valid steps."""
    return (torch.arange(T)[:, None] < lengths[None, :]).unsqueeze(-1)


def make_corpus(chars: int = 60_000, seed: int = 0) -> str:
    """A small play-like text with learnable structure: speakers, then lines of words."""
    import random

    rng = random.Random(seed)
    speakers = ["ROMEO", "JULIET", "NURSE", "FRIAR"]
    words = "the my thy love night day sweet death light fair come go now and not is".split()
    out = []
    while sum(map(len, out)) < chars:
        lines = [" ".join(rng.choice(words) for _ in range(rng.randint(3, 7))).capitalize() + ","
                 for _ in range(rng.randint(1, 3))]  # fmt: skip
        out.append(f"{rng.choice(speakers)}:\n" + "\n".join(lines) + "\n\n")
    return "".join(out)


@pytest.fixture(scope="session")
def corpus_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("corpus") / "tiny.txt"
    path.write_text(make_corpus(), encoding="utf-8")
    return path


def bible_missing() -> bool:
    """translate-bible reads Debian's Bibles; CI installs them and sets SEQLAB_REQUIRE_BIBLE."""
    if os.environ.get("SEQLAB_REQUIRE_BIBLE"):
        return False
    try:
        subprocess.run(["diatheke", "-b", "system", "-k", "modulelist"], capture_output=True,
                       timeout=30, check=False)  # fmt: skip
    except (OSError, subprocess.SubprocessError):
        return True
    return not Path("/usr/share/sword/mods.d/engWEB2015eb.conf").exists()


def speech_missing() -> bool:
    """spoken-words and separation read Debian's voices, recordings and music; CI installs them
    and sets SEQLAB_REQUIRE_SPEECH (then a missing package fails the run instead)."""
    if os.environ.get("SEQLAB_REQUIRE_SPEECH"):
        return False
    tools = all(shutil.which(t) for t in ("espeak-ng", "flite"))
    sounds = Path("/usr/share/asterisk/sounds/en_US_f_Allison").is_dir()
    return not (tools and sounds and Path("/usr/share/asterisk/moh").is_dir())


SPEECH_INSTALL = (
    "needs the speech packages: apt-get install --no-install-recommends espeak-ng flite "
    "asterisk-core-sounds-en-wav asterisk-moh-opsound-wav"
)

NEEDS = {
    "translate-bible": (
        bible_missing,
        "needs diatheke: apt-get install --no-install-recommends diatheke sword-text-web "
        "sword-text-sparv",
    ),
    "spoken-words": (speech_missing, SPEECH_INSTALL),
    "separation": (speech_missing, SPEECH_INSTALL),
}


@pytest.fixture(scope="session")
def quick_runs(tmp_path_factory):
    """``quick_runs(name)``: the folder of ``seqlab run NAME --preset quick``, run on first use."""
    made: dict[str, Path] = {}
    root = tmp_path_factory.mktemp("quick-runs")

    def get(name: str) -> Path:
        if name in NEEDS and NEEDS[name][0]():
            pytest.skip(NEEDS[name][1])
        if name not in made:
            out = root / name
            assert run_cli("run", name, "--preset", "quick", "--out", out, "--quiet") == 0
            made[name] = out
        return made[name]

    return get

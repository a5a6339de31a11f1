import pytest
import torch


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

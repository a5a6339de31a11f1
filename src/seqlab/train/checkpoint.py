"""Checkpoints written atomically, read with errors that say what is wrong.

A checkpoint is written with :func:`seqlab.files.atomic_write_bytes`: a crash or kill during
the write leaves the previous checkpoint intact.
"""

from pathlib import Path

import torch

from ..errors import CheckpointError
from ..files import atomic_write_bytes

FORMAT = "seqlab-checkpoint/1"


def save(obj: dict, path: Path) -> None:
    atomic_write_bytes(path, lambda f: torch.save({"format": FORMAT, **obj}, f))


def load(path: Path, map_location="cpu") -> dict:
    """A checkpoint's contents; a CheckpointError if it is missing, truncated or foreign."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"no checkpoint at {path}; was the run started with this folder?")
    try:
        obj = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as err:  # torch raises many types for a damaged file
        raise CheckpointError(
            f"{path} is not a readable checkpoint ({type(err).__name__}: {str(err)[:200]}); "
            "it may be damaged: start a new run, or restore the file"
        ) from None
    if not isinstance(obj, dict) or obj.get("format") != FORMAT:
        found = obj.get("format") if isinstance(obj, dict) else type(obj).__name__
        raise CheckpointError(f"{path} is not a {FORMAT} checkpoint (found {found!r})")
    return obj

"""Checkpoints written atomically, read with errors that say what is wrong.

A checkpoint is written to a temporary file in the same folder, flushed to disk, and renamed
over the old one: a crash or kill during the write leaves the previous checkpoint intact.
"""

import os
import tempfile
from pathlib import Path

import torch

from ..errors import CheckpointError

FORMAT = "seqlab-checkpoint/1"


def atomic_write_bytes(path: Path, write) -> None:
    """Run ``write(file)`` into a temporary sibling of ``path``, fsync it, rename it over."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)  # mkstemp's 0600 would hide the run's files from other users
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


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

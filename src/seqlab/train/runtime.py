"""Process-level set-up for training: the device, and the C allocator's trimming habit."""

import ctypes
import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager

import torch

from ..errors import InputError

log = logging.getLogger(__name__)

DEVICES = ("auto", "cpu", "cuda")


def select_device(choice: str, local_rank: int = 0) -> torch.device:
    """``auto`` takes CUDA when there is one, else the CPU; ``cuda`` without a GPU is an error."""
    if choice not in DEVICES and not choice.startswith("cuda:"):
        raise InputError(f"device={choice!r}: expected one of {DEVICES}")
    if choice == "auto":
        choice = "cuda" if torch.cuda.is_available() else "cpu"
    if choice.startswith("cuda"):
        if not torch.cuda.is_available():
            raise InputError("device='cuda' but torch sees no CUDA device; use --device cpu")
        return torch.device(choice if ":" in choice else f"cuda:{local_rank}")
    return torch.device("cpu")


def keep_freed_memory() -> bool:
    """Ask glibc to keep freed blocks for reuse instead of returning them to the OS.

    By default glibc serves buffers above its mmap threshold (128 KiB, adapting up to 32 MiB)
    with fresh ``mmap`` calls and unmaps them on ``free``, so every training step page-faults
    its activations in again; raising the mmap
    and trim thresholds (what ``MALLOC_MMAP_THRESHOLD_`` / ``MALLOC_TRIM_THRESHOLD_`` do)
    gave 12-32% more characters/s on the charlm step here, for torch.nn's kernels and
    seqlab's alike (README). The cost is a process that keeps its peak memory. Returns
    whether the setting took (glibc only)."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL("libc.so.6")
        M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3
        ok = (
            libc.mallopt(M_MMAP_THRESHOLD, 1 << 30) == 1
            and libc.mallopt(M_TRIM_THRESHOLD, 1 << 30) == 1
        )
    except (OSError, AttributeError):
        return False
    log.debug("glibc mmap/trim thresholds raised: %s", ok)
    return ok


@contextmanager
def one_thread() -> Iterator[None]:
    """Run the block with one intra-op thread, then restore the count.

    For small networks (tens of units): their products are far too small to share, and a second
    OpenMP thread only adds a synchronisation per op, which costs milliseconds instead of
    microseconds when another process keeps the other core busy.
    """
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)

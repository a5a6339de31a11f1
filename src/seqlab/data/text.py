"""Plain-text corpora: reading a file safely, a character vocabulary, and batches for truncated
backpropagation through time.

Truncated BPTT splits the corpus into ``B`` contiguous streams and walks them in chunks of
``T`` characters; chunk ``k+1`` of a stream continues where chunk ``k`` stopped, so a model can
carry its hidden state from one chunk to the next and still see every character once per epoch.
"""

import json
from pathlib import Path

import torch
from torch import Tensor

from ..errors import DataError, InputError


def read_text_file(path: str | Path) -> str:
    """A UTF-8 text file's contents; a DataError names the problem (missing, a folder, empty,
    binary, not UTF-8) and what to pass instead."""
    path = Path(path).expanduser()
    if not path.exists():
        raise DataError(f"data.path={str(path)!r} does not exist; pass an existing UTF-8 text file")
    if not path.is_file():
        raise DataError(f"data.path={str(path)!r} is not a file; pass a UTF-8 text file")
    raw = path.read_bytes()
    if not raw.strip():
        raise DataError(f"data.path={str(path)!r} is empty; pass a file with some text in it")
    if b"\x00" in raw[:65536]:
        raise DataError(
            f"data.path={str(path)!r} looks binary (it holds NUL bytes); pass a UTF-8 text file"
        )
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as err:
        raise DataError(
            f"data.path={str(path)!r} is not UTF-8 (byte {err.start}: {err.reason}); convert it, "
            "e.g. `iconv -f latin1 -t utf-8 FILE > FILE.utf8`"
        ) from None


class CharVocab:
    """Characters <-> integer ids, in sorted order of the characters."""

    def __init__(self, chars: str | list[str]):
        self.chars = sorted(set(chars))
        if not self.chars:
            raise DataError("a vocabulary needs at least one character")
        self.index = {c: i for i, c in enumerate(self.chars)}

    @classmethod
    def from_text(cls, text: str) -> "CharVocab":
        return cls(set(text))

    def __len__(self) -> int:
        return len(self.chars)

    def encode(self, text: str) -> Tensor:
        """(len(text),) int64 ids; an InputError lists the characters the vocabulary lacks."""
        unknown = sorted(set(text) - self.index.keys())
        if unknown:
            raise InputError(
                f"characters {''.join(unknown)!r} are not in the vocabulary of "
                f"{len(self)} characters this model was trained on; remove or replace them"
            )
        return torch.tensor([self.index[c] for c in text], dtype=torch.int64)

    def decode(self, ids) -> str:
        return "".join(self.chars[int(i)] for i in ids)

    def save(self, path: Path) -> None:
        path.write_text(json.dumps({"chars": self.chars}, ensure_ascii=False) + "\n", "utf-8")

    @classmethod
    def load(cls, path: Path) -> "CharVocab":
        try:
            return cls(json.loads(Path(path).read_text("utf-8"))["chars"])
        except (OSError, ValueError, KeyError, TypeError) as err:
            raise DataError(f"{path}: not a readable vocabulary ({err})") from None


class StreamBatches:
    """Chunks of ``B`` parallel streams for truncated BPTT, a pure function of the step number.

    ``batch(step)`` gives ``(x, y, fresh)``: inputs and next-character targets, both (B, T)
    int64, and whether this chunk starts an epoch (the carried state must then be reset). Each
    epoch shifts the streams' start by a seeded offset in ``[0, T)`` so chunk boundaries move.
    Because a batch depends only on ``step``, resuming a run needs no more than the step.

    With ``world > 1`` processes, rank ``r`` gets streams ``r·B/W .. (r+1)·B/W - 1``: together
    the ranks see exactly the single-process batch.
    """

    def __init__(self, ids: Tensor, batch_size: int, chunk_length: int, seed: int = 0):
        self.ids, self.batch_size, self.chunk_length, self.seed = (
            ids,
            batch_size,
            chunk_length,
            seed,
        )
        B, T = batch_size, chunk_length
        usable = len(ids) - 1 - T  # T characters are kept back for the per-epoch offset
        self.stream_length = usable // B if usable > 0 else 0
        self.chunks_per_epoch = self.stream_length // T
        if self.chunks_per_epoch < 1:
            raise DataError(
                f"the training text has {len(ids):,} characters, fewer than one batch of "
                f"{B} streams x {T} characters needs ({B * T + T + 1:,} at least, "
                f"~{2 * B * T:,} to be useful); use a longer text or smaller "
                "data.batch_size / data.chunk_length"
            )

    def epoch_offset(self, epoch: int) -> int:
        gen = torch.Generator().manual_seed(self.seed * 1_000_003 + epoch)
        return int(torch.randint(self.chunk_length, (1,), generator=gen))

    def batch(self, step: int, rank: int = 0, world: int = 1) -> tuple[Tensor, Tensor, bool]:
        if self.batch_size % world:
            raise InputError(
                f"batch_size={self.batch_size} does not split over {world} processes; "
                "use a multiple of the process count"
            )
        epoch, chunk = divmod(step, self.chunks_per_epoch)
        per_rank = self.batch_size // world
        streams = torch.arange(rank * per_rank, (rank + 1) * per_rank)
        starts = self.epoch_offset(epoch) + streams * self.stream_length + chunk * self.chunk_length
        index = starts[:, None] + torch.arange(self.chunk_length)  # (B, T)
        return self.ids[index], self.ids[index + 1], chunk == 0


def eval_chunks(ids: Tensor, batch_size: int, chunk_length: int, rank: int = 0, world: int = 1):
    """Yield ``(x, y, fresh)`` chunks covering ``ids`` once as ``B`` streams (the last chunk may be
    shorter); with ``world`` processes each rank gets its share of the streams."""
    B = min(batch_size, max(1, (len(ids) - 1) // max(1, chunk_length)))
    stream_length = (len(ids) - 1) // B
    if stream_length < 1:
        raise DataError(f"the validation text has {len(ids)} characters; it needs at least 2")
    streams = torch.arange(B)[rank::world]
    if len(streams) == 0:
        return
    starts = streams * stream_length
    for k, begin in enumerate(range(0, stream_length, chunk_length)):
        width = min(chunk_length, stream_length - begin)
        index = starts[:, None] + begin + torch.arange(width)
        yield ids[index], ids[index + 1], k == 0

"""Exceptions a user can cause. Each message names what was wrong and how to fix it."""


def one_line(err: BaseException, limit: int = 200) -> str:
    """A library's message (torch's spans one line per mismatched tensor) as one line of at
    most ``limit`` characters, to quote inside a seqlab error."""
    text = " ".join(str(err).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


class SeqlabError(Exception):
    """Base class of every error seqlab raises on purpose."""


class ShapeError(SeqlabError, ValueError):
    """A tensor argument has the wrong rank or size."""


class InputError(SeqlabError, ValueError):
    """An argument has a wrong value, dtype or device."""


class BackendError(SeqlabError, ValueError):
    """The requested backend cannot run this configuration."""


class ExportError(SeqlabError, RuntimeError):
    """A module cannot be compiled, traced or exported the way that was asked."""


class ConfigError(SeqlabError, ValueError):
    """An experiment configuration or a ``--set`` override is invalid."""


class DataError(SeqlabError):
    """A corpus is missing, unreadable, empty or too short."""


class CheckpointError(SeqlabError):
    """A checkpoint or run folder is corrupt, incomplete or belongs to something else."""


class DivergedError(SeqlabError):
    """Training diverged: a loss became non-finite or blew up (exploding gradients)."""

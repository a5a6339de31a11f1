"""Exceptions a user can cause. Each message names what was wrong and how to fix it."""


class SeqlabError(Exception):
    """Base class of every error seqlab raises on purpose."""


class ShapeError(SeqlabError, ValueError):
    """A tensor argument has the wrong rank or size."""


class InputError(SeqlabError, ValueError):
    """An argument has a wrong value, dtype or device."""


class BackendError(SeqlabError, ValueError):
    """The requested backend cannot run this configuration."""

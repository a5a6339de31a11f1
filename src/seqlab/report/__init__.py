"""Reading run folders back: the run summary schema every experiment writes, and the static
gallery ``seqlab report`` builds from run folders."""

from .gallery import Gallery, build_gallery
from .summary import SCHEMA, STATUSES, Artefact, Headline, Summary, format_value, read_summary

__all__ = [
    "SCHEMA",
    "STATUSES",
    "Artefact",
    "Gallery",
    "Headline",
    "Summary",
    "build_gallery",
    "format_value",
    "read_summary",
]

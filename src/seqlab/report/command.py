"""``seqlab report``: the command-line face of :func:`~seqlab.report.build_gallery`.

Wiring it into ``seqlab``'s parser (``cli.py``)::

    from .report import command as report_command
    report = sub.add_parser("report", help=report_command.HELP)
    report_command.add_arguments(report)
    report.set_defaults(func=report_command.run)

``python -m seqlab.report SOURCES --out SITE`` runs the same without ``seqlab``'s parser.
"""

import argparse
import logging
import sys
from pathlib import Path

from ..errors import SeqlabError
from .gallery import build_gallery

HELP = "write a static HTML gallery of run folders (index + a page per run)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "sources",
        nargs="+",
        metavar="RUN_DIR|FOLDER",
        help="run folders, or folders searched for run folders at any depth",
    )
    parser.add_argument(
        "--out",
        required=True,
        metavar="SITE",
        help="folder to write the gallery to (replaced if it holds an earlier gallery)",
    )


def run(args: argparse.Namespace) -> int:
    """Build the gallery; print where it is and what could not be shown."""
    gallery = build_gallery([Path(s) for s in args.sources], Path(args.out))
    for warning in gallery.warnings:
        print(f"  note: {warning}", file=sys.stderr)
    runs = gallery.runs
    print(f"gallery of {runs} run{'s' if runs != 1 else ''}: {gallery.index.resolve().as_uri()}")
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m seqlab.report", description=HELP)
    add_arguments(parser)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.ERROR, format="%(levelname)s %(name)s: %(message)s")
    try:
        return run(args)
    except SeqlabError as err:
        print(f"seqlab report: error: {err}", file=sys.stderr)
        return 2

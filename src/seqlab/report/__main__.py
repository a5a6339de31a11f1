"""``python -m seqlab.report SOURCES --out SITE`` (what ``seqlab report`` will run)."""

import sys

from .command import main

sys.exit(main())

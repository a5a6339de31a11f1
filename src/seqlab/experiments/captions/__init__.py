"""``seqlab run captions`` and ``seqlab caption``: visual attention (Xu et al. 2015) on scenes of
real handwritten digits.

- :mod:`.experiment` — the configuration, presets and run: three models trained side by side.
- :mod:`.task` — batches, the Trainer's task, decoding and the scores (BLEU, exact match,
  attention precision).
- :mod:`.report` — figures, headline and report. :mod:`.command` — ``seqlab caption``.
"""

from . import experiment  # noqa: F401 - registers the experiment

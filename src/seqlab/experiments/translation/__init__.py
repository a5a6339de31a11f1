"""Translation experiments: encoder-decoders from the table of translation models
(:data:`seqlab.models.TRANSLATION_MODELS`) trained side by side on one corpus with the same
data, steps and decoders, then decoded greedily and with beam search.

- :mod:`.dates` — ``translate-dates``: dates written in many locales -> ISO ``YYYY-MM-DD``.
- :mod:`.bible` — ``translate-bible``: English -> Spanish Bible verses.
- :mod:`.task`, :mod:`.pipeline`, :mod:`.report` — what both share: batches and the Trainer's
  task, training and decoding each model, ``seqlab translate``, and the report's common parts.
"""

from . import bible, dates  # noqa: F401 - each registers its experiment

"""The seams a new model family plugs into: the decoding step protocol and the translation
model protocol, and the table of translation models that experiments build from.

**Decoding step** (:class:`StepModel`). Sampling, greedy and beam search
(:mod:`seqlab.decode`) drive every autoregressive model through one method::

    step(tokens (N,) long, state) -> (logits (N, V), state, attention (N, S) or None)

``state`` is ``None`` (the model starts from nothing) or a tree of tensors whose leading dim is
the N rows (a recurrent state transposed to batch-first, an encoder's outputs and mask, a
Transformer's key/value cache); search reorders and widens it by that dim. Token ids follow
one convention (:mod:`seqlab.data.vocab`): 0 padding, 1 begin (BOS), 2 end (EOS), 3 unknown,
the vocabulary's tokens from 4 — except the character LM, whose ids are its characters.

**Translation model** (:class:`TranslationModel`): a step model with an encoder::

    encode(source (B, S), lengths (B,)) -> state            the decoder's first state
    forward(source, lengths, previous (B, T)) -> (logits (B, T, V), alignment (B, T, S) or None)

``forward`` is teacher forcing (``previous`` = BOS then the target shifted right); ``step``
continues from ``encode``'s state one token at a time.

**The table** (:data:`TRANSLATION_MODELS`). A family registers its variants with
:func:`register_translation_model`: a name for ``--set models=...``, a label for reports, the
configuration section it is built from, a builder and a one-line description. Translation
experiments build whatever ``models=`` names from it; a new family is its model file, its
registration and a configuration section in the experiments that train it.
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from torch import Tensor

from ..errors import ConfigError

State = Any  # None | Tensor | tuple / list / dict of States, leading dim N


@runtime_checkable
class StepModel(Protocol):
    def step(self, tokens: Tensor, state: State) -> tuple[Tensor, State, Tensor | None]:
        """One decoding step: the next token's logits, the new state, attention or None."""


@runtime_checkable
class TranslationModel(StepModel, Protocol):
    def encode(self, source: Tensor, lengths: Tensor) -> State:
        """The decoder's first state from source ids (B, S) and their lengths (B,)."""

    def forward(
        self, source: Tensor, lengths: Tensor, previous: Tensor
    ) -> tuple[Tensor, Tensor | None]:
        """Teacher-forced logits (B, T, V) and the alignment (B, T, S) or None."""


@dataclass(frozen=True)
class TranslationVariant:
    """One row of the table.

    name: the ``models=`` value (``"additive"``). label: how reports name it
    (``"attention (additive)"``). section: the experiment configuration's section it is built
    from (``"rnn"``). build: ``(section config, source vocab size, target vocab size)`` -> a
    :class:`TranslationModel`. describe: ``(section config)`` -> a sentence for reports.
    attends: whether ``step`` returns attention (alignment maps can be drawn).
    """

    name: str
    label: str
    section: str
    build: Callable[[Any, int, int], TranslationModel]
    describe: Callable[[Any], str]
    attends: bool


TRANSLATION_MODELS: dict[str, TranslationVariant] = {}


def register_translation_model(variant: TranslationVariant) -> TranslationVariant:
    if variant.name in TRANSLATION_MODELS:
        raise ValueError(f"translation model {variant.name!r} is registered twice")
    TRANSLATION_MODELS[variant.name] = variant
    return variant


def translation_variant(name: str, cfg=None) -> TranslationVariant:
    """The variant called ``name``; with an experiment configuration ``cfg``, also check that
    it has the section the variant is built from. A ConfigError names what is wrong."""
    if name not in TRANSLATION_MODELS:
        raise ConfigError(
            f"models: unknown translation model {name!r}; choose from "
            f"{', '.join(TRANSLATION_MODELS)}"
        )
    variant = TRANSLATION_MODELS[name]
    if cfg is not None and not hasattr(cfg, variant.section):
        raise ConfigError(
            f"models: {name!r} is built from a {variant.section!r} section, which this "
            "experiment's configuration does not have"
        )
    return variant

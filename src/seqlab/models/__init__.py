"""Models built from the engine: embeddings, recurrent stacks, attention and read-outs, the one
factory for recurrent layers, and the protocols a model family plugs into."""

from .captioner import Captioner, CaptionerConfig
from .charlm import CharLM, CharLMConfig
from .layers import BACKENDS, CELLS, recurrent_cell, recurrent_layer
from .protocols import (
    TRANSLATION_MODELS,
    StepModel,
    TranslationModel,
    TranslationVariant,
    register_translation_model,
    translation_variant,
)
from .selfattentive import KeywordClassifier, SelfAttentiveClassifier, SelfAttentiveConfig
from .separator import Separator
from .seq2seq import Seq2Seq, Seq2SeqConfig
from .spoken import FrameClassifier
from .tagger import SequenceTagger
from .topologies import ClassToSequence, Decoder, EncoderDecoder, SequenceClassifier
from .transformer import Transformer, TransformerConfig
from .transformer_lm import TransformerLM

__all__ = [
    "BACKENDS",
    "CELLS",
    "TRANSLATION_MODELS",
    "Captioner",
    "CaptionerConfig",
    "CharLM",
    "CharLMConfig",
    "ClassToSequence",
    "Decoder",
    "EncoderDecoder",
    "FrameClassifier",
    "KeywordClassifier",
    "Seq2Seq",
    "Seq2SeqConfig",
    "SelfAttentiveClassifier",
    "Separator",
    "SelfAttentiveConfig",
    "SequenceClassifier",
    "SequenceTagger",
    "StepModel",
    "TranslationModel",
    "Transformer",
    "TransformerConfig",
    "TransformerLM",
    "TranslationVariant",
    "recurrent_cell",
    "recurrent_layer",
    "register_translation_model",
    "translation_variant",
]

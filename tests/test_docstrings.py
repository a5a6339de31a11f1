"""The usage examples in public docstrings run, and print what they say (doctest)."""

import doctest
import importlib

import pytest
import torch

import seqlab

MODULES = [
    "seqlab.attention.additive",
    "seqlab.attention.dot",
    "seqlab.attention.multihead",
    "seqlab.attention.scaled_dot",
    "seqlab.attention.structured",
    "seqlab.recurrent.rnn",
    "seqlab.recurrent.lstm",
    "seqlab.recurrent.gru",
    "seqlab.models.captioner",
    "seqlab.models.charlm",
    "seqlab.models.seq2seq",
    "seqlab.models.selfattentive",
    "seqlab.models.tagger",
    "seqlab.models.topologies",
    "seqlab.models.transformer",
    "seqlab.models.transformer_layers",
    "seqlab.models.transformer_lm",
]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_run(name):
    module = importlib.import_module(name)
    result = doctest.testmod(
        module, extraglobs={"torch": torch, "seqlab": seqlab}, optionflags=doctest.ELLIPSIS
    )
    assert result.attempted > 0, f"{name} has no example"
    assert result.failed == 0

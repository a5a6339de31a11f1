"""Token vocabularies (specials, build order, unknown tokens, files) and the tokenizers."""

import json

import pytest
import torch

from seqlab.data.vocab import (
    BOS,
    EOS,
    PAD,
    UNK,
    TokenVocab,
    char_tokens,
    detokenize,
    word_tokens,
)
from seqlab.errors import DataError, InputError


def test_specials_take_ids_0_to_3_in_every_vocabulary():
    for vocab in (TokenVocab([]), TokenVocab(["b", "a"]), TokenVocab.build([["x"]])):
        assert vocab.tokens[:4] == ["<pad>", "<s>", "</s>", "<unk>"] == [PAD, BOS, EOS, UNK]
        assert (vocab.pad, vocab.bos, vocab.eos, vocab.unk) == (0, 1, 2, 3)
    vocab = TokenVocab(["b", "a"])
    assert len(vocab) == 6 and vocab.tokens == [PAD, BOS, EOS, UNK, "b", "a"]
    assert vocab.decode([1, 4, 5, 2, 0]) == ["<s>", "b", "a", "</s>", "<pad>"]


def test_round_trip():
    vocab = TokenVocab(["the", "cat", "sat", "."])
    sentence = ["the", "cat", "sat", ".", "the"]
    assert vocab.encode(sentence) == [4, 5, 6, 7, 4]
    assert vocab.decode(vocab.encode(sentence)) == sentence
    assert vocab.decode(torch.tensor([4, 5])) == ["the", "cat"]  # tensors of ids work too


def test_build_orders_by_count_then_alphabet_and_limits_the_size():
    sequences = [["b", "a", "c", "a"], ["c", "d", "a", "e"], ["b", "<s>", "c"]]
    # a: 3, c: 3, b: 2, d: 1, e: 1; the special <s> is not counted as a token
    assert TokenVocab.build(sequences).tokens[4:] == ["a", "c", "b", "d", "e"]
    assert TokenVocab.build(sequences, min_count=2).tokens[4:] == ["a", "c", "b"]
    assert TokenVocab.build(sequences, max_size=2).tokens[4:] == ["a", "c"]
    assert TokenVocab.build(iter(sequences), min_count=3, max_size=1).tokens[4:] == ["a"]


def test_unknown_tokens_raise_with_their_names_or_map_to_unk():
    vocab = TokenVocab(["a", "b"])
    assert vocab.unknown(["x", "a", "y", "x"]) == ["x", "y"]
    with pytest.raises(InputError, match=r"2 token\(s\) .* vocabulary of 6 tokens: 'x', 'y';"):
        vocab.encode(["x", "a", "y", "x"])
    assert vocab.encode(["x", "a", "y"], unknown="unk") == [3, 4, 3]
    many = [f"w{i}" for i in range(25)]
    with pytest.raises(InputError, match=r"25 token\(s\).*'w9' and 15 more; .*unknown='unk'"):
        vocab.encode(many)
    with pytest.raises(InputError, match=r"unknown='skip': expected 'error' or 'unk'"):
        vocab.encode(["a"], unknown="skip")
    with pytest.raises(InputError, match=r"got a string; tokenize it first"):
        vocab.encode("ab")
    with pytest.raises(InputError, match=r"id 6 is outside this vocabulary of 6 tokens"):
        vocab.decode([4, 6])


@pytest.mark.parametrize(
    "tokens, message",
    [
        (["a", "<unk>"], r"\['<unk>'\] are special tokens"),
        (["a", "b", "a"], r"tokens \['a'\] appear twice"),
        (["a", ""], r"non-empty strings"),
    ],
)
def test_bad_token_lists_are_refused(tokens, message):
    with pytest.raises(InputError, match=message):
        TokenVocab(tokens)


def test_build_arguments_are_checked():
    with pytest.raises(InputError, match=r"min_count=0: expected an integer >= 1"):
        TokenVocab.build([["a"]], min_count=0)
    with pytest.raises(InputError, match=r"max_size=-1"):
        TokenVocab.build([["a"]], max_size=-1)
    with pytest.raises(InputError, match=r"got a string; tokenize it first"):
        TokenVocab.build(["a sentence"])


def test_save_and_load(tmp_path):
    vocab = TokenVocab.build([word_tokens("Él dijo: “¿Dónde está?”")])
    vocab.save(tmp_path / "vocab.json")
    loaded = TokenVocab.load(tmp_path / "vocab.json")
    assert loaded == vocab and loaded.tokens == vocab.tokens
    assert "¿" in (tmp_path / "vocab.json").read_text("utf-8")  # readable, not \u escapes
    assert [p.name for p in tmp_path.iterdir()] == ["vocab.json"]  # no temporary file left


@pytest.mark.parametrize(
    "content, message",
    [
        (None, "No such file"),
        ('{"format": "seqlab.TokenVocab/1", "specials"', "Expecting"),
        ('{"tokens": ["a"]}', "'format'"),
        ('{"format": "other", "specials": [], "tokens": []}', "format 'other'"),
        (
            '{"format": "seqlab.TokenVocab/1", "specials": ["<pad>", "<s>", "</s>", "<unk>"],'
            ' "tokens": "abc"}',
            "'tokens' is not a list",
        ),
        (
            '{"format": "seqlab.TokenVocab/1", "specials": ["<pad>", "<s>", "</s>", "<unk>"],'
            ' "tokens": ["a", "a"]}',
            "appear twice",
        ),
    ],
)
def test_a_damaged_file_is_a_data_error(tmp_path, content, message):
    path = tmp_path / "vocab.json"
    if content is not None:
        path.write_text(content, "utf-8")
    with pytest.raises(
        DataError, match=rf"vocab.json: not a readable token vocabulary .*{message}"
    ):
        TokenVocab.load(path)


def test_saved_format_is_plain_json(tmp_path):
    TokenVocab(["x", "y"]).save(tmp_path / "v.json")
    assert json.loads((tmp_path / "v.json").read_text("utf-8"))["tokens"] == ["x", "y"]


@pytest.mark.parametrize(
    "text, tokens",
    [
        ("He said, “Don’t go!”", ["he", "said", ",", '"', "don't", "go", "!", '"']),
        ("¿Dónde está el niño?", ["¿", "dónde", "está", "el", "niño", "?"]),
        (
            "A well-known (old) man—Yahweh’s.",
            ["a", "well-known", "(", "old", ")", "man", "—", "yahweh's", "."],
        ),
        ("3/4/98 is 1998-04-03", ["3", "/", "4", "/", "98", "is", "1998-04-03"]),
        ("  ‘Yes’ -- no_way ", ["'", "yes", "'", "-", "-", "no", "_", "way"]),
        ("", []),
    ],
)
def test_word_tokens(text, tokens):
    assert word_tokens(text) == tokens


def test_word_tokens_normalise_unicode_composition():
    assert word_tokens("cafe\u0301") == word_tokens("caf\u00e9") == ["caf\u00e9"]


def test_char_tokens_keep_everything():
    assert char_tokens("Mär 3,\u00a0") == ["M", "ä", "r", " ", "3", ",", "\u00a0"]


@pytest.mark.parametrize(
    "text, expected",
    [
        ("He said, “Don’t go!” (twice)", 'he said, "don\'t go!" (twice)'),
        ("¿Dónde está? ¡Aquí!", "¿dónde está? ¡aquí!"),
        ("Wait; then: go.", "wait; then: go."),
        ("choler—we’ll draw", "choler—we'll draw"),
        ("She said ‘go’ and “stay”.", "she said 'go' and \"stay\"."),
    ],
)
def test_detokenize_undoes_word_tokens_up_to_case_and_quotes(text, expected):
    assert detokenize(word_tokens(text)) == expected


def test_detokenize_spacing_rules():
    assert detokenize([]) == ""
    assert detokenize(["a", ",", "b", ".", ")", "’", "”"]) == "a, b.)’”"
    assert detokenize(["(", "¿", "¡", "“", "x"]) == "(¿¡“x"
    assert detokenize(['"', "a", '"', "b", '"', "c", '"']) == '"a" b "c"'


def test_detokenized_text_scores_full_bleu_against_its_source():
    sacrebleu = pytest.importorskip("sacrebleu")
    sources = [
        "He said, “Don’t go!” (twice)",
        "¿Dónde está? ¡Aquí!",
        "Moses—the man of God—said: ‘Listen.’",
        "In the beginning, God created the heavens and the earth.",
    ]
    references = [s.lower().replace("“", '"').replace("”", '"').replace("‘", "'") for s in sources]
    references = [r.replace("’", "'") for r in references]
    hypotheses = [detokenize(word_tokens(s)) for s in sources]
    assert hypotheses == references
    assert sacrebleu.corpus_bleu(hypotheses, [references]).score == pytest.approx(100)
    # sacreBLEU's tokenizer splits ASCII punctuation again, but not ¿ ¡ — nor a single quote:
    # tokens joined by plain spaces would lose n-grams there.
    spaced = [" ".join(word_tokens(s)) for s in sources]
    assert sacrebleu.corpus_bleu(spaced, [references]).score < 100

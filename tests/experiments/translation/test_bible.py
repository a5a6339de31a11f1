"""`seqlab run translate-bible` and `seqlab translate` on its runs (needs Debian's diatheke)."""

import json

import pytest

from seqlab.data.vocab import detokenize, word_tokens
from seqlab.experiments import rundir
from seqlab.experiments.translation.bible import bleu, build_corpus
from seqlab.experiments.translation.pipeline import load_trained
from seqlab.experiments.translation.task import decode_corpus
from seqlab.train import distributed

from ...runs import run_cli


@pytest.fixture
def bible_run(quick_runs):
    return quick_runs("translate-bible")


def test_bleu_in_the_summary_is_what_the_saved_models_score(bible_run):
    s = json.loads((bible_run / "summary.json").read_text())["details"]
    run = rundir.reopen(str(bible_run), distributed.Context())
    corpus = build_corpus(run.cfg)
    for kind, r in s["results"].items():
        model, _, target_vocab, _ = load_trained(run, kind)
        hyps = decode_corpus(model, corpus.test_sources, target_vocab.bos, target_vocab.eos,
                             run.cfg.decode, run.cfg.decode.beam)  # fmt: skip
        texts = [detokenize(target_vocab.decode(h.tokens)) for h in hyps]
        assert r["bleu_beam"] == pytest.approx(bleu(texts, corpus.test_references), abs=1e-9)
        assert sum(n for _, _, n in r["by_length"]) == len(corpus.test_sources)
    assert (bible_run / "figures" / "bleu_by_length.png").stat().st_size > 10_000


def test_translate_refuses_unknown_words_unless_allowed(bible_run, capsys):
    assert run_cli("translate", bible_run, "qwertyuiop and God") == 2
    assert "qwertyuiop" in capsys.readouterr().err
    assert run_cli("translate", bible_run, "qwertyuiop and God", "--allow-unknown") == 0
    out_text, err = capsys.readouterr()
    assert out_text.strip() and "read as <unk>: qwertyuiop" in err
    assert word_tokens(out_text)  # a translation in words

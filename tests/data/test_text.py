"""Reading text files, the character vocabulary and truncated-BPTT batches."""

import pytest
import torch

from seqlab.data.text import CharVocab, StreamBatches, eval_chunks, read_text_file
from seqlab.errors import DataError, InputError


def test_vocab_round_trip_and_save(tmp_path):
    vocab = CharVocab.from_text("hello, world\n")
    assert vocab.chars == sorted(set("hello, world\n"))
    assert vocab.decode(vocab.encode("low, hello")) == "low, hello"
    vocab.save(tmp_path / "v.json")
    assert CharVocab.load(tmp_path / "v.json").chars == vocab.chars


def test_vocab_names_unknown_characters():
    with pytest.raises(InputError, match=r"'QZ' are not in the vocabulary"):
        CharVocab.from_text("abc").encode("aQbZ")


@pytest.mark.parametrize(
    "content, message",
    [
        (None, "does not exist"),
        (b"", "is empty"),
        (b"  \n\n", "is empty"),
        (b"PK\x03\x04\x00\x00binary", "looks binary"),
        ("caf\u00e9".encode("latin-1"), "is not UTF-8"),
    ],
)
def test_bad_text_files_are_named(tmp_path, content, message):
    path = tmp_path / "corpus.txt"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(DataError, match=message):
        read_text_file(path)


def test_a_folder_is_not_a_text_file(tmp_path):
    with pytest.raises(DataError, match="is not a file"):
        read_text_file(tmp_path)


def test_streams_continue_across_chunks_and_epochs_reset():
    ids = torch.arange(10_000)
    batches = StreamBatches(ids, batch_size=4, chunk_length=16, seed=3)
    x0, y0, fresh0 = batches.batch(0)
    x1, y1, fresh1 = batches.batch(1)
    assert fresh0 and not fresh1
    assert x0.shape == (4, 16)
    assert torch.equal(y0, x0 + 1)  # targets are the next character
    assert torch.equal(x1[:, 0], x0[:, -1] + 1)  # chunk 1 continues each stream of chunk 0
    n = batches.chunks_per_epoch
    x_next_epoch, _, fresh = batches.batch(n)
    assert fresh
    assert int(x_next_epoch.max()) < len(ids) - 1
    last_x, last_y, _ = batches.batch(n - 1)
    assert int(last_y.max()) <= len(ids) - 1


def test_ranks_split_the_single_process_batch():
    batches = StreamBatches(torch.arange(50_000), batch_size=8, chunk_length=32)
    for step in (0, 5, batches.chunks_per_epoch + 2):
        x, y, _ = batches.batch(step)
        parts = [batches.batch(step, rank, 2) for rank in range(2)]
        assert torch.equal(torch.cat([p[0] for p in parts]), x)
        assert torch.equal(torch.cat([p[1] for p in parts]), y)
    with pytest.raises(InputError, match="does not split over 3 processes"):
        batches.batch(0, 0, 3)


def test_a_corpus_shorter_than_one_batch_says_what_it_needs():
    with pytest.raises(DataError, match="fewer than one batch.*data.batch_size"):
        StreamBatches(torch.arange(1000), batch_size=64, chunk_length=128)


def test_eval_chunks_cover_the_text_once():
    ids = torch.arange(1001)
    seen = torch.cat([x.flatten() for x, _, _ in eval_chunks(ids, 4, 64)])
    assert torch.equal(seen.sort().values, torch.arange(1000))
    halves = [torch.cat([x.flatten() for x, _, _ in eval_chunks(ids, 4, 64, r, 2)]) for r in (0, 1)]
    assert torch.equal(torch.cat(halves).sort().values, torch.arange(1000))

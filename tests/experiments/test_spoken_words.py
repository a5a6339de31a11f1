"""spoken-words: the measurements on hand-made decisions, the frame targets, and the quick run."""

import json

import pytest
import torch
from torch import nn

from seqlab.data.spoken import UtteranceSet
from seqlab.experiments.spoken_words.task import SpokenTask, frame_loss, frame_mask, measure
from seqlab.models.spoken import FrameClassifier
from seqlab.train import Context


class Scripted(nn.Module):
    """Frame logits given in advance: a model whose decisions the test knows."""

    def __init__(self, logits):
        super().__init__()
        self.logits = logits

    def forward(self, x):
        return self.logits


def decisions_to_logits(rows: list[str]) -> torch.Tensor:
    """'0011' -> logits deciding class 0, 0, 1, 1 (margin 2)."""
    d = torch.tensor([[int(c) for c in row] for row in rows])
    return torch.stack([1.0 - d, d.float()], -1) * 2.0


def utterances(y, spans, T):
    return UtteranceSet(torch.zeros(len(y), T, 13), torch.tensor(y), spans, [None] * len(y))


def test_the_decision_frame_is_where_the_final_class_holds_to_the_end():
    data = utterances([0, 1, 1], [((2, 6),), ((2, 6),), ((2, 6),)], 10)
    logits = decisions_to_logits(["0000000000", "0001111111", "1100001111"])
    found = measure(Scripted(logits), data, "a")
    # row 0: right from frame 0, counted from the word's onset (2); its last frame is 5 -> -3;
    # row 1: from 3 -> -2; row 2: pooled class 1 (6 of 10 frames), decided from frame 6 -> +1
    assert found["accuracy"] == 1.0 and found["decision_offsets"] == [-3, -2, 1]


def test_a_flip_counts_only_when_one_holds_until_two_begins_and_one_two_after():
    spans2 = ((1, 4), (6, 9))
    data = utterances([1, 1, 1, 1, 0, 0], [spans2] * 4 + [((1, 4),)] * 2, 12)
    logits = decisions_to_logits([
        "000000011111",  # flips at 7, after "two" begins at 6: counted, delay 1
        "111111111111",  # "one two" from the start: not a flip
        "000001111111",  # flips at 5, before "two" begins: not counted
        "000000111100",  # flips, then back: not counted
        "000000000000",  # "one" steady
        "000000011000",  # "one" flipping
    ])  # fmt: skip
    found = measure(Scripted(logits), data, "b")
    assert found["flip_share"] == 0.25 and found["flip_delays"] == [1]
    assert found["never_flip_share"] == 0.5


def test_frames_before_two_are_unscored_in_part_b_only():
    data = utterances([0, 1], [((1, 4),), ((1, 4), (6, 9))], 10)
    assert frame_mask(data, prefix_unscored=False).all()
    mask = frame_mask(data, prefix_unscored=True)
    assert mask[0].all() and mask[1].tolist() == [False] * 6 + [True] * 4
    logits = torch.zeros(2, 10, 2)
    logits[1, :6, 0] = 100.0  # wrong but unscored frames cost nothing
    assert frame_loss(logits, data.y, mask) == pytest.approx(torch.log(torch.tensor(2.0)).item())


def test_the_task_draws_batches_by_step_and_learns_a_separable_set():
    torch.manual_seed(0)
    x = torch.randn(16, 20, 13)
    y = torch.arange(16) % 2
    x[y == 1, 5:, 0] += 3.0  # class 1: coefficient 0 rises after frame 5
    data = UtteranceSet(x, y, [((5, 15),)] * 16, [None] * 16)
    task = SpokenTask(data, data, False, batch_size=8, seed=0)
    ctx = Context()
    assert torch.equal(task.train_batch(3, ctx)[0], task.train_batch(3, ctx)[0])
    model = FrameClassifier(13, 3, 2, backend="seqlab")
    model.fit_normaliser(x)
    opt = torch.optim.Adam(model.parameters(), lr=0.05)
    for step in range(150):
        loss, _, _ = task.train_step(model, task.train_batch(step, ctx), None)
        opt.zero_grad()
        loss.backward()
        opt.step()
    metrics = task.evaluate(model, ctx)
    assert metrics["accuracy"] == (16.0, 16)


def test_quick_run_reports_both_parts_on_held_out_voices(quick_runs):
    folder = quick_runs("spoken-words")
    summary = json.loads((folder / "summary.json").read_text())
    details = summary["details"]
    held_out = set(details["voices"]["held_out"])
    assert held_out and not held_out & set(details["voices"]["train"])
    for part in ("a", "b"):
        rows = details[part]["results"]
        assert {r["per_class"] for r in rows} == {4, 8}
        for r in rows:
            assert 0 <= r["synthetic"] <= 1 and 0 <= r["human"] <= 1
            assert not set(r["train_voices"]) & held_out
    assert all("flip_share" in r for r in details["b"]["results"])
    names = {h["name"] for h in summary["headline"]}
    assert any("flips" in n for n in names) and any("decision frame" in n for n in names)
    for name in ("decision_a", "units_a", "data_size_a", "decision_b", "units_b"):
        assert (folder / "figures" / f"{name}.png").stat().st_size > 10_000

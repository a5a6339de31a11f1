"""The topologies' small models: what each reads, where its state comes from, and that greedy
decoding is the teacher-forced model fed its own outputs."""

import pytest
import torch
import torch.nn.functional as F

from seqlab.data import topologies as data
from seqlab.data.synthetic import generator
from seqlab.data.vocab import PAD_ID
from seqlab.models.tagger import SequenceTagger
from seqlab.models.topologies import ClassToSequence, EncoderDecoder, SequenceClassifier


def test_one_step_rnn_is_a_feed_forward_net_and_u_gets_no_gradient():
    net = SequenceTagger("rnn", 6, 5, 3, "tanh", "auto").double()
    x = torch.randn(4, 1, 6, dtype=torch.float64)
    out = net(x)[0][:, 0]
    r = net.rnn
    hidden = torch.tanh(x[:, 0] @ r.weight_ih_l0.T + r.bias_ih_l0 + r.bias_hh_l0)
    torch.testing.assert_close(out, net.readout(hidden))
    out.sum().backward()
    assert torch.count_nonzero(r.weight_hh_l0.grad) == 0
    assert torch.count_nonzero(r.weight_ih_l0.grad) > 0


@pytest.mark.parametrize("cell", ["gru", "lstm"])
def test_classifier_reads_out_each_sequence_at_its_own_last_frame(cell):
    model = SequenceClassifier(len(data.DIGITS), 4, 8, 10, cell).eval()
    x, lengths, _ = data.digit_sums(5, 2, 7, generator(0, 0))
    batched = model(x, lengths)
    for i in range(5):
        alone = model(x[i : i + 1, : lengths[i]], lengths[i : i + 1])
        torch.testing.assert_close(batched[i : i + 1], alone, atol=1e-6, rtol=1e-5)
    x[0, lengths[0] :] = 13  # what lies past a length changes nothing
    torch.testing.assert_close(model(x, lengths), batched)


@pytest.mark.parametrize("cell", ["gru", "lstm"])
def test_greedy_decoding_is_the_teacher_forced_model_fed_its_own_argmax(cell):
    model = EncoderDecoder(len(data.DIGITS), 6, 12, cell).eval()
    src, lengths, _ = data.reversals(6, 3, 5, generator(0, 0))
    greedy = model.generate(src, lengths, 7)  # (B, 7)
    assert greedy.shape == (6, 7)
    logits = model(src, lengths, data.teacher_inputs(greedy))  # (B, 7, V)
    for row, fed in zip(greedy, logits.argmax(-1), strict=True):
        n = len(data.until_end(row))
        assert torch.equal(row[: min(n + 1, 7)], fed[: min(n + 1, 7)])


def test_the_encoders_final_state_is_the_only_path_from_the_source():
    model = EncoderDecoder(len(data.DIGITS), 6, 12, "gru").eval()
    src, lengths, tgt = data.reversals(4, 3, 5, generator(1, 0))
    previous = data.teacher_inputs(tgt)
    state = model.encode(src, lengths)  # (1, B, H)
    direct = model.decoder(previous, state)[0]
    torch.testing.assert_close(model(src, lengths, previous), direct)
    src[0, lengths[0] :] = 11  # past the length: not read
    torch.testing.assert_close(model(src, lengths, previous), direct)


def test_class_to_sequence_starts_from_its_class_state():
    model = ClassToSequence(10, len(data.LETTERS), 4, 8, "lstm").eval()
    digits = torch.tensor([3, 3, 5])
    h, c = model.start(digits)
    assert h.shape == c.shape == (1, 3, 8) and torch.count_nonzero(c) == 0
    torch.testing.assert_close(h[0], torch.tanh(model.initial.weight[digits]))
    out = model.generate(digits, 6)
    assert out.shape == (3, 6) and torch.equal(out[0], out[1])


def test_the_encoder_decoder_learns_to_reverse_one_batch():
    torch.manual_seed(0)
    model = EncoderDecoder(len(data.DIGITS), 8, 32, "gru")
    src, lengths, tgt = data.reversals(16, 3, 5, generator(0, 0))
    previous = data.teacher_inputs(tgt)
    opt = torch.optim.Adam(model.parameters(), 1e-2)
    for _ in range(150):
        logits = model(src, lengths, previous)
        loss = F.cross_entropy(logits.flatten(0, 1), tgt.flatten(), ignore_index=PAD_ID)
        opt.zero_grad()
        loss.backward()
        opt.step()
    model.eval()
    out = model.generate(src, lengths, tgt.shape[1])
    right = [data.until_end(o) == data.until_end(t) for o, t in zip(out, tgt, strict=True)]
    assert sum(right) >= 14, f"{sum(right)}/16 reversed after 150 steps (loss {loss:.3f})"

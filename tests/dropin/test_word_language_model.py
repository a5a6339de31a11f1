"""PyTorch's word_language_model example with seqlab in place of torch.nn, in its own pattern:
an RNNModel of encoder, recurrent module and decoder built with ``getattr(library, rnn_type)``,
optionally tied weights, truncated BPTT with ``repackage_hidden``, ``torch.save(model)`` and a
``torch.load`` under the default weights_only with the example's own list of safe globals (which
names torch's classes only), then generation by sampling, and the example's ONNX export."""

import io

import onnxruntime
import pytest
import torch
import torch.nn.functional as F
from torch import nn

import seqlab

LIBRARIES = {"torch.nn": nn, "seqlab": seqlab}
RNN_TYPES = ["LSTM", "GRU", "RNN_TANH", "RNN_RELU"]
NTOKENS, EMSIZE, NHID, NLAYERS, BPTT, BATCH = 12, 16, 16, 2, 7, 5


class RNNModel(nn.Module):
    """Encoder (embedding), a recurrent module, decoder (linear to the vocabulary)."""

    def __init__(self, library, rnn_type, ntoken, ninp, nhid, nlayers, dropout=0.5, tied=False):
        super().__init__()
        self.ntoken = ntoken
        self.drop = nn.Dropout(dropout)
        self.encoder = nn.Embedding(ntoken, ninp)
        if rnn_type in ["LSTM", "GRU"]:
            self.rnn = getattr(library, rnn_type)(ninp, nhid, nlayers, dropout=dropout)
        else:
            nonlinearity = {"RNN_TANH": "tanh", "RNN_RELU": "relu"}[rnn_type]
            self.rnn = library.RNN(ninp, nhid, nlayers, nonlinearity=nonlinearity, dropout=dropout)
        self.decoder = nn.Linear(nhid, ntoken)
        if tied:  # Press & Wolf 2016, Inan et al. 2016: the decoder reads the embedding
            self.decoder.weight = self.encoder.weight
        nn.init.uniform_(self.encoder.weight, -0.1, 0.1)
        nn.init.zeros_(self.decoder.bias)
        nn.init.uniform_(self.decoder.weight, -0.1, 0.1)
        self.rnn_type, self.nhid, self.nlayers = rnn_type, nhid, nlayers

    def forward(self, input, hidden):
        emb = self.drop(self.encoder(input))  # (T, B, E)
        output, hidden = self.rnn(emb, hidden)  # (T, B, H)
        decoded = self.decoder(self.drop(output)).view(-1, self.ntoken)  # (T·B, V)
        return F.log_softmax(decoded, dim=1), hidden

    def init_hidden(self, bsz):
        weight = next(self.parameters())
        if self.rnn_type == "LSTM":
            return (
                weight.new_zeros(self.nlayers, bsz, self.nhid),
                weight.new_zeros(self.nlayers, bsz, self.nhid),
            )
        return weight.new_zeros(self.nlayers, bsz, self.nhid)


# The example's list for its recurrent models (main.py, generate.py): torch's classes only.
EXAMPLE_SAFE_GLOBALS = [
    RNNModel,
    torch.nn.modules.dropout.Dropout,
    torch.nn.modules.linear.Linear,
    torch.nn.modules.rnn.GRU,
    torch.nn.modules.rnn.LSTM,
    torch.nn.modules.rnn.RNN,
    torch.nn.modules.sparse.Embedding,
]


def batchify(data, bsz):
    nbatch = data.size(0) // bsz
    return data.narrow(0, 0, nbatch * bsz).view(bsz, -1).t().contiguous()  # (N, B)


def get_batch(source, i):
    seq_len = min(BPTT, len(source) - 1 - i)
    return source[i : i + seq_len], source[i + 1 : i + 1 + seq_len].view(-1)


def repackage_hidden(h):
    """Detach the carried state from the steps that produced it (truncated BPTT)."""
    if isinstance(h, torch.Tensor):
        return h.detach()
    return tuple(repackage_hidden(v) for v in h)


def corpus():
    """A token stream with structure to learn: a cycle of 9 tokens with a little noise."""
    gen = torch.Generator().manual_seed(0)
    data = torch.arange(400) % 9
    noise = torch.rand(400, generator=gen) < 0.05
    return torch.where(noise, torch.randint(9, NTOKENS, (400,), generator=gen), data)


def train(model, data, lr=5.0, clip=0.25):
    """One epoch of the example's train(): returns the loss of every batch."""
    model.train()
    losses = []
    hidden = model.init_hidden(BATCH)
    for i in range(0, data.size(0) - 1, BPTT):
        inputs, targets = get_batch(data, i)
        hidden = repackage_hidden(hidden)
        model.zero_grad()
        output, hidden = model(inputs, hidden)
        loss = F.nll_loss(output, targets)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), clip)
        for p in model.parameters():
            p.data.add_(p.grad, alpha=-lr)
        losses.append(loss.item())
    return losses


def evaluate(model, data):
    model.eval()
    total, hidden = 0.0, model.init_hidden(BATCH)
    with torch.no_grad():
        for i in range(0, data.size(0) - 1, BPTT):
            inputs, targets = get_batch(data, i)
            output, hidden = model(inputs, hidden)
            hidden = repackage_hidden(hidden)
            total += len(inputs) * F.nll_loss(output, targets).item()
    return total / (len(data) - 1)


def generate(model, words, seed=1111, temperature=1.0):
    """The example's generate.py: sample one word at a time, feeding each back."""
    torch.manual_seed(seed)
    model.eval()
    hidden = model.init_hidden(1)
    input = torch.randint(NTOKENS, (1, 1), dtype=torch.long)
    out = []
    with torch.no_grad():
        for _ in range(words):
            output, hidden = model(input, hidden)
            word_weights = output.squeeze().div(temperature).exp()
            word_idx = torch.multinomial(word_weights, 1)[0]
            input.fill_(word_idx)
            out.append(int(word_idx))
    return out


def save_and_load(model):
    buffer = io.BytesIO()
    torch.save(model, buffer)
    buffer.seek(0)
    with torch.serialization.safe_globals(EXAMPLE_SAFE_GLOBALS):
        loaded = torch.load(buffer)  # weights_only=True, torch's default
    loaded.rnn.flatten_parameters()
    return loaded


@pytest.mark.parametrize("tied", [False, True], ids=["untied", "tied"])
@pytest.mark.parametrize("rnn_type", RNN_TYPES)
def test_train_save_load_and_generate(rnn_type, tied):
    torch.manual_seed(0)
    model = RNNModel(seqlab, rnn_type, NTOKENS, EMSIZE, NHID, NLAYERS, dropout=0.2, tied=tied)
    assert type(model.rnn).__module__.startswith("seqlab.")
    data = batchify(corpus(), BATCH)
    losses = train(model, data) + train(model, data)
    assert sum(losses[-5:]) < sum(losses[:5]), losses  # it learns
    loaded = save_and_load(model)
    assert type(loaded.rnn) is type(model.rnn)
    if tied:
        assert loaded.decoder.weight is loaded.encoder.weight
    assert evaluate(loaded, data) == evaluate(model, data)
    words = generate(loaded, 30)
    assert words == generate(model, 30) and all(0 <= w < NTOKENS for w in words)


@pytest.mark.parametrize("rnn_type", RNN_TYPES)
def test_seqlab_trains_to_torch_nns_numbers(rnn_type):
    models = {}
    for name, library in LIBRARIES.items():
        torch.manual_seed(0)
        models[name] = RNNModel(library, rnn_type, NTOKENS, EMSIZE, NHID, NLAYERS, dropout=0.0)
    models["seqlab"].load_state_dict(models["torch.nn"].state_dict())
    data = batchify(corpus(), BATCH)
    theirs, ours = train(models["torch.nn"], data), train(models["seqlab"], data)
    torch.testing.assert_close(torch.tensor(ours), torch.tensor(theirs), atol=1e-4, rtol=0)


@pytest.mark.filterwarnings("ignore:.isinstance.treespec, LeafSpec.. is deprecated")
@pytest.mark.parametrize("rnn_type", ["LSTM", "GRU"])
def test_the_examples_onnx_export(rnn_type):
    model = save_and_load(RNNModel(seqlab, rnn_type, NTOKENS, EMSIZE, NHID, NLAYERS)).eval()
    dummy_input = torch.zeros(BPTT, 1, dtype=torch.long)
    hidden = model.init_hidden(1)
    program = torch.onnx.export(model, (dummy_input, hidden), dynamo=True, verbose=False)
    session = onnxruntime.InferenceSession(program.model_proto.SerializeToString())
    ids = torch.randint(NTOKENS, (BPTT, 1))
    flat = [ids, *(hidden if isinstance(hidden, tuple) else (hidden,))]
    names = [i.name for i in session.get_inputs()]
    got = session.run(None, dict(zip(names, [t.numpy() for t in flat], strict=True)))[0]
    torch.testing.assert_close(torch.from_numpy(got), model(ids, hidden)[0], atol=1e-5, rtol=0)

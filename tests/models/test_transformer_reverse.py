"""End to end: a small Transformer learns to reverse digit strings in seconds, and greedy and
beam search then reverse held-out strings exactly. Wrong masks (a decoder that sees the future,
attention to padding) or a wrong cache would show here as a model that cannot decode what it
learned under teacher forcing."""

import random

import torch

from seqlab.experiments.translation.task import DecodeConfig, collate, decode_corpus, token_losses
from seqlab.models.transformer import Transformer


def reversal_pairs(count: int, rng: random.Random):
    sources = [[rng.randint(4, 11) for _ in range(rng.randint(2, 6))] for _ in range(count)]
    return sources, [s[::-1] for s in sources]


def test_transformer_learns_to_reverse_and_decodes_it_exactly():
    torch.manual_seed(0)
    rng = random.Random(0)
    model = Transformer(12, 12, d_model=32, nhead=4, num_encoder_layers=1,
                        num_decoder_layers=1, dim_feedforward=64, dropout=0.0)  # fmt: skip
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    steps = 300  # cosine decay of the learning rate to 0 over them
    decay = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, steps)
    for _ in range(steps):
        batch = collate(*reversal_pairs(64, rng), bos=1, eos=2)
        loss, _ = token_losses(model, batch)
        optimizer.zero_grad()
        (loss / (batch[3] != 0).sum()).backward()
        optimizer.step()
        decay.step()
    sources, targets = reversal_pairs(100, random.Random(1))
    for beam in (1, 3):
        hyps = decode_corpus(model, sources, 1, 2, DecodeConfig(beam=beam, batch_size=32), beam)
        exact = sum(h.finished and h.tokens == t for h, t in zip(hyps, targets, strict=True))
        assert exact >= 98, f"beam {beam}: {exact}/100 reversed exactly"

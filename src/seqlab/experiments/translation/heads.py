"""The Transformer's per-head attention maps for one translated sentence: the report's figure
and what ``seqlab translate RUN ... --plot`` draws for a Transformer."""

import torch

from ...decode import Hypothesis
from ...viz.heads import head_maps_figure


def has_head_maps(model) -> bool:
    return hasattr(model, "attention_maps")


@torch.no_grad()
def head_maps(model, source_ids: list[int], source_tokens: list[str], hyp: Hypothesis,
              target_vocab, title: str = ""):  # fmt: skip
    """The figure of every layer's and head's attention while the model reads ``source_ids``
    and writes ``hyp`` (its own translation, fed back as the decoder's input)."""
    model.eval()
    device = next(model.parameters()).device
    source = torch.tensor([source_ids], device=device)
    lengths = torch.tensor([len(source_ids)], device=device)
    previous = torch.tensor([[target_vocab.bos, *hyp.tokens]], device=device)
    maps = model.attention_maps(source, lengths, previous)
    maps = {kind: [w.cpu() for w in ws] for kind, ws in maps.items()}
    words = target_vocab.decode(hyp.tokens)
    outputs = words + (["</s>"] if hyp.finished else ["…"])
    return head_maps_figure(maps, source_tokens, ["<s>", *words], outputs, title)


def save_head_maps(
    run, trained, source_ids, source_tokens, index: int, what: str, source_text: str
) -> dict | None:
    """For the first Transformer of ``trained``: save ``figures/heads.png``, its maps on test
    sentence ``index`` (its greedy translation), whose text is ``source_text``; -> the report's
    entry, or None."""
    found = next((t for t in trained if has_head_maps(t.model)), None)
    if found is None or not run.ctx.main:
        return None
    hyp = found.greedy[index]
    title = f"{found.label}: every layer and head on one test {what} (greedy)"
    fig = head_maps(found.model, source_ids, source_tokens, hyp, found.target_vocab, title)
    caption = (
        f"{found.label}'s attention weights on one test {what}, one panel per layer and head: "
        "encoder self-attention (source × source), the decoder's causal self-attention "
        "(output × its inputs) and cross-attention (output × source); darker = more weight."
    )
    run.save_figure(fig, "heads.png", caption)
    return {"path": "figures/heads.png", "label": found.label, "source": source_text}

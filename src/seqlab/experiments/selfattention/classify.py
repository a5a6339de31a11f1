"""``seqlab classify RUN "text" [--html FILE]``: a text through a trained self-attention run —
its class probabilities, and its per-hop and summed word heatmap as an HTML page."""

from pathlib import Path

import torch

from ...data.vocab import word_tokens
from ...errors import InputError
from ...files import atomic_write_text
from ...viz.heatmap import Heatmap, heatmap_html
from ..registry import Command
from ..rundir import Run


def classify(run: Run, text: str, name: str | None = None) -> dict:
    """Probabilities, tokens as read, weights (R, T) and notes for one text."""
    from .pipeline import LABELS, load_trained

    if not isinstance(text, str) or not text.strip():
        raise InputError('the text to classify is empty; give a review, e.g. "a moving film"')
    words = word_tokens(text)
    if not words:
        raise InputError(f"{text!r} holds no words; give a review in words")
    model, vocab, name = load_trained(run, name)
    notes = []
    limit = run.cfg.max_tokens
    if len(words) > limit:
        notes.append(
            f"the text has {len(words)} tokens; read only the first {limit} (the run's max_tokens)"
        )
        words = words[:limit]
    unknown = vocab.unknown(words)
    if len(unknown) == len(set(words)):
        raise InputError(
            f"none of the words of {text[:60]!r} is in the vocabulary this model learnt "
            f"({len(vocab):,} words); write it in English words a review would use"
        )
    if unknown:
        notes.append(f"read as <unk>: {vocab.listing(unknown)}")
    ids = torch.tensor([vocab.encode(words, unknown="unk")])
    with torch.no_grad():
        logits, weights = model(ids)
    probs = logits.softmax(-1)[0]
    return {
        "model": name,
        "probabilities": {label: float(p) for label, p in zip(LABELS, probs, strict=True)},
        "words": ["<unk>" if w in set(unknown) else w for w in words],
        "weights": weights[0].numpy(),
        "notes": notes,
    }


def classify_arguments(parser) -> None:
    """The options of ``seqlab classify``."""
    parser.add_argument("text", help="the text to classify, e.g. a movie review")
    parser.add_argument("--html", metavar="FILE", help="write its word heatmap (HTML page)")
    parser.add_argument(
        "--model", help="which of the run's models, e.g. penalty0 (default: the first)"
    )


def classify_command(run: Run, args, out) -> int:
    result = classify(run, args.text, args.model)
    probs = result["probabilities"]
    out.text("  ".join(f"{label} {p:.3f}" for label, p in probs.items()) + "\n")
    notes = [f"model {result['model']}", *result["notes"]]
    if args.html:
        best = max(probs, key=probs.get)
        item = Heatmap(
            result["words"],
            result["weights"],
            f"{best} ({probs[best]:.3f})",
            "; ".join(result["notes"]),
        )
        path = Path(args.html)
        try:
            atomic_write_text(path, heatmap_html([item], f"seqlab classify · {result['model']}"))
        except OSError as err:
            raise InputError(
                f"--html {path}: cannot write it ({err.strerror or err}); choose a writable path"
            ) from None
        notes.append(f"heatmap saved to {path}")
    out.note("  (" + "; ".join(notes) + ")")
    return 0


CLASSIFY = Command(
    "classify",
    "classify a text with a trained run and show its attention",
    classify_arguments,
    classify_command,
)

"""``seqlab caption RUN image.png [--plot DIR]``: caption a person's own image with a trained
run, and draw the attention of every word.

The image is read with pillow and made into what the model saw in training: one channel of
8-bit gray (colour, palette and black-and-white images are converted, with a note; an alpha
channel is laid over black), padded to a square with its border's colour, resized to the
canvas, scaled to [0, 1], and inverted when it is dark ink on a light background (the digits
were white on black). A file that is missing, empty or not an image, or one of 16-bit, 32-bit
or floating-point pixels, is refused with a one-line reason.
"""

from pathlib import Path

import numpy as np

from ...data import digit_scenes as ds
from ...data.vocab import TokenVocab
from ...errors import CheckpointError, InputError
from ...train.trainer import CHECKPOINT
from ...viz.captions import Captioned, attention_strips, draw_overlay
from .. import sweep
from ..registry import Command
from ..rundir import Run
from ..translation.pipeline import save_plot
from .task import decode_scenes, words

CONVERTED = {"1": "black-and-white", "P": "palette", "RGB": "colour", "RGBA": "colour",
             "LA": "gray with alpha", "CMYK": "CMYK", "YCbCr": "YCbCr", "L": ""}  # fmt: skip


def read_image(path: str | Path, size: int = ds.CANVAS) -> tuple[np.ndarray, list[str]]:
    """A picture file -> ((size, size) float32 in [0, 1], white on black; notes on what was
    done to it). InputError for anything that is not a usable image."""
    from PIL import Image, UnidentifiedImageError  # pillow: only this command needs it

    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such image file; give the path of a PNG (or JPEG) file")
    if path.stat().st_size == 0:
        raise InputError(f"{path} is empty (0 bytes); give a PNG (or JPEG) image")
    try:
        with Image.open(path) as opened:
            opened.load()
            image = opened.copy()
    except UnidentifiedImageError:
        raise InputError(f"{path} is not an image pillow can read; give a PNG (or JPEG)") from None
    except (OSError, ValueError, SyntaxError) as err:
        raise InputError(f"{path} is a damaged image ({err}); save it again as a PNG") from None
    notes = []
    if image.mode not in CONVERTED:
        raise InputError(
            f"{path} has {image.mode!r} pixels (16-bit, 32-bit or floating point), which the "
            "model never saw; save it as an 8-bit grayscale PNG"
        )
    if image.mode in ("RGBA", "LA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        black = Image.new("RGBA", rgba.size, (0, 0, 0, 255))
        image = Image.alpha_composite(black, rgba)
        notes.append("transparent parts laid over black")
    if image.mode != "L":
        notes.append(f"{CONVERTED.get(image.mode) or image.mode} image converted to grayscale")
        image = image.convert("L")
    pixels = np.asarray(image, dtype=np.float32) / 255.0  # (h, w)
    h, w = pixels.shape
    if min(h, w) < 8:
        raise InputError(f"{path} is {w}×{h} pixels; give an image at least 8 pixels a side")
    border = float(np.median(np.concatenate([pixels[0], pixels[-1], pixels[:, 0], pixels[:, -1]])))
    if h != w:
        side = max(h, w)
        square = np.full((side, side), border, dtype=np.float32)
        square[(side - h) // 2 : (side - h) // 2 + h, (side - w) // 2 : (side - w) // 2 + w] = (
            pixels
        )
        pixels = square
        notes.append(f"padded from {w}×{h} to a square")
    if pixels.shape[0] != size:
        notes.append(f"resized from {pixels.shape[0]}×{pixels.shape[0]} to {size}×{size}")
        resized = Image.fromarray(np.round(pixels * 255).astype(np.uint8)).resize(
            (size, size), Image.Resampling.LANCZOS
        )
        pixels = np.asarray(resized, dtype=np.float32) / 255.0
    if border > 0.5:
        pixels = 1.0 - pixels
        notes.append("inverted (dark ink on a light background; the model saw white on black)")
    return np.ascontiguousarray(pixels), notes


def load_model(run: Run, kind: str | None):
    """(model, vocabulary, kind) of a finished training of a captions run."""
    from .experiment import build_model  # the experiment imports this module

    kinds = run.cfg.kinds
    kind = kind or ("attention" if "attention" in kinds else kinds[0])
    if kind not in kinds:
        raise InputError(f"--model {kind!r}: {run.dir} trained {', '.join(kinds)}; pick one")
    folder = run.dir / "trainings" / kind
    path = folder / CHECKPOINT
    if (folder / sweep.RESULT).exists() and not path.exists():
        raise CheckpointError(
            f"{path} is not there: this run folder keeps no checkpoints (as docs/results); "
            "caption with a run of your own, e.g. `seqlab run captions --out runs/captions`"
        )
    vocab = TokenVocab.load(run.dir / "vocab.json")
    return sweep.load_finished(run, kind, build_model(run.cfg, kind, len(vocab))), vocab, kind


def caption(run: Run, image_path: str, beam: int | None = None, plot: str | None = None,
            kind: str | None = None) -> dict:  # fmt: skip
    """One image through a trained run: the caption, its log-probability, notes on how the
    image was read and, with ``plot``, the per-word attention figures written into that
    folder."""
    from .experiment import max_length

    beam = run.cfg.beam if beam is None else beam
    if beam < 1:
        raise InputError(f"--beam {beam}: expected an integer >= 1 (1 = greedy)")
    pixels, notes = read_image(image_path)
    model, vocab, kind = load_model(run, kind)
    scene = ds.Scene(pixels, (), (), (), ())
    (hyp,) = decode_scenes(model, [scene], vocab, beam, max_length())
    said = list(words(hyp, vocab))
    result = {"caption": " ".join(said), "log_prob": hyp.log_prob, "finished": hyp.finished,
              "beam": beam, "model": kind, "notes": notes}  # fmt: skip
    if plot:
        result["plot"] = [str(p) for p in _plot(Path(plot), pixels, said, hyp)]
    return result


def _plot(folder: Path, pixels, said, hyp) -> list[Path]:
    from matplotlib.figure import Figure

    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise InputError(
            f"--plot {folder}: cannot make the folder ({err.strerror or err})"
        ) from None
    labels = said + (["</s>"] if hyp.finished else [])
    alignment = None if hyp.alignment is None else hyp.alignment.numpy()
    strip = attention_strips([Captioned(pixels, labels, alignment, "your image")])
    figures = [(folder / "attention.png", strip)]
    for t, word in enumerate(labels):
        fig = Figure(figsize=(2.2, 2.4), layout="constrained")
        draw_overlay(fig.add_subplot(), pixels, None if alignment is None else alignment[t], word)
        name = "end" if word == "</s>" else word
        figures.append((folder / f"word-{t + 1:02d}-{name}.png", fig))
    return [save_plot(fig, path) for path, fig in figures]


def arguments(parser) -> None:
    parser.add_argument("image", help="a PNG (or JPEG) image; grayscale, any size (resized)")
    parser.add_argument("--beam", type=int, help="beam width (1 = greedy; default: the run's)")
    parser.add_argument("--plot", metavar="DIR", help="write the attention of every word there")
    parser.add_argument("--model", help="attention, no-regulariser or mean (default: attention)")


def handler(run: Run, args, out) -> int:
    result = caption(run, args.image, beam=args.beam, plot=args.plot, kind=args.model)
    out.text(result["caption"] + "\n")
    how = "greedy" if result["beam"] == 1 else f"beam {result['beam']}"
    ended = "" if result["finished"] else ", cut at the length limit"
    notes = [f"{result['model']} model, {how}, log p = {result['log_prob']:.3f}{ended}"]
    notes += result["notes"]
    if "plot" in result:
        notes.append(f"attention of every word in {Path(result['plot'][0]).parent}/")
    out.note("  (" + "; ".join(notes) + ")")
    return 0


CAPTION = Command("caption", "caption an image with a trained run", arguments, handler)

"""The training task of ``separation`` and the measurements on held-out mixtures."""

import statistics

import torch
from torch import Tensor

from ...data.mixtures import mixtures, si_sdr
from ...data.synthetic import VALID, generator
from ...models.separator import Separator
from ...train import Context


def magnitude_loss(model: Separator, mixture: Tensor, voice: Tensor) -> Tensor:
    """mean |M ⊙ |X| − |S||: the masked mixture's magnitudes against the voice's."""
    spec = model.stft(mixture)  # (B, F, T)
    estimate = model.mask(spec).transpose(1, 2) * spec.abs()
    return (estimate - model.stft(voice).abs()).abs().mean()


class SeparationTask:
    """Fresh training mixtures at every step (a pure function of the step); a fixed validation
    set of windows of the training streams (the held-out test is only measured after)."""

    items = "mixtures"

    def __init__(self, cfg, seed: int):
        self.cfg, self.seed = cfg, seed
        mix, voice, _ = mixtures(cfg.valid_mixtures, cfg.seconds, "train",
                                 generator(seed, VALID), cfg.ratio_db)  # fmt: skip
        self.valid = (mix, voice)

    def train_batch(self, step: int, ctx: Context):
        mix, voice, _ = mixtures(self.cfg.batch_size, self.cfg.seconds, "train",
                                 generator(self.seed, step), self.cfg.ratio_db)  # fmt: skip
        rows = slice(ctx.rank, None, ctx.world)
        return mix[rows].to(ctx.device), voice[rows].to(ctx.device)

    def train_step(self, model, batch, carry):
        mix, voice = batch
        return magnitude_loss(model, mix, voice), None, mix.shape[0]

    @torch.no_grad()
    def evaluate(self, model, ctx: Context) -> dict[str, tuple[float, float]]:
        mix, voice = (t[ctx.rank :: ctx.world].to(ctx.device) for t in self.valid)
        net = getattr(model, "module", model)  # under DDP
        gain = si_sdr(net.separate(mix), voice) - si_sdr(mix, voice)
        n = mix.shape[0]
        return {
            "loss": (float(magnitude_loss(net, mix, voice)) * n, n),
            "si_sdr_improvement": (float(gain.sum()), n),
        }


def ideal_ratio_mask(model: Separator, voice: Tensor, music: Tensor) -> Tensor:
    """|S| / (|S| + |N|) (B, T, F): the best a mask of this form can do knowing both sources."""
    S, N = model.stft(voice).abs(), model.stft(music).abs()
    return (S / (S + N).clamp_min(1e-12)).transpose(1, 2)


@torch.no_grad()
def measure(model: Separator, mix: Tensor, voice: Tensor, music: Tensor) -> dict:
    """SI-SDR (dB) of the mixture, the estimate and the ideal ratio mask's resynthesis against
    the voice, per mixture; the improvements over the mixture and their mean/spread."""
    estimate = model.separate(mix)
    spec = model.stft(mix)
    ideal = model.istft(spec * ideal_ratio_mask(model, voice, music).transpose(1, 2),
                        mix.shape[-1])  # fmt: skip
    base = si_sdr(mix, voice)
    gains = (si_sdr(estimate, voice) - base).tolist()
    ideal_gains = (si_sdr(ideal, voice) - base).tolist()
    return {
        "mixture_si_sdr": base.tolist(),
        "improvement": gains,
        "ideal_improvement": ideal_gains,
        "estimate": estimate,
        "ideal": ideal,
        "stats": {
            name: spread(values)
            for name, values in (
                ("mixture_si_sdr", base.tolist()),
                ("improvement", gains),
                ("ideal_improvement", ideal_gains),
            )
        },  # fmt: skip
    }


def spread(values: list[float]) -> dict:
    """mean, standard deviation, median, 10th and 90th percentiles, min and max."""
    ordered = sorted(values)
    q = statistics.quantiles(ordered, n=10) if len(ordered) > 1 else ordered * 9
    return {
        "mean": statistics.fmean(ordered),
        "std": statistics.stdev(ordered) if len(ordered) > 1 else 0.0,
        "median": statistics.median(ordered),
        "p10": q[0],
        "p90": q[-1],
        "min": ordered[0],
        "max": ordered[-1],
        "n": len(ordered),
    }

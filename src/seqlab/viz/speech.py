"""Figures of the speech experiments: spectrograms with the per-frame decision under them, a
small LSTM's gates and cell states per unit, accuracy against data size, and separations."""

import statistics

from matplotlib.figure import Figure

WORD_COLORS = ("#f2c14e", "#7fb7be", "#d3a4c8")


def _shade_words(ax, spans, words, frame_s: float, label: bool = False) -> None:
    for k, ((a, b), word) in enumerate(zip(spans, words, strict=True)):
        ax.axvspan(a * frame_s, b * frame_s, color=WORD_COLORS[k % 3], alpha=0.35, lw=0)
        if label:
            middle = (a + b) / 2 * frame_s
            ax.annotate(f'"{word}"', (middle, 1.02), xycoords=("data", "axes fraction"),
                        ha="center", va="bottom", fontsize=9)  # fmt: skip


def decision_figure(examples: list[dict], classes: list[str], frame_s: float) -> Figure:
    """One column per example: its log-mel spectrogram (top) and the per-frame probability of
    the second class (bottom), word spans shaded. ``examples``: dicts with ``log_mel`` (T, M),
    ``prob`` (T,), ``spans``, ``words``, ``title``."""
    n = len(examples)
    fig = Figure(figsize=(3.6 * n, 5.2), layout="constrained")
    axes = fig.subplots(2, n, sharex="col", squeeze=False, gridspec_kw={"height_ratios": [3, 2]})
    for k, ex in enumerate(examples):
        top, bottom = axes[0, k], axes[1, k]
        T = ex["log_mel"].shape[0]
        top.imshow(ex["log_mel"].T, origin="lower", aspect="auto", cmap="magma",
                   extent=(0, T * frame_s, 0, ex["log_mel"].shape[1]))  # fmt: skip
        top.set_title(ex["title"], fontsize=9, pad=14)
        top.set_ylabel("mel band" if k == 0 else "")
        _shade_words(bottom, ex["spans"], ex["words"], frame_s)
        for (a, b), word in zip(ex["spans"], ex["words"], strict=True):
            middle = (a + b) / 2 * frame_s
            top.annotate(f'"{word}"', (middle, 1.0), xycoords=("data", "axes fraction"),
                         ha="center", va="bottom", fontsize=8)  # fmt: skip
        times = [(t + 0.5) * frame_s for t in range(T)]
        bottom.plot(times, ex["prob"], color="k", lw=1.5)
        bottom.axhline(0.5, color="0.5", ls="--", lw=0.8)
        bottom.set(ylim=(-0.05, 1.05), xlabel="time (s)")
        bottom.set_ylabel(f'p("{classes[1]}")' if k == 0 else "")
        bottom.set_yticks([0, 0.5, 1])
    return fig


def internals_figure(internals: dict, spans, words, frame_s: float, title: str) -> Figure:
    """One row per LSTM unit: its gates i_t, f_t, o_t and output h_t (left axis, in [-1, 1])
    and its cell state c_t (thick red, right axis: its own range) over time, word spans shaded.
    ``internals``: i, f, g, o, c, h as (T, H)."""
    H = internals["c"].shape[1]
    fig = Figure(figsize=(9, 1.8 * H + 0.9), layout="constrained")
    axes = fig.subplots(H, 1, sharex=True, squeeze=False)[:, 0]
    T = internals["c"].shape[0]
    times = [(t + 0.5) * frame_s for t in range(T)]
    styles = {"i": ("input gate i", "C0", "--"), "f": ("forget gate f", "C2", "--"),
              "o": ("output gate o", "C1", ":"), "h": ("output h", "k", "-")}  # fmt: skip
    for unit, ax in enumerate(axes):
        _shade_words(ax, spans, words, frame_s, label=unit == 0)
        for key, (name, color, ls) in styles.items():
            ax.plot(times, internals[key][:, unit], color=color, lw=1.1, ls=ls, label=name)
        ax.set(ylim=(-1.08, 1.08), yticks=[-1, 0, 1])
        ax.axhline(0, color="0.6", lw=0.6)
        ax.set_ylabel(f"unit {unit + 1}")
        cx = ax.twinx()
        cx.plot(times, internals["c"][:, unit], color="C3", lw=2.2, label="cell state c (right)")
        cx.tick_params(axis="y", colors="C3", labelsize=8)
        if unit == 0:
            handles = ax.get_legend_handles_labels()[0] + cx.get_legend_handles_labels()[0]
            ax.legend(handles=handles, fontsize=7, ncol=5, loc="lower left",
                      bbox_to_anchor=(0, 1.14))  # fmt: skip
    axes[-1].set_xlabel("time (s)")
    fig.suptitle(title, fontsize=10)
    return fig


def data_size_figure(results: list[dict], title: str) -> Figure:
    """Held-out accuracy (synthetic voices, human voice) against utterances per class: one dot
    per seed, the line through the medians."""
    fig = Figure(figsize=(6, 3.8), layout="constrained")
    ax = fig.subplots()
    sizes = sorted({r["per_class"] for r in results})
    for key, name, color in (("synthetic", "held-out synthetic voices", "C0"),
                             ("human", "real human voice", "C3")):  # fmt: skip
        medians = []
        for n in sizes:
            values = [100 * r[key] for r in results if r["per_class"] == n]
            ax.scatter([n] * len(values), values, color=color, alpha=0.5, s=18)
            medians.append(statistics.median(values))
        ax.plot(sizes, medians, color=color, lw=1.5, label=f"{name} (median of seeds)")
    ax.axhline(95, color="k", ls="--", lw=0.8, label="target 95%")
    ax.set(xscale="log", xlabel="training utterances per class", ylabel="accuracy (%)",
           ylim=(0, 102), title=title)  # fmt: skip
    ax.set_xticks(sizes, [str(n) for n in sizes])
    ax.legend(fontsize=8, loc="lower right")
    return fig


def separation_figure(spectrograms: list[tuple[str, object]], frame_s: float, top_hz: float,
                      title: str) -> Figure:  # fmt: skip
    """Log-magnitude spectrograms (F, T) stacked: mixture, estimate, reference, ..."""
    n = len(spectrograms)
    fig = Figure(figsize=(9, 1.9 * n + 0.6), layout="constrained")
    axes = fig.subplots(n, 1, sharex=True, squeeze=False)[:, 0]
    low = min(float(s.max()) for _, s in spectrograms) - 80
    for ax, (name, spec) in zip(axes, spectrograms, strict=True):
        T = spec.shape[1]
        ax.imshow(spec, origin="lower", aspect="auto", cmap="magma", vmin=low,
                  interpolation="nearest", extent=(0, T * frame_s, 0, top_hz / 1000))  # fmt: skip
        ax.set_ylabel("kHz")
        ax.set_title(name, fontsize=9, loc="left")
    axes[-1].set_xlabel("time (s)")
    fig.suptitle(title, fontsize=10)
    return fig


def mask_figure(mask, ideal, frame_s: float, top_hz: float) -> Figure:
    """The predicted mask (F, T) above the ideal ratio mask (F, T), both in [0, 1]."""
    fig = Figure(figsize=(9, 4.4), layout="constrained")
    axes = fig.subplots(2, 1, sharex=True)
    for ax, (name, m) in zip(axes, (("LSTM mask", mask), ("ideal ratio mask", ideal)), strict=True):
        image = ax.imshow(m, origin="lower", aspect="auto", cmap="viridis", vmin=0, vmax=1,
                          interpolation="nearest",
                          extent=(0, m.shape[1] * frame_s, 0, top_hz / 1000))  # fmt: skip
        ax.set_ylabel("kHz")
        ax.set_title(name, fontsize=9, loc="left")
    fig.colorbar(image, ax=axes, label="share of the voice")
    axes[-1].set_xlabel("time (s)")
    return fig


def improvement_figure(gains: list[float], ideal: list[float]) -> Figure:
    """Per held-out mixture: the LSTM's SI-SDR improvement against the ideal mask's."""
    fig = Figure(figsize=(9, 3.8), layout="constrained")
    ax, bx = fig.subplots(1, 2)
    ax.scatter(ideal, gains, s=14, alpha=0.7)
    top = max(max(ideal), max(gains)) + 1
    low = min(min(ideal), min(gains), 0) - 1
    ax.plot([low, top], [low, top], color="0.5", ls="--", lw=0.8, label="equal")
    ax.axhline(6, color="C3", ls=":", lw=1, label="target 6 dB")
    ax.set(xlabel="ideal ratio mask (dB)", ylabel="LSTM mask (dB)",
           title="SI-SDR improvement per held-out mixture")  # fmt: skip
    ax.legend(fontsize=8)
    bins = [low + (top - low) * i / 24 for i in range(25)]
    bx.hist(gains, bins=bins, alpha=0.7, label=f"LSTM (mean {statistics.fmean(gains):.1f} dB)")
    bx.hist(ideal, bins=bins, alpha=0.5, label=f"ideal (mean {statistics.fmean(ideal):.1f} dB)")
    bx.set(xlabel="SI-SDR improvement (dB)", ylabel="mixtures")
    bx.legend(fontsize=8)
    return fig

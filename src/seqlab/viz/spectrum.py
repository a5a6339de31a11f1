"""Spectra of recurrent matrices: gradient decay against the |λ_max|^d prediction, fitted against
predicted rates, and eigenvalues on the unit circle during training."""

import math
from collections.abc import Sequence
from itertools import product

import numpy as np
from matplotlib import colormaps
from matplotlib.cm import ScalarMappable
from matplotlib.colors import Normalize
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

GRADIENT = r"$\Vert\partial E/\partial A_{z_1}\Vert$"


def _radius_colours(radii: Sequence[float]) -> dict[float, tuple]:
    """Blues below 1 (vanishing), black at 1, reds above 1 (exploding); darker = farther."""
    below = sorted({r for r in radii if r < 1}, reverse=True)
    above = sorted({r for r in radii if r > 1})
    colours = {
        r: colormaps["Blues"](0.5 + 0.45 * i / max(len(below) - 1, 1)) for i, r in enumerate(below)
    }
    colours |= {
        r: colormaps["Reds"](0.5 + 0.45 * i / max(len(above) - 1, 1)) for i, r in enumerate(above)
    }
    colours |= {r: (0.0, 0.0, 0.0, 1.0) for r in radii if r == 1}
    return dict(sorted(colours.items()))


def decay_curves(curves: list[dict], title: str = "") -> Figure:
    """‖∂E/∂A_{z_1}‖ against sequence length T on a log axis, one panel per activation (rows)
    × init kind (columns), one colour per spectral radius: measured as a solid line with dots,
    the prediction ρ^(T-1) dashed.

    ``curves``: dicts with ``kind``, ``activation``, ``radius`` (|λ_max|) and ``norms`` (a
    sequence, ``norms[T - 1]`` for length T).
    """
    kinds = list(dict.fromkeys(c["kind"] for c in curves))
    activations = list(dict.fromkeys(c["activation"] for c in curves))
    colours = _radius_colours([c["radius"] for c in curves])
    fig = Figure(
        figsize=(4.0 * len(kinds) + 1.2, 3.3 * len(activations) + 0.6), layout="constrained"
    )
    axes = fig.subplots(len(activations), len(kinds), sharex=True, sharey=True, squeeze=False)
    for c in curves:
        ax = axes[activations.index(c["activation"]), kinds.index(c["kind"])]
        norms = np.asarray(c["norms"], dtype=float)
        T = np.arange(1, len(norms) + 1)
        shown = np.isfinite(norms) & (norms > 0)
        colour = colours[c["radius"]]
        ax.plot(T[shown], norms[shown], "-", color=colour, lw=1.4, marker=".", ms=2.5)
        ax.plot(T, norms[0] * c["radius"] ** (T - 1.0), "--", color=colour, lw=1.0, alpha=0.8)
    for (i, activation), (j, kind) in product(enumerate(activations), enumerate(kinds)):
        ax = axes[i, j]
        ax.set_yscale("log")
        ax.grid(alpha=0.3, which="major")
        ax.set_title(f"{kind} U, {activation} φ", fontsize=10)
        if j == 0:
            ax.set_ylabel(f"{GRADIENT} (RMS over inputs)")
        if i == len(activations) - 1:
            ax.set_xlabel("sequence length T (frames)")
    handles = [Line2D([], [], color=colours[r], lw=2, label=f"|λ_max| = {r:g}") for r in colours]
    handles += [
        Line2D([], [], color="0.3", marker=".", lw=1.4, label="measured"),
        Line2D([], [], color="0.3", ls="--", lw=1.0, label="prediction |λ_max|^(T−1)"),
    ]
    fig.legend(handles=handles, loc="outside right center", fontsize=9)
    if title:
        fig.suptitle(title, fontsize=11)
    return fig


def rate_comparison(rows: list[dict], tolerance: float = 0.1, title: str = "") -> Figure:
    """Fitted per-step rate against the predicted |λ_max|, one marker per init kind and a colour
    per activation; the diagonal is agreement, the band ±``tolerance`` (relative).

    ``rows``: dicts with ``kind``, ``activation``, ``predicted`` and ``fitted``.
    """
    fig = Figure(figsize=(6.2, 5.0), layout="constrained")
    ax = fig.add_subplot()
    top = max(max(r["predicted"], r["fitted"]) for r in rows) * 1.08
    line = np.linspace(0, top, 50)
    ax.fill_between(
        line,
        line * (1 - tolerance),
        line * (1 + tolerance),
        color="0.85",
        label=f"within ±{tolerance:.0%} of |λ_max|",
    )
    ax.plot(line, line, color="0.4", lw=1, label="fitted = |λ_max|")
    markers = dict(zip(dict.fromkeys(r["kind"] for r in rows), "osD^v", strict=False))
    colours = dict(
        zip(dict.fromkeys(r["activation"] for r in rows), ["C0", "C3", "C2", "C1"], strict=False)
    )
    for kind, marker in markers.items():
        for activation, colour in colours.items():
            pts = [
                (r["predicted"], r["fitted"])
                for r in rows
                if r["kind"] == kind and r["activation"] == activation
            ]
            if pts:
                xs, ys = zip(*pts, strict=True)
                ax.scatter(
                    xs,
                    ys,
                    marker=marker,
                    s=42,
                    facecolors="none",
                    edgecolors=colour,
                    linewidths=1.5,
                    label=f"{kind}, {activation}",
                )
    ax.set_xlim(0, top)
    ax.set_ylim(0, top)
    ax.set_aspect("equal")
    ax.set_xlabel("predicted rate |λ_max(U)| (per step)")
    ax.set_ylabel("fitted rate exp(slope of log‖∂E/∂A‖) (per step)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="upper left")
    if title:
        ax.set_title(title, fontsize=10)
    return fig


def eigenvalue_track(
    steps: Sequence[int],
    eigenvalues: Sequence[Sequence[complex]],
    radius_steps: Sequence[int] = (),
    radius: Sequence[float] = (),
    title: str = "",
) -> Figure:
    """Left: eigenvalues of U in the complex plane with the unit circle, coloured by training
    step; the first snapshot hollow black circles, the last red crosses. Right: the spectral
    radius |λ_max| against the step (``radius_steps``, ``radius``; omitted when empty).

    ``eigenvalues[k]``: the H eigenvalues at ``steps[k]``.
    """
    with_radius = len(radius) > 0
    fig = Figure(figsize=(10.5 if with_radius else 6.2, 5.0), layout="constrained")
    ax = fig.add_subplot(1, 2, 1) if with_radius else fig.add_subplot()
    theta = np.linspace(0, 2 * math.pi, 400)
    ax.plot(np.cos(theta), np.sin(theta), "--", color="0.45", lw=1, label="unit circle |λ| = 1")
    norm = Normalize(min(steps), max(max(steps), min(steps) + 1))
    cmap = colormaps["viridis"]
    for step, lam in zip(steps, eigenvalues, strict=True):
        lam = np.asarray(lam, dtype=complex)
        ax.scatter(lam.real, lam.imag, s=9, color=cmap(norm(step)), alpha=0.7, linewidths=0)
    first, last = np.asarray(eigenvalues[0]), np.asarray(eigenvalues[-1])
    ax.scatter(
        first.real,
        first.imag,
        s=46,
        facecolors="none",
        edgecolors="black",
        linewidths=1.2,
        label=f"start (step {steps[0]:,})",
    )
    ax.scatter(
        last.real,
        last.imag,
        s=46,
        marker="x",
        color="red",
        linewidths=1.6,
        label=f"end (step {steps[-1]:,})",
    )
    reach = max(1.15, float(np.abs(np.concatenate([np.asarray(e) for e in eigenvalues])).max()))
    ax.set_xlim(-reach * 1.05, reach * 1.05)
    ax.set_ylim(-reach * 1.05, reach * 1.05)
    ax.set_aspect("equal")
    ax.axhline(0, color="0.8", lw=0.8, zorder=0)
    ax.axvline(0, color="0.8", lw=0.8, zorder=0)
    ax.set_xlabel("Re λ")
    ax.set_ylabel("Im λ")
    ax.set_title("eigenvalues of U during training", fontsize=10)
    ax.legend(fontsize=8, loc="lower left")
    fig.colorbar(ScalarMappable(norm=norm, cmap=cmap), ax=ax, label="training step", shrink=0.8)
    if with_radius:
        side = fig.add_subplot(1, 2, 2)
        side.plot(radius_steps, radius, marker="o", ms=3, color="C0")
        side.axhline(1.0, ls="--", color="0.45", lw=1, label="|λ| = 1")
        side.set_xlabel("training step")
        side.set_ylabel("spectral radius |λ_max(U)|")
        side.set_title("spectral radius during training", fontsize=10)
        side.grid(alpha=0.3)
        side.legend(fontsize=8)
    if title:
        fig.suptitle(title, fontsize=11)
    return fig

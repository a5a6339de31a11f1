"""Figures of the product experiment: where the two hidden units take the state, and what the
network outputs over time."""

import torch
from matplotlib.figure import Figure

PAIR_COLORS = {(0, 0): "C7", (0, 1): "C0", (1, 0): "C2", (1, 1): "C3"}


def trajectory(run: dict, x, y, title: str, shown: int = 24) -> Figure:
    """A network's run over one sequence: ``run`` holds its hidden states ``z`` (T, H), outputs
    ``o`` (T,) and read-out ``(V (H,), b_y)``; ``x``, ``y`` (1, T, 1) input and target.

    Left: the hidden state z_t = (z_1, z_2) at every frame, coloured by (x_{t-1}, x_t), with
    the read-out's boundary V z + b_y = 0 (o_t = 0.5). Right: the first ``shown`` frames:
    inputs, target, output and both units."""
    z, o, xs, ys = run["z"], run["o"], x[0, :, 0], y[0, :, 0]
    fig = Figure(figsize=(11, 4.8), layout="constrained")
    grid = fig.add_gridspec(3, 2, width_ratios=[1, 1.5])
    ax = fig.add_subplot(grid[:, 0])
    rows = [fig.add_subplot(grid[i, 1]) for i in range(3)]
    if z.shape[1] >= 2:
        ax.plot(z[:shown, 0], z[:shown, 1], color="0.75", lw=0.8, zorder=1)
        for t in range(1, len(xs)):
            pair = (int(xs[t - 1]), int(xs[t]))
            ax.scatter(z[t, 0], z[t, 1], s=22, color=PAIR_COLORS[pair], zorder=2)
        for pair, color in PAIR_COLORS.items():
            ax.scatter([], [], color=color, label=f"(x_t-1, x_t) = {pair}")
        v, b = run["readout"]
        line = torch.linspace(0, 1, 50)
        if z.shape[1] == 2 and abs(float(v[1])) > 1e-9:
            ax.plot(line, -(b + v[0] * line) / v[1], "k--", lw=1, label="o_t = 0.5 boundary")
        ax.set(xlim=(-0.02, 1.02), ylim=(-0.02, 1.02), xlabel="z_1", ylabel="z_2",
               title=f"hidden state ({title})", aspect="equal")  # fmt: skip
        ax.legend(fontsize=7, loc="best")
    t = torch.arange(shown)
    rows[0].step(t, xs[:shown], where="mid", color="k")
    rows[0].set(ylabel="x_t", yticks=[0, 1], title="the first frames")
    rows[1].plot(t, o[:shown], "o-", color="C0", ms=4, label="output o_t")
    rows[1].plot(t[1:], ys[1:shown], "s", color="C3", ms=4, mfc="none", label="target x_t-1·x_t")
    rows[1].axhline(0.5, color="k", lw=0.6, ls="--")
    rows[1].set(ylabel="o_t", ylim=(-0.1, 1.1))
    rows[1].legend(fontsize=7, loc="upper right", ncols=2)
    for k, style in zip(range(min(2, z.shape[1])), ("-", ":"), strict=False):
        rows[2].plot(t, z[:shown, k], style, color="C2", label=f"z_{k + 1}")
    rows[2].set(ylabel="z_t", xlabel="frame t", ylim=(-0.05, 1.05))
    rows[2].legend(fontsize=7, loc="upper right", ncols=2)
    for row in rows[:2]:
        row.tick_params(labelbottom=False)
    return fig

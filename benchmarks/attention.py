"""Additive (Bahdanau) attention: seqlab's hand-derived core against the same equations under
plain autograd, as a decoder uses it.

A decoder calls attention once per output token, keeping every call's graph until the
backward. Both columns run T such steps over one batch of keys, from the same weights, and
the train mode backpropagates ``Σ_t (context_t · g_t + weights_t · w_t)``:

- ``autograd``: ``e = tanh(W s + U h + b) v`` (broadcast to (B, S, A)), masked softmax,
  ``c = α h``, every op recorded by autograd, which keeps the (B, S, A) tanh per step;
- ``seqlab``:   ``seqlab.attention.AdditiveAttention``, whose core is one autograd.Function
  with a hand-derived backward that recomputes the tanh instead of keeping it.

Reported per config: the median time of a whole T-step call, the columns taking turns (train:
forward + backward; infer: forward under inference_mode), the ratio seqlab / autograd (below 1
is faster), and the
bytes of the distinct tensors each keeps for its backward over the T steps (counted with
saved-tensor hooks, so deterministic). Outputs and gradients are checked to agree first.

Multi-head rows (``--part multihead``): self-attention over (B, T, E) with H heads,
batch_first, no mask, ``need_weights=False``, from torch's weights copied in; four columns:

- ``torch.nn``: ``torch.nn.MultiheadAttention`` (its fused SDPA kernel; in eval-mode
  inference its native fast path);
- ``auto``:     ``seqlab.attention.MultiheadAttention(backend="auto")``;
- ``seqlab``:   ``backend="seqlab"``, the hand-derived backward over the explicit weights;
- ``autograd``: the same equations as ``seqlab`` (one in-projection, ``softmax(QKᵀ/√d) V``,
  out-projection) under plain autograd.

train = forward + ``torch.autograd.grad`` of ``(out · g).sum()`` for the input and every
parameter, modules in train mode; infer = the forward under ``inference_mode``, modules in
eval mode. Ratios are column / ``torch.nn`` from the same run; memory is the bytes of the
distinct tensors each column keeps for its backward.

    .venv/bin/python benchmarks/attention.py [--part all|additive|multihead] [--budget 1.0]
"""

import argparse
import json
import statistics
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from seqlab.attention import AdditiveAttention, MultiheadAttention, lengths_to_mask, masked_softmax
from seqlab.attention.scaled_dot import attention_reference

CONFIGS = {  # name: (B, S, T, Q, K, A)
    "dates (B 128, S 30, T 11)": (128, 30, 11, 128, 128, 64),
    "bible (B 64, S 40, T 40)": (64, 40, 40, 256, 256, 128),
    "bible beam (B 320, S 60, T 1)": (320, 60, 1, 256, 256, 128),
}
RESULTS = Path(__file__).resolve().parent / "results"


def plain_autograd(attention: AdditiveAttention, query, keys, mask, projected):
    """The same equations, every op under autograd."""
    energies = torch.tanh(attention.query_proj(query).unsqueeze(1) + projected) @ attention.score
    weights = masked_softmax(energies, mask)  # (B, S)
    return (weights.unsqueeze(1) @ keys).squeeze(1), weights  # (B, K), (B, S)


def seqlab_core(attention: AdditiveAttention, query, keys, mask, projected):
    return attention(query, keys, mask, projected_keys=projected)


def decoder_calls(fn, attention, queries, keys, mask, probes):
    """T attention steps over the same keys, projected once (U h + b, as a decoder does); the
    loss reads every context and weight row."""
    projected = attention.project_keys(keys)  # (B, S, A)
    loss = 0.0
    for t in range(queries.shape[0]):
        context, weights = fn(attention, queries[t], keys, mask, projected)
        loss = loss + (context * probes[0][t]).sum() + (weights * probes[1][t]).sum()
    return loss


def saved_forward_bytes(forward) -> int:
    """Bytes of the distinct tensors autograd keeps for the backward of ``forward()``."""
    seen: dict[tuple[int, int], int] = {}

    def pack(tensor):
        storage = tensor.untyped_storage()
        seen[(storage.data_ptr(), storage.nbytes())] = storage.nbytes()
        return tensor

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        out = forward()
    del out
    return sum(seen.values())


def saved_bytes(fn, *args) -> int:
    """Bytes of the distinct tensors autograd keeps for the backward of ``decoder_calls``."""
    return saved_forward_bytes(lambda: decoder_calls(fn, *args))


def median_seconds(calls: dict, budget: float) -> dict[str, float]:
    """Median seconds of each call; the calls take turns, so a load change on a shared
    machine hits every column alike."""
    for fn in calls.values():
        fn()  # warm-up
    start = time.perf_counter()
    for fn in calls.values():
        fn()
    reps = max(5, min(200, int(budget / max(time.perf_counter() - start, 1e-6))))
    samples: dict[str, list[float]] = {name: [] for name in calls}
    for _ in range(reps):
        for name, fn in calls.items():
            start = time.perf_counter()
            fn()
            samples[name].append(time.perf_counter() - start)
    return {name: statistics.median(times) for name, times in samples.items()}


def bench(name: str, B, S, T, Q, K, A, budget: float) -> dict:
    torch.manual_seed(0)
    attention = AdditiveAttention(Q, K, A)
    queries = torch.randn(T, B, Q)
    keys = torch.randn(B, S, K, requires_grad=True)
    mask = lengths_to_mask(torch.randint(S // 2, S + 1, (B,)), S)
    probes = (torch.randn(T, B, K), torch.randn(T, B, S))
    args = (attention, queries, keys, mask, probes)
    params = [keys, *attention.parameters()]
    columns = {"autograd": plain_autograd, "seqlab": seqlab_core}

    grads = {}
    for column, fn in columns.items():
        grads[column] = torch.autograd.grad(decoder_calls(fn, *args), params)
    worst = max(
        float((a - b).abs().max()) for a, b in zip(grads["autograd"], grads["seqlab"], strict=True)
    )
    if worst > 1e-3:
        raise SystemExit(f"{name}: gradients differ by {worst:.2e}; not timing a wrong kernel")

    def train(fn):
        return lambda: torch.autograd.grad(decoder_calls(fn, *args), params)

    def infer(fn):
        def call():
            with torch.inference_mode():
                decoder_calls(fn, *args)

        return call

    row = {"config": name, "B,S,T,Q,K,A": [B, S, T, Q, K, A], "max_grad_difference": worst}
    for mode, make in (("train", train), ("infer", infer)):
        times = median_seconds({c: make(fn) for c, fn in columns.items()}, budget)
        row[mode] = {
            "ms": {c: round(t * 1e3, 3) for c, t in times.items()},
            "ratio": round(times["seqlab"] / times["autograd"], 3),
        }
    row["saved_mb"] = {c: round(saved_bytes(fn, *args) / 2**20, 2) for c, fn in columns.items()}
    return row


MULTIHEAD_CONFIGS = {  # name: (B, T, E = d_model, heads)
    "B 32, T 128, E 256, 4 heads": (32, 128, 256, 4),
    "B 8, T 512, E 256, 8 heads": (8, 512, 256, 8),
    "B 1, T 1024, E 128, 4 heads": (1, 1024, 128, 4),
}
MULTIHEAD_COLUMNS = ("torch.nn", "auto", "seqlab", "autograd")


def multihead_autograd(module: MultiheadAttention, x):
    """The same equations under plain autograd: one projection, attention_reference, out_proj."""
    B, T, E = x.shape
    H, d = module.num_heads, module.head_dim
    q, k, v = F.linear(x, module.in_proj_weight, module.in_proj_bias).chunk(3, dim=-1)
    q, k, v = (t.view(B, T, H, d).transpose(1, 2) for t in (q, k, v))  # (B, H, T, d)
    heads, _ = attention_reference(q, k, v, None)
    return module.out_proj(heads.transpose(1, 2).reshape(B, T, E))


def multihead_bench(name: str, B, T, E, heads, budget: float) -> dict:
    """Self-attention over (B, T, E), batch_first, no mask, need_weights=False everywhere."""
    torch.manual_seed(0)
    reference = torch.nn.MultiheadAttention(E, heads, batch_first=True)
    modules = {}
    for backend in ("auto", "seqlab"):
        modules[backend] = MultiheadAttention(E, heads, batch_first=True, backend=backend)
        modules[backend].load_state_dict(reference.state_dict())
    x = torch.randn(B, T, E, requires_grad=True)
    probe = torch.randn(B, T, E)
    forwards = {
        "torch.nn": lambda: reference(x, x, x, need_weights=False)[0],
        "auto": lambda: modules["auto"](x, x, x, need_weights=False)[0],
        "seqlab": lambda: modules["seqlab"](x, x, x, need_weights=False)[0],
        "autograd": lambda: multihead_autograd(modules["seqlab"], x),
    }
    params = {"torch.nn": [x, *reference.parameters()]}
    for column in ("auto", "seqlab", "autograd"):
        params[column] = [x, *modules["seqlab" if column == "autograd" else column].parameters()]

    grads = {c: torch.autograd.grad((f() * probe).sum(), params[c]) for c, f in forwards.items()}
    worst = max(
        float((a - b).abs().max())
        for c in MULTIHEAD_COLUMNS[1:]
        for a, b in zip(grads["torch.nn"], grads[c], strict=True)
    )
    if worst > 1e-3:
        raise SystemExit(f"{name}: gradients differ by {worst:.2e}; not timing a wrong kernel")
    del grads

    def train(column):
        return lambda: torch.autograd.grad((forwards[column]() * probe).sum(), params[column])

    def infer(column):
        def call():
            with torch.inference_mode():
                forwards[column]()

        return call

    row = {"config": name, "B,T,E,heads": [B, T, E, heads], "max_grad_difference": worst}
    for mode, make in (("train", train), ("infer", infer)):
        for module in (reference, *modules.values()):
            module.train(mode == "train")  # inference as a deployed model runs: eval mode
        times = median_seconds({c: make(c) for c in MULTIHEAD_COLUMNS}, budget)
        row[mode] = {
            "ms": {c: round(t * 1e3, 3) for c, t in times.items()},
            "ratio_to_torch_nn": {
                c: round(times[c] / times["torch.nn"], 3) for c in MULTIHEAD_COLUMNS[1:]
            },
        }
    row["saved_mb"] = {
        c: round(saved_forward_bytes(forwards[c]) / 2**20, 2) for c in MULTIHEAD_COLUMNS
    }
    return row


def markdown(rows: list[dict]) -> str:
    lines = [
        "| config | train ms autograd / seqlab | ratio | infer ms autograd / seqlab | ratio | "
        "kept for backward MB autograd / seqlab |",
        "|---|---|---|---|---|---|",
    ]
    for r in rows:
        tr, inf, mb = r["train"], r["infer"], r["saved_mb"]
        lines.append(
            f"| {r['config']} | {tr['ms']['autograd']:.2f} / {tr['ms']['seqlab']:.2f} | "
            f"{tr['ratio']:.2f} | {inf['ms']['autograd']:.2f} / {inf['ms']['seqlab']:.2f} | "
            f"{inf['ratio']:.2f} | {mb['autograd']:.1f} / {mb['seqlab']:.1f} |"
        )
    return "\n".join(lines) + "\n"


def multihead_markdown(rows: list[dict]) -> str:
    lines = [
        "| config | mode | ms torch.nn / auto / seqlab / autograd | auto ÷ torch.nn | "
        "seqlab ÷ torch.nn | autograd ÷ torch.nn |",
        "|---|---|---|---|---|---|",
    ]
    for r in rows:
        for mode in ("train", "infer"):
            ms, ratio = r[mode]["ms"], r[mode]["ratio_to_torch_nn"]
            lines.append(
                f"| {r['config']} | {mode} | "
                + " / ".join(f"{ms[c]:.1f}" for c in MULTIHEAD_COLUMNS)
                + " | "
                + " | ".join(f"{ratio[c]:.2f}" for c in MULTIHEAD_COLUMNS[1:])
                + " |"
            )
    lines += [
        "",
        "| config | kept for backward MB: torch.nn / auto / seqlab / autograd |",
        "|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['config']} | "
            + " / ".join(f"{r['saved_mb'][c]:.1f}" for c in MULTIHEAD_COLUMNS)
            + " |"
        )
    return "\n".join(lines) + "\n"


def write(path: Path, rows: list[dict], table: str, elapsed: float, budget: float) -> None:
    record = {
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "budget_s": budget,
        "elapsed_s": round(elapsed, 1),
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "rows": rows,
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(record, indent=2) + "\n")
    path.with_suffix(".md").write_text(table)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--part", choices=("all", "additive", "multihead"), default="all")
    parser.add_argument("--budget", type=float, default=1.0, help="seconds per timed cell")
    parser.add_argument("--out", type=Path, default=RESULTS / "attention.json")
    parser.add_argument("--multihead-out", type=Path, default=RESULTS / "attention-multihead.json")
    args = parser.parse_args(argv)
    if args.part in ("all", "additive"):
        start = time.perf_counter()
        rows = [bench(name, *cfg, args.budget) for name, cfg in CONFIGS.items()]
        table = markdown(rows)
        print(table)
        write(args.out, rows, table, time.perf_counter() - start, args.budget)
    if args.part in ("all", "multihead"):
        start = time.perf_counter()
        rows = [multihead_bench(n, *cfg, args.budget) for n, cfg in MULTIHEAD_CONFIGS.items()]
        table = multihead_markdown(rows)
        print(table)
        write(args.multihead_out, rows, table, time.perf_counter() - start, args.budget)


if __name__ == "__main__":
    main()

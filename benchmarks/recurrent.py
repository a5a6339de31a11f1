"""Speed of seqlab's recurrent modules against torch.nn and the plain autograd loop, on CPU.

For each family (RNN, GRU, LSTM), config (B, T, I, H, L) and mode ("train": forward and
backward of ``(out * grad_out).sum()`` w.r.t. the input and every parameter; "infer": forward
under ``torch.inference_mode()``), five columns compute the same thing from the same weights
and inputs:

- ``torch.nn``: ``torch.nn.RNN/GRU/LSTM``, torch's fused CPU kernel;
- ``seqlab``:   ``seqlab.<Family>(..., backend="seqlab")``, the hand-derived BPTT on the
                Python tier (its time loops in Python, under ``compiled.use(False)``);
- ``compiled``: the same module on the compiled tier (the C++ time loops of
                ``seqlab.recurrent.compiled``, under ``compiled.use(True)``; a family without
                compiled loops runs its Python ones here);
- ``auto``:     ``seqlab.<Family>(..., backend="auto")``, whichever the module picks;
- ``loop``:     the reference loop of ``seqlab.recurrent.reference`` under plain autograd,
                chained layer by layer with the module's parameters.

The train table has two extra rows at its first large config (:data:`CASE_CONFIG`; the
first quick config with ``--quick``), labelled by a suffix: ``sum``, the loss ``out.sum()``
(its gradient reaches the kernels with zero strides), and ``no-dx``, an input that requires
no gradient (only the parameters' gradients are asked for).

Ratios are column time / torch.nn time (below 1 is faster than torch). Variants torch lacks
(peepholes, layer norm, reset-before GRU, sigmoid RNN) are timed as seqlab (both tiers)
against their loop; there the ratio is the speed-up, loop time / seqlab time.

Each cell is the median of several calls after warm-up; the number of calls adapts so a cell
costs about ``--budget`` seconds, and the columns of one row run interleaved so a load change
on a shared machine hits all of them alike. Results go to a table on stdout and to JSON.

    .venv/bin/python benchmarks/recurrent.py --quick            # smoke test, < 1 minute
    .venv/bin/python benchmarks/recurrent.py --families RNN --modes train --skip-loop
    python benchmarks/recurrent.py --device cuda                # on a GPU: torch.nn is cuDNN
"""

import argparse
import copy
import datetime
import json
import os
import platform
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import Tensor, nn

import seqlab
from seqlab.recurrent import compiled, reference

FAMILIES = ("RNN", "GRU", "LSTM")
CONFIGS = [
    (32, 100, 64, 128, 1),
    (64, 100, 128, 512, 1),
    (1, 1000, 16, 64, 1),
    (64, 50, 256, 1024, 1),
    (64, 100, 64, 512, 3),
]  # (B, T, I, H, L)
VARIANT_CONFIG = (64, 100, 128, 512, 1)
CASE_CONFIG = (64, 100, 128, 512, 1)  # the extra train rows: loss out.sum(), input without grad
CASES = ("sum", "no-dx")
QUICK_CONFIGS = [(4, 12, 8, 16, 1), (2, 30, 8, 16, 2)]
QUICK_VARIANT_CONFIG = (4, 12, 8, 16, 1)
MODES = ("train", "infer")
DEVICE = torch.device("cpu")  # set from --device
RESULTS = Path(__file__).resolve().parent / "results"
TOLERANCE = 1e-4  # max |difference| of outputs between columns before a warning
VARIANTS = {  # options torch.nn lacks, timed against their autograd loop
    "RNN": [{"nonlinearity": "sigmoid"}],
    "GRU": [{"reset": "before"}, {"layer_norm": True}],
    "LSTM": [{"peephole": "full"}, {"peephole": "diagonal"}, {"layer_norm": True}],
}


@dataclass(frozen=True)
class Timing:
    budget_s: float  # measured calls per cell stop once they would exceed this
    warmup: int
    min_reps: int
    max_reps: int


@dataclass
class Table:
    """One printed table; rows are printed as they are measured and kept for Markdown."""

    title: str
    header: list[str]
    rows: list[list[str]] = field(default_factory=list)

    def add(self, row: list[str]) -> None:
        if not self.rows:
            print(f"\n{self.title}\n{_line(self.header)}\n" + "-" * len(_line(self.header)))
        self.rows.append(row)
        print(_line(row), flush=True)

    def markdown(self) -> str:
        lines = [
            f"### {self.title}",
            "",
            "| " + " | ".join(self.header) + " |",
            "|" + "|".join("---" for _ in self.header) + "|",
        ]
        return "\n".join(lines + ["| " + " | ".join(row) + " |" for row in self.rows]) + "\n"


def _line(cells: list[str]) -> str:
    return f"{cells[0]:<22}" + "".join(f"{c:>14}" for c in cells[1:])


# forward (B,T,I) -> (B,T,H), params, and the kernels' tier: compiled.use(tier) around each
# call (forward and backward), None for the default choice
Column = tuple[Callable[[Tensor], Tensor], list[Tensor], bool | None]
TIERS = {"seqlab": False, "compiled": True}  # the columns of backend="seqlab" and their tier


def module_column(module: nn.Module, tier: bool | None = None) -> Column:
    return (lambda x: module(x)[0]), list(module.parameters()), tier


def loop_layer(family: str, x: Tensor, h0: Tensor, params: dict, **variant) -> Tensor:
    """One layer of the reference loop: x (T, B, I), h0 (B, H) -> out (T, B, H)."""
    if family == "LSTM":
        return reference.lstm_layer(x, h0, h0, params, **variant)[0]
    return getattr(reference, f"{family.lower()}_layer")(x, h0, params, **variant)[0]


def loop_column(family: str, module: nn.Module, variant: dict) -> Column:
    """The module's equations as the plain autograd loop, chained layer by layer."""

    def forward(x: Tensor) -> Tensor:
        h = x.transpose(0, 1)  # (T, B, I)
        h0 = x.new_zeros(x.shape[0], module.hidden_size)  # (B, H)
        for k in range(module.num_layers):
            suffix = f"_l{k}"
            named = module.named_parameters()
            params = {n.removesuffix(suffix): p for n, p in named if n.endswith(suffix)}
            h = loop_layer(family, h, h0, params, **variant)  # (T, B, H)
        return h.transpose(0, 1)  # (B, T, H)

    return forward, list(module.parameters()), None


def torch_nn_columns(family: str, I: int, H: int, L: int, skip_loop: bool) -> tuple[dict, Column]:
    """torch.nn, and seqlab's backends and loop with torch.nn's weights copied in; and the
    float64 truth."""
    torch.manual_seed(0)
    torch_module = getattr(nn, family)(I, H, L, batch_first=True, device=DEVICE)
    modules = {"torch.nn": torch_module}
    for backend in ("seqlab", "auto"):
        modules[backend] = getattr(seqlab, family)(
            I, H, L, batch_first=True, backend=backend, device=DEVICE
        )
        modules[backend].load_state_dict(torch_module.state_dict())
    columns = {name: module_column(module) for name, module in modules.items()}
    columns |= {name: module_column(modules["seqlab"], tier) for name, tier in TIERS.items()}
    if not skip_loop:
        columns["loop"] = loop_column(family, modules["seqlab"], {})
    return columns, truth_column(family, modules["seqlab"], {})


def make_call(
    column: Column, x: Tensor, grad_out: Tensor, mode: str, case: str = ""
) -> Callable[[], None]:
    """One timed call: forward only, or forward and backward of (out * grad_out).sum()
    (``case`` "sum": of out.sum(); "no-dx": w.r.t. the parameters only, the input requiring
    no gradient); on a GPU it waits for the device to finish."""
    forward, params, tier = column
    if case == "no-dx":
        x = x.detach()
    inputs = params if case == "no-dx" else [x, *params]
    sync = torch.cuda.synchronize if x.device.type == "cuda" else (lambda: None)

    def call() -> None:
        with compiled.use(tier):
            if mode == "infer":
                with torch.inference_mode():
                    forward(x)
            elif case == "sum":
                torch.autograd.grad(forward(x).sum(), inputs)
            else:
                torch.autograd.grad(forward(x), inputs, grad_out)
        sync()

    return call


def time_calls(calls: dict[str, Callable[[], None]], timing: Timing) -> dict[str, dict]:
    """Median ms per call of each column; columns take turns so they share the machine's load."""
    estimate = {}
    for name, call in calls.items():
        spent = 0.0
        for _ in range(timing.warmup):
            start = time.perf_counter()
            call()
            estimate[name] = time.perf_counter() - start
            spent += estimate[name]
            if spent > timing.budget_s / 2:  # a slow column: its first call was warm-up enough
                break
    reps = {
        name: max(timing.min_reps, min(timing.max_reps, int(timing.budget_s / est)))
        for name, est in estimate.items()
    }
    samples: dict[str, list[float]] = {name: [] for name in calls}
    for r in range(max(reps.values())):
        for name, call in calls.items():
            if r < reps[name]:
                start = time.perf_counter()
                call()
                samples[name].append(time.perf_counter() - start)
    return {
        name: {"median_ms": 1e3 * statistics.median(s), "repeats": len(s)}
        for name, s in samples.items()
    }


def truth_column(family: str, module: nn.Module, variant: dict) -> Column:
    """The module's equations as the autograd loop in float64: the truth columns are judged by."""
    forward, params, _ = loop_column(family, copy.deepcopy(module).double(), variant)
    return (lambda x: forward(x.double())), params, None


def max_differences(
    columns: dict[str, Column], x: Tensor, against: str, where: str, truth: Column
) -> dict:
    """Max |out - out_against| of every column. Past TOLERANCE it measures each column against
    the float64 ``truth`` and warns only for a column much further from it than ``against``
    is: some variants (layer norm over a long sequence) lose 1e-3 in float32 in any order of
    evaluation."""
    with torch.no_grad():
        outs = {}
        for name, (forward, _, tier) in columns.items():
            with compiled.use(tier):
                outs[name] = forward(x)
        diffs = {n: (o - outs[against]).abs().max().item() for n, o in outs.items() if n != against}
        if max(diffs.values()) <= TOLERANCE:
            return diffs
        exact = truth[0](x)
    errors = {n: (o.double() - exact).abs().max().item() for n, o in outs.items()}
    for name, diff in diffs.items():
        if diff > TOLERANCE and errors[name] > max(TOLERANCE, 4 * errors[against]):
            print(
                f"WARNING: {where}: {name} differs from {against} by {diff:.2e} and from the "
                f"float64 loop by {errors[name]:.2e} ({against}: {errors[against]:.2e}); its "
                f"timing may not compute the same thing"
            )
    return diffs


def inputs_for(B: int, T: int, I: int, H: int) -> tuple[Tensor, Tensor]:
    torch.manual_seed(0)
    x = torch.randn(B, T, I, device=DEVICE, requires_grad=True)
    return x, torch.randn(B, T, H, device=DEVICE)  # x, grad_out


def _ms(cell: dict) -> str:
    return f"{cell['median_ms']:.2f}"


def bench_family(family: str, configs, modes, timing: Timing, skip_loop: bool, case_config):
    """The torch.nn tables of one family: a row per config (and per extra case of
    ``case_config`` in training), a table per mode."""
    setups = []  # built once per config; outputs checked once, before any timing
    for B, T, I, H, L in configs:
        columns, truth = torch_nn_columns(family, I, H, L, skip_loop)
        x, grad_out = inputs_for(B, T, I, H)
        where = f"{family} {B},{T},{I},{H},{L}"
        diffs = max_differences(columns, x, "torch.nn", where, truth)
        setups.append(((B, T, I, H, L), columns, x, grad_out, diffs))
    names = ["torch.nn", "seqlab", "compiled", "auto"] + ([] if skip_loop else ["loop"])
    tables, results = [], []
    for mode in modes:
        table = Table(
            f"{family} {mode}: ms per call (median), ratio = time / torch.nn",
            ["B,T,I,H,L", *names, *(f"{n}/nn" for n in names[1:])],
        )
        for config, columns, x, grad_out, diffs in setups:
            cases = [""] + (list(CASES) if mode == "train" and config == case_config else [])
            for case in cases:
                calls = {n: make_call(c, x, grad_out, mode, case) for n, c in columns.items()}
                cells = time_calls(calls, timing)
                ratios = {
                    n: cells[n]["median_ms"] / cells["torch.nn"]["median_ms"] for n in names[1:]
                }
                label = ",".join(map(str, config)) + (f" {case}" if case else "")
                row = [label, *(_ms(cells[n]) for n in names)]
                table.add(row + [f"{ratios[n]:.2f}" for n in names[1:]])
                results.append(
                    {
                        "family": family,
                        "mode": mode,
                        "case": case or "weighted",
                        "config": dict(zip("BTIHL", config, strict=True)),
                    }
                    | {"cells": cells, "ratio_to_torch_nn": ratios}
                    | {"max_abs_diff_vs_torch_nn": diffs}
                )
        tables.append(table)
    return tables, results


def bench_variants(family: str, config, modes, timing: Timing):
    """seqlab on both tiers against its autograd loop for the variants torch lacks; ratio is
    the speed-up."""
    B, T, I, H, L = config
    names = ["seqlab", "compiled"]
    table = Table(
        f"{family} variants at B,T,I,H,L = {B},{T},{I},{H},{L}: ms per call (median), "
        "speed-up = loop / column",
        ["variant", "mode", *names, "loop", *(f"loop/{n}" for n in names)],
    )
    results = []
    for variant in VARIANTS[family]:
        label = ", ".join(f"{key}={value!r}" for key, value in variant.items())
        torch.manual_seed(0)
        try:
            cls = getattr(seqlab, family)
            module = cls(I, H, L, batch_first=True, backend="seqlab", device=DEVICE, **variant)
        except (TypeError, seqlab.SeqlabError) as error:
            print(f"note: seqlab.{family}({label}) cannot be built yet ({error}); skipped")
            continue
        columns = {n: module_column(module, TIERS[n]) for n in names}
        columns["loop"] = loop_column(family, module, variant)
        x, grad_out = inputs_for(B, T, I, H)
        truth = truth_column(family, module, variant)
        diffs = max_differences(columns, x, "loop", f"{family}({label})", truth)
        for mode in modes:
            calls = {name: make_call(column, x, grad_out, mode) for name, column in columns.items()}
            cells = time_calls(calls, timing)
            speedups = {n: cells["loop"]["median_ms"] / cells[n]["median_ms"] for n in names}
            times = [_ms(cells[n]) for n in [*names, "loop"]]
            table.add([label, mode, *times, *(f"{speedups[n]:.2f}" for n in names)])
            results.append(
                {"family": family, "variant": label, "options": variant, "mode": mode}
                | {"config": dict(zip("BTIHL", config, strict=True)), "cells": cells}
                | {"speedup_vs_loop": speedups["seqlab"], "max_abs_diff_vs_loop": diffs["seqlab"]}
                | {"compiled_speedup_vs_loop": speedups["compiled"]}
                | {"compiled_max_abs_diff_vs_loop": diffs["compiled"]}
            )
    return table, results


def _row_label(result: dict) -> str:
    case = result.get("case", "weighted")
    suffix = "" if case == "weighted" else f" {case}"
    return ",".join(map(str, result["config"].values())) + suffix


def summary_markdown(results: list[dict], variants: list[dict]) -> str:
    """The README's view: ratios to torch.nn per family and config (and compiled to the
    Python tier), and the variants' speed-ups over their autograd loops."""
    families = list(dict.fromkeys(r["family"] for r in results))
    modes = list(dict.fromkeys(r["mode"] for r in results))
    rows = list(dict.fromkeys(_row_label(r) for r in results))
    cell = {(r["family"], r["mode"], _row_label(r)): r for r in results}
    header = [f"{f} {m}" for f in families for m in modes]

    def ratio(r: dict, column: str) -> float:
        if column == "compiled/seqlab":
            return r["cells"]["compiled"]["median_ms"] / r["cells"]["seqlab"]["median_ms"]
        return r["ratio_to_torch_nn"][column]

    lines = []
    for column, title in (
        ("seqlab", "time / torch.nn time, backend='seqlab' on the Python tier"),
        ("compiled", "time / torch.nn time, backend='seqlab' on the compiled tier"),
        ("auto", "time / torch.nn time, backend='auto'"),
        ("compiled/seqlab", "compiled tier's time / the Python tier's, backend='seqlab'"),
    ):
        lines += [
            f"{title[0].upper()}{title[1:]} (below 1: faster)",
            "",
            "| B,T,I,H,L | " + " | ".join(header) + " |",
            "|---|" + "---|" * len(header),
        ]
        for label in rows:
            ratios = [
                f"{ratio(cell[f, m, label], column):.2f}" if (f, m, label) in cell else ""
                for f in families
                for m in modes
            ]
            lines.append(f"| {label} | " + " | ".join(ratios) + " |")
        lines.append("")
    if variants:
        lines += [
            "Variants torch.nn lacks: speed-up of seqlab (Python tier; compiled tier) over the "
            "plain autograd loop at B,T,I,H,L = "
            f"{','.join(map(str, variants[0]['config'].values()))}",
            "",
            "| variant | " + " | ".join(f"{m} (Python; compiled)" for m in modes) + " |",
            "|---|" + "---|" * len(modes),
        ]
        speedups = {
            (v["family"], v["variant"], v["mode"]): (
                v["speedup_vs_loop"],
                v.get("compiled_speedup_vs_loop", float("nan")),
            )
            for v in variants
        }
        nan = (float("nan"), float("nan"))
        for family, label in dict.fromkeys((v["family"], v["variant"]) for v in variants):
            values = [speedups.get((family, label, m), nan) for m in modes]
            cells = [f"{python:.2f}; {ext:.2f}" for python, ext in values]
            lines.append(f"| {family} {label} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def machine_info() -> dict:
    return {
        "torch": torch.__version__,
        "seqlab": seqlab.__version__,
        "python": platform.python_version(),
        "threads": torch.get_num_threads(),
        "interop_threads": torch.get_num_interop_threads(),
        "cpu_count": os.cpu_count(),
        "platform": platform.platform(),
        "processor": platform.processor(),
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "device": str(DEVICE),
        "device_name": torch.cuda.get_device_name(DEVICE) if DEVICE.type == "cuda" else "cpu",
    }


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="tiny configs: a < 1 min smoke test")
    parser.add_argument("--families", nargs="+", choices=FAMILIES, default=list(FAMILIES))
    parser.add_argument("--modes", nargs="+", choices=MODES, default=list(MODES))
    parser.add_argument("--skip-loop", action="store_true", help="no loop column, no variants")
    parser.add_argument("--budget", type=float, help="seconds of timed calls per cell (2; 0.05)")
    parser.add_argument("--out", type=Path, help="JSON results (results/recurrent[-quick].json)")
    parser.add_argument("--markdown", type=Path, help="also write the tables here as Markdown")
    parser.add_argument("--device", default="cpu", help="cpu (default) or cuda")
    return parser.parse_args(argv)


def main(argv=None) -> None:
    global DEVICE
    args = parse_args(argv)
    DEVICE = torch.device(args.device)
    if DEVICE.type == "cuda" and not torch.cuda.is_available():
        raise SystemExit("--device cuda: no CUDA device is visible to torch")
    if args.quick:
        timing = Timing(args.budget or 0.05, warmup=1, min_reps=3, max_reps=5)
        configs, variant_config = QUICK_CONFIGS, QUICK_VARIANT_CONFIG
        case_config = QUICK_CONFIGS[0]
    else:
        timing = Timing(args.budget or 2.0, warmup=2, min_reps=3, max_reps=50)
        configs, variant_config = CONFIGS, VARIANT_CONFIG
        case_config = CASE_CONFIG
    info = machine_info()
    machine = (
        f"torch {info['torch']}, {info['threads']} threads, {info['cpu_count']} CPUs, "
        f"{info['platform']}, {info['date']}; device {info['device_name']}; float32, "
        f"batch_first, {timing.budget_s:g} s per cell"
    )
    print(machine)
    started = time.perf_counter()
    tables, results, variants = [], [], []
    for name in args.families:
        if not hasattr(seqlab, name):
            print(f"\nnote: seqlab.{name} is not available yet; skipping the {name} family")
            continue
        family_tables, family_results = bench_family(
            name, configs, args.modes, timing, args.skip_loop, case_config
        )
        tables += family_tables
        results += family_results
        if not args.skip_loop:
            table, variant_results = bench_variants(name, variant_config, args.modes, timing)
            tables.append(table)
            variants += variant_results
    elapsed = time.perf_counter() - started
    print(f"\n{elapsed:.0f} s in all")
    settings = vars(args) | {"timing": vars(timing), "elapsed_s": elapsed}
    payload = {"machine": info, "settings": settings, "results": results, "variants": variants}
    if args.out is None:  # a smoke test never overwrites the real results
        suffix = ("-cuda" if DEVICE.type == "cuda" else "") + ("-quick" if args.quick else "")
        args.out = RESULTS / f"recurrent{suffix}.json"
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(payload, indent=2, default=str) + "\n")
    print(f"wrote {args.out}")
    if args.markdown is not None:
        args.markdown.parent.mkdir(parents=True, exist_ok=True)
        summary = summary_markdown(results, variants)
        tables_md = "\n".join(t.markdown() for t in tables)
        args.markdown.write_text(f"{machine}\n\n## Summary\n\n{summary}\n## Tables\n\n{tables_md}")
        print(f"wrote {args.markdown}")


if __name__ == "__main__":
    main()

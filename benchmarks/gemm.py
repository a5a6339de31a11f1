"""GFLOP/s of the engine's matrix products: ATen's mm (MKL) against torch's oneDNN linear.

The shapes are those of an LSTM layer with B=64, T=100, I=128, H=512: the per-step recurrent
product, the input projection, dx, and the two weight gradients. ``seqlab.recurrent.gemm``
picks oneDNN past a size threshold because of what this measures.

    .venv/bin/python benchmarks/gemm.py [--out benchmarks/results/gemm.json]
    .venv/bin/python benchmarks/gemm.py --layouts     # oneDNN's time by weight layout

``--layouts`` times oneDNN at one product (64, 512) x (512, 1024) with the weight dense,
dense transposed, and as a strided slice of a wider buffer: the last falls to oneDNN's
reference kernel, which is why ``gemm.py`` copies such weights first.
"""

import argparse
import json
import statistics
import time
from pathlib import Path

import torch

SHAPES = {  # name: (M, K, N) of a (M, K) @ (K, N) product
    "step h·Uᵀ (B,H)x(H,4H)": (64, 512, 2048),
    "step dA·U (B,4H)x(4H,H)": (64, 2048, 512),
    "small step (32,128)x(128,512)": (32, 128, 512),
    "batch-1 step (1,64)x(64,256)": (1, 64, 256),
    "projection X·Wᵀ (TB,I)x(I,4H)": (6400, 128, 2048),
    "dx dA·W (TB,4H)x(4H,I)": (6400, 2048, 128),
    "dW_hh dAᵀ·H (4H,TB)x(TB,H)": (2048, 6400, 512),
}


def median_seconds(fn, budget=1.0, min_reps=5):
    fn()
    start = time.perf_counter()
    fn()
    reps = max(min_reps, int(budget / max(time.perf_counter() - start, 1e-6)))
    samples = []
    for _ in range(min(reps, 200)):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def weight_layouts() -> None:
    onednn = torch.ops.mkldnn._linear_pointwise
    M, K, N = 64, 512, 1024
    a = torch.randn(M, K)
    weights = {
        "dense (N, K)": torch.randn(N, K),
        "dense transposed (K, N).T": torch.randn(K, N).T,
        "strided slice (N, 2K)[:, :K]": torch.randn(N, 2 * K)[:, :K],
        "strided slice (2K, N)[:K].T": torch.randn(K, 2 * N)[:, :N].T,
    }
    print(f"oneDNN a @ w.T, a ({M}, {K}), w ({N}, {K}) in several layouts")
    for name, w in weights.items():
        seconds = median_seconds(lambda w=w: onednn(a, w, None, "none", [], ""), 0.5, 3)
        print(f"  {name:<32}{seconds * 1e3:>10.3f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "gemm.json"))
    parser.add_argument("--layouts", action="store_true", help="time oneDNN by weight layout")
    args = parser.parse_args()
    if args.layouts:
        weight_layouts()
        return
    onednn = torch.ops.mkldnn._linear_pointwise
    rows = []
    print(f"{'product':<34}{'mm GF/s':>10}{'oneDNN GF/s':>13}{'speed-up':>10}")
    for name, (M, K, N) in SHAPES.items():
        a, w = torch.randn(M, K), torch.randn(N, K)  # a @ w.T
        flops = 2 * M * K * N
        t_mm = median_seconds(lambda a=a, w=w: a @ w.T)
        t_dnn = median_seconds(lambda a=a, w=w: onednn(a, w, None, "none", [], ""))
        rows.append(
            {
                "product": name,
                "M": M,
                "K": K,
                "N": N,
                "mm_gflops": flops / t_mm / 1e9,
                "onednn_gflops": flops / t_dnn / 1e9,
                "speedup": t_mm / t_dnn,
            }
        )
        r = rows[-1]
        print(f"{name:<34}{r['mm_gflops']:>10.0f}{r['onednn_gflops']:>13.0f}{r['speedup']:>9.2f}x")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    info = {"torch": torch.__version__, "threads": torch.get_num_threads()}
    Path(args.out).write_text(json.dumps({"machine": info, "rows": rows}, indent=2))
    print(f"\nwrote {args.out}")


if __name__ == "__main__":
    main()

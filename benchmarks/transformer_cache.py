"""Generation with and without the Transformer's key/value cache.

Samples 500 characters (after a 9-character prime, temperature 0.8, one stream) from the
decoder-only Transformer of ``seqlab run charlm --preset transformer`` (untrained weights of the
same shape: speed does not depend on them) twice: with the cache (each step embeds one new
character and attends over the cached keys and values, O(t) a step) and without it
(``use_cache = False``: each step recomputes every position of the current context, O(t²)).
Both draw the same characters (the tests check it); the runs take turns and each figure is the
median of ``--repeats`` runs.

    .venv/bin/python benchmarks/transformer_cache.py [--repeats 5] [--out FILE.json]
"""

import argparse
import json
import platform
import statistics
import time
from pathlib import Path

import torch

from seqlab.decode import generate
from seqlab.experiments.charlm import PRESETS
from seqlab.models.charlm import build_charlm

VOCAB, LENGTH = 77, 500  # the Shakespeare split's characters; characters generated


def time_generation(model, cached: bool, seed: int) -> tuple[float, list[int]]:
    model.use_cache = cached
    prime = torch.arange(4, 13)  # 9 characters
    start = time.perf_counter()
    ids = generate(model.step, prime, LENGTH, 0.8, generator=torch.Generator().manual_seed(seed))
    return time.perf_counter() - start, ids


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=5)
    default = Path("benchmarks/results/transformer_cache.json")
    parser.add_argument("--out", type=Path, default=default)
    args = parser.parse_args()
    cfg = PRESETS["transformer"].model
    torch.manual_seed(0)
    model = build_charlm(cfg, VOCAB).eval()
    times = {True: [], False: []}
    same = True
    for r in range(args.repeats):
        found = {}
        for cached in (True, False) if r % 2 == 0 else (False, True):
            seconds, found[cached] = time_generation(model, cached, seed=r)
            times[cached].append(seconds)
        same &= found[True] == found[False]
    cached, uncached = statistics.median(times[True]), statistics.median(times[False])
    result = {
        "benchmark": "transformer_cache",
        "model": f"charlm --preset transformer: {cfg.num_layers} x {cfg.hidden_size}, "
        f"{cfg.heads} heads, context {cfg.max_len}",
        "characters": LENGTH,
        "repeats": args.repeats,
        "cached_s": round(cached, 3),
        "uncached_s": round(uncached, 3),
        "speedup": round(uncached / cached, 2),
        "cached_chars_per_s": round(LENGTH / cached, 1),
        "uncached_chars_per_s": round(LENGTH / uncached, 1),
        "same_characters": same,
        "all_cached_s": [round(t, 3) for t in times[True]],
        "all_uncached_s": [round(t, 3) for t in times[False]],
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "machine": platform.processor() or platform.machine(),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(f"| {LENGTH} characters | with cache | without | speed-up |\n|---|---|---|---|")
    print(f"| {result['model']} | {cached:.2f} s | {uncached:.2f} s | {uncached / cached:.1f}× |")
    print(f"same characters: {same}; {args.out}")


if __name__ == "__main__":
    main()

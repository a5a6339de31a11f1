"""seqlab: list, run, resume and sample experiments.

    seqlab list
    seqlab run charlm --preset demo [--set train.lr=3e-3 ...] [--out DIR]
    seqlab run charlm --resume runs/charlm-20261126-153000
    seqlab sample runs/charlm-20261126-153000 --prime "ROMEO:" --temperature 0.7
    seqlab translate runs/translate-dates-20261126-153000 "3 mai 1998" --plot a.png

Under ``torchrun --nproc_per_node=N`` the same ``run`` command trains with
DistributedDataParallel; only rank 0 prints and writes.
"""

import argparse
import dataclasses
import logging
import os
import shutil
import sys
from pathlib import Path

import torch

from . import __version__, experiments
from .config import keys, override
from .console import Progress
from .errors import CheckpointError, ConfigError, SeqlabError
from .experiments import rundir
from .train import distributed
from .train.runtime import keep_freed_memory

EXAMPLES = """\
examples:
  seqlab list
  seqlab run charlm --preset quick
  seqlab run charlm --set model.hidden_size=256 --set train.time_budget=300 --out runs/small
  seqlab run charlm --resume runs/small
  torchrun --nproc_per_node=2 $(which seqlab) run charlm --preset demo
  seqlab sample runs/small --prime "ROMEO:" --length 400 --temperature 0.7
  seqlab run translate-dates --out runs/dates
  seqlab translate runs/dates "Tuesday, March 3, 1998" --beam 5 --plot alignment.png
"""


def cmd_list(args) -> int:
    for exp in experiments.REGISTRY.values():
        print(f"{exp.name}  —  {exp.summary}")
        for preset in exp.presets:
            default = " (default)" if preset == exp.default_preset else ""
            note = exp.preset_notes.get(preset, "")
            print(f"    --preset {preset:<9}{default:<10} {note}")
    print(
        "\nRun one with `seqlab run NAME [--preset P]`; `seqlab run NAME --help-config` lists "
        "the keys --set can change."
    )
    return 0


def _overrides(args) -> list[str]:
    extra = list(args.set or [])
    if args.seed is not None:
        extra.append(f"seed={args.seed}")
    if args.device is not None:
        extra.append(f"device={args.device}")
    return extra


def cmd_run(args) -> int:
    experiment = experiments.get(args.experiment)
    if args.help_config:
        cfg = experiment.preset(args.preset)
        print(f"keys of {experiment.name} (preset {args.preset or experiment.default_preset}):")
        for key, value in keys(cfg).items():
            print(f"  {key} = {value!r}")
        return 0
    keep_freed_memory()
    if args.resume:
        if args.preset or args.set or args.seed is not None or args.out:
            raise ConfigError(
                "--resume continues a run with the configuration in its config.json; "
                "drop --preset/--set/--seed/--out (only --device may change)"
            )
        run = rundir.reopen(args.resume, distributed.Context(), expect=experiment.name)
        if args.device:
            run.cfg = dataclasses.replace(run.cfg, device=args.device)
        ctx = run.ctx = distributed.setup(run.cfg.device)
    else:
        cfg = override(experiment.preset(args.preset), _overrides(args))
        ctx = distributed.setup(cfg.device)
        run = rundir.start(experiment, args.preset, cfg, args.out, ctx)
    out = sys.stdout if ctx.main else None
    if out:
        print(
            f"seqlab {__version__} · {experiment.name} · preset {run.preset} · run folder "
            f"{run.dir}",
            file=out,
        )
        print(
            f"  device {ctx.device} · {ctx.world} process(es) · {torch.get_num_threads()} "
            f"threads · torch {torch.__version__}",
            file=out,
            flush=True,
        )
    progress = Progress(every_s=args.log_every_s) if ctx.main and not args.quiet else None
    try:
        summary = experiment.run(run.cfg, run, progress)
    except BaseException as err:
        distributed.teardown()  # no barrier: the other ranks may never reach it
        if isinstance(err, KeyboardInterrupt):
            if ctx.main:
                print(
                    "\ninterrupted; the checkpoint holds the last finished step. Continue with:\n"
                    f"  seqlab run {experiment.name} --resume {run.dir}",
                    file=sys.stderr,
                )
            return 130
        if isinstance(err, SeqlabError) and ctx.main and not run.resume:
            if not (run.dir / "checkpoint.pt").exists():
                # Nothing was trained: don't leave a folder that blocks the corrected command.
                shutil.rmtree(run.dir, ignore_errors=True)
        raise
    if out:
        print_summary(summary, run.dir)
    distributed.teardown(synchronize=True)
    return 0


def print_summary(summary: dict, run_dir: Path) -> None:
    """The experiment's own result lines, then where the report and figures are."""
    lines = summary.get("lines") or []
    if lines:
        print("\n" + "\n".join(f"  {line}" if line else "" for line in lines))
    print(f"\n  report  {run_dir / 'report.md'}\n  figures {run_dir / 'figures'}")
    for hint in summary.get("hints", []):
        print(f"  {hint}")


def reopen_for(path: str, command: str, lacking: str) -> rundir.Run:
    """The run folder at ``path``, if its experiment has a ``command`` hook (``sample``,
    ``translate``); else a CheckpointError saying ``lacking`` and which experiments have one."""
    run = rundir.reopen(path, distributed.Context())
    if getattr(run.experiment, command) is None:
        able = [e.name for e in experiments.REGISTRY.values() if getattr(e, command)]
        raise CheckpointError(
            f"{path} is a run of {run.experiment.name!r}, which {lacking}; "
            f"`seqlab {command}` works with runs of: {', '.join(able)}"
        )
    return run


def cmd_sample(args) -> int:
    run = reopen_for(args.run_dir, "sample", "has nothing to sample")
    text = run.experiment.sample(
        run, args.prime, args.length, args.temperature, args.top_k, args.seed
    )
    sys.stdout.write(text.rstrip("\n") + "\n")
    return 0


def cmd_translate(args) -> int:
    run = reopen_for(args.run_dir, "translate", "does not translate")
    result = run.experiment.translate(
        run,
        args.text,
        beam=args.beam,
        plot=args.plot,
        kind=args.model,
        allow_unknown=args.allow_unknown,
    )
    print(result["translation"])
    how = "greedy" if result["beam"] == 1 else f"beam {result['beam']}"
    ended = "" if result["finished"] else ", cut at the length limit"
    notes = [f"{result['label']} model, {how}, log p = {result['log_prob']:.3f}{ended}"]
    if result["unknown"]:
        notes.append(f"read as <unk>: {' '.join(result['unknown'])}")
    if "plot" in result:
        notes.append(f"alignment saved to {result['plot']}")
    print("  (" + "; ".join(notes) + ")", file=sys.stderr)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="seqlab",
        description=__doc__.splitlines()[0],
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"seqlab {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug messages")
    sub = parser.add_subparsers(dest="command", required=True)

    sub.add_parser("list", help="experiments and their presets").set_defaults(func=cmd_list)

    run = sub.add_parser("run", help="train and evaluate an experiment")
    run.add_argument("experiment", help="an experiment name from `seqlab list`")
    run.add_argument("--preset", help="a preset from `seqlab list` (default: default)")
    run.add_argument(
        "--set",
        action="append",
        metavar="KEY=VALUE",
        help="change one configuration key, e.g. train.lr=3e-3 (repeatable)",
    )
    run.add_argument("--out", help="run folder to create (default: runs/NAME-TIMESTAMP)")
    run.add_argument("--resume", metavar="RUN_DIR", help="continue a run from its checkpoint")
    run.add_argument("--device", help="auto | cpu | cuda (default: the configuration's, auto)")
    run.add_argument("--seed", type=int, help="random seed (default: the configuration's, 0)")
    run.add_argument("--quiet", action="store_true", help="no progress bar")
    run.add_argument(
        "--log-every-s",
        type=float,
        default=30.0,
        help="seconds between progress lines when output is not a terminal",
    )
    run.add_argument(
        "--help-config",
        action="store_true",
        help="list the keys --set can change, with the preset's values, and exit",
    )
    run.set_defaults(func=cmd_run)

    sample = sub.add_parser("sample", help="generate text from a trained run")
    sample.add_argument("run_dir", metavar="RUN_DIR")
    sample.add_argument("--prime", help="text to start from (default: the run's sample.prime)")
    sample.add_argument("--length", type=int, help="characters to generate")
    sample.add_argument("--temperature", type=float, help="0 = greedy, <1 safer, >1 wilder")
    sample.add_argument("--top-k", type=int, help="sample only among the K likeliest (0 = all)")
    sample.add_argument("--seed", type=int, default=0)
    sample.set_defaults(func=cmd_sample)

    translate = sub.add_parser("translate", help="translate a sentence with a trained run")
    translate.add_argument("run_dir", metavar="RUN_DIR", help="a translate-* run folder")
    translate.add_argument("text", help="the sentence (or date) to translate")
    translate.add_argument("--beam", type=int, help="beam width (1 = greedy; default: the run's)")
    translate.add_argument("--plot", metavar="FILE", help="save the alignment heatmap (PNG)")
    translate.add_argument(
        "--model", help="which of the run's decoders: additive, none ... (default: attention)"
    )
    translate.add_argument(
        "--allow-unknown",
        action="store_true",
        help="read words the model never saw as <unk> instead of refusing them",
    )
    translate.set_defaults(func=cmd_translate)
    return parser


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    try:
        return args.func(args)
    except SeqlabError as err:
        rank = os.environ.get("RANK", "0")  # set by torchrun; every rank may hit the same error
        where = "" if rank == "0" else f" (rank {rank})"
        print(f"seqlab: error{where}: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())

"""seqlab: list, run, resume and report experiments, and use what they trained.

    seqlab list
    seqlab run charlm --preset demo [--set train.lr=3e-3 ...] [--out DIR]
    seqlab run charlm --resume runs/charlm-20261126-153000
    seqlab report runs docs/results --out site
    seqlab sample runs/charlm-20261126-153000 --prime "ROMEO:" --temperature 0.7
    seqlab translate runs/translate-dates-20261126-153000 "3 mai 1998" --plot a.png

The verbs after ``report`` come from the experiments (``seqlab.experiments.Command``): each
works with the run folders of the experiments that offer it. Under ``torchrun
--nproc_per_node=N`` the same ``run`` command trains with DistributedDataParallel; only rank 0
prints and writes.
"""

import argparse
import dataclasses
import logging
import os
import sys
from contextlib import nullcontext
from pathlib import Path

import torch

from . import __version__, experiments
from .config import keys, override
from .console import Progress
from .errors import CheckpointError, ConfigError, DivergedError, SeqlabError
from .experiments import rundir
from .report import command as report_command
from .train import distributed
from .train.runtime import keep_freed_memory, one_thread

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
  seqlab report runs --out runs/gallery
"""


class Terminal:
    """A command's output on the terminal: text to stdout as it comes, notes to stderr."""

    def text(self, text: str) -> None:
        sys.stdout.write(text)
        sys.stdout.flush()

    def note(self, text: str) -> None:
        print(text, file=sys.stderr)


def cmd_list(args) -> int:
    for exp in experiments.REGISTRY.values():
        print(f"{exp.name}  —  {exp.summary}")
        for preset in exp.presets:
            default = " (default)" if preset == exp.default_preset else ""
            note = exp.preset_notes.get(preset, "")
            print(f"    --preset {preset:<9}{default:<10} {note}")
        for command in exp.commands:
            print(f"    then: seqlab {command.name} RUN_DIR ...  ({command.help})")
    print(
        "\nRun one with `seqlab run NAME [--preset P]`; `seqlab run NAME --help-config` lists "
        "the keys --set can change;\n`seqlab report runs --out SITE` gathers run folders into "
        "a gallery to browse."
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
        if run.status == "completed" and (run.dir / "report.md").exists():
            if os.environ.get("RANK", "0") == "0":  # every torchrun rank reads the same files
                print(
                    f"{run.dir} has finished (its summary says completed): nothing to resume.\n"
                    f"  report  {run.dir / 'report.md'}\n"
                    f"  to train more, start a new run: seqlab run {experiment.name} --out "
                    "NEW_DIR"
                )
            return 0
        if args.device:
            run.cfg = dataclasses.replace(run.cfg, device=args.device)
        run.ctx = distributed.setup(run.cfg.device)
        run.lock()
        rundir.remove_leftovers(run.dir)
    else:
        cfg = override(experiment.preset(args.preset), _overrides(args))
        ctx = distributed.setup(cfg.device)
        run = rundir.start(experiment, args.preset, cfg, args.out, ctx)
    ctx = run.ctx
    out = sys.stdout if ctx.main else None
    if out:
        print(
            f"seqlab {__version__} · {experiment.name} · preset {run.preset} · run folder "
            f"{run.dir}",
            file=out,
        )
        print(
            f"  device {ctx.device} · {ctx.world} process(es) · "
            f"{1 if experiment.one_thread else torch.get_num_threads()} threads · "
            f"torch {torch.__version__}",
            file=out,
            flush=True,
        )
    progress = Progress(every_s=args.log_every_s) if ctx.main and not args.quiet else None
    try:
        with one_thread() if experiment.one_thread else nullcontext():
            finished = experiment.run(run.cfg, run, progress)
    except BaseException as err:
        distributed.teardown()  # no barrier: the other ranks may never reach it
        return _stopped(run, err)
    finally:
        run.unlock()
    if out:
        print_summary(finished, run.dir)
    distributed.teardown(synchronize=True)
    return 0


def _stopped(run: rundir.Run, err: BaseException) -> int:
    """Leave a run that stopped early in a state it can be resumed or restarted from, say what
    happened, and give the exit code (or re-raise what is not the person's to fix)."""
    main, name = run.ctx.main, run.experiment.name
    trained = any(run.dir.rglob("checkpoint.pt")) if run.dir.exists() else False
    if isinstance(err, KeyboardInterrupt):
        _try_summary(run, "interrupted", "stopped by Ctrl-C; resume to continue")
        if main:
            print(
                "\ninterrupted; the checkpoint holds the last finished step. Continue with:\n"
                f"  seqlab run {name} --resume {run.dir}",
                file=sys.stderr,
            )
        return 130
    if isinstance(err, DivergedError):
        _try_summary(run, "diverged", str(err))
        if main:
            print(
                f"seqlab: diverged: {err}\n  its settings cannot change on --resume: start a new "
                f"run with other ones, e.g. seqlab run {name} --set train.lr=... --out NEW_DIR",
                file=sys.stderr,
            )
        return 3
    if isinstance(err, OSError):
        where = f" {err.filename}" if err.filename else ""
        raise SeqlabError(
            f"cannot write the run's files ({err.strerror or err}{where}); free space or make "
            f"{run.dir} writable, then continue with `seqlab run {name} --resume {run.dir}`"
        ) from None
    if isinstance(err, SeqlabError) and not trained and not run.resume:
        run.remove_created()  # nothing was trained: leave nothing that blocks the fix
        raise err
    _try_summary(run, "failed", f"{type(err).__name__}: {err}")
    raise err


def _try_summary(run: rundir.Run, status: str, message: str) -> None:
    """Record how the run ended, if its folder can still be written."""
    try:
        if run.dir.exists():
            run.write_summary(status, message)
    except (OSError, SeqlabError) as err:
        logging.getLogger(__name__).warning("could not write the summary: %s", err)


def print_summary(finished, run_dir: Path) -> None:
    """The experiment's own result lines, then where the report and figures are."""
    if finished.lines:
        print("\n" + "\n".join(f"  {line}" if line else "" for line in finished.lines))
    print(f"\n  report  {run_dir / 'report.md'}\n  figures {run_dir / 'figures'}")
    for hint in finished.hints:
        print(f"  {hint}")


def command_handler(verb: str):
    """``seqlab VERB RUN_DIR ...``: the handler of the run folder's experiment."""

    def handle(args) -> int:
        run = rundir.reopen(args.run_dir, distributed.Context())
        command = run.experiment.command(verb)
        if command is None:
            raise CheckpointError(
                f"{args.run_dir} is a run of {run.experiment.name!r}, which does not offer "
                f"`seqlab {verb}`; it works with runs of: "
                f"{', '.join(experiments.offering(verb))}"
            )
        return command.handler(run, args, Terminal())

    return handle


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
    run.add_argument(
        "--resume",
        metavar="RUN_DIR",
        help="continue a run from its checkpoint (one stopped before any checkpoint starts over)",
    )
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

    report = sub.add_parser("report", help=report_command.HELP)
    report_command.add_arguments(report)
    report.set_defaults(func=report_command.run)

    for verb, offered in experiments.commands().items():
        command = offered[0]
        able = ", ".join(experiments.offering(verb))
        parser_ = sub.add_parser(verb, help=f"{command.help} (runs of {able})")
        parser_.add_argument("run_dir", metavar="RUN_DIR", help=f"a run folder of {able}")
        command.arguments(parser_)
        parser_.set_defaults(func=command_handler(verb))
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
    except BrokenPipeError:  # `seqlab sample ... | head`: the reader left; nothing is wrong
        sys.stderr.close()
        return 0


if __name__ == "__main__":
    sys.exit(main())

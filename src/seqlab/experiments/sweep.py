"""Many small trainings inside one run folder (models × seeds × settings), each resumable.

    runs/delay-20261126-153000/
        trainings/lstm-delay10-seed0/   metrics.jsonl, checkpoint.pt, best.pt, result.json
        trainings/rnn-delay10-seed0/    ...

:func:`fit` trains one of them with the :class:`~seqlab.train.Trainer`. When the run is resumed
(``seqlab run NAME --resume DIR``), a training that finished is read back from its
``result.json`` and final checkpoint, and one that was cut short continues from its checkpoint;
so a kill loses at most one training's steps since its last checkpoint.
"""

import json
from collections.abc import Callable

from torch import nn

from ..config import keys
from ..errors import CheckpointError, one_line
from ..files import atomic_write_text
from ..report.summary import to_json
from ..train import TrainConfig, Trainer, checkpoint
from ..train.trainer import CHECKPOINT
from .rundir import Run

RESULT = "result.json"


def load_finished(run: Run, name: str, model: nn.Module, what: str | None = None) -> nn.Module:
    """Loads the weights of training NAME of a finished run folder into ``model``; a training
    that has not finished (or left no checkpoint) and a checkpoint of another model are
    one-line :class:`CheckpointError`s, the first with the command that finishes it."""
    folder = run.dir / "trainings" / name
    path = folder / CHECKPOINT
    if not (folder / RESULT).exists() or not path.exists():
        raise CheckpointError(
            f"{what or f'the {name} model'} of {run.dir} has not finished training; finish it "
            f"with `seqlab run {run.experiment.name} --resume {run.dir}`"
        )
    try:
        model.load_state_dict(checkpoint.load(path)["model"])
    except (RuntimeError, KeyError) as err:
        raise CheckpointError(f"{path} does not fit the model: {one_line(err)}") from None
    return model


def fingerprint(experiment: str, cfg) -> dict:
    """What a training's checkpoint must match to be resumed: the experiment's whole
    configuration except the device (a run may resume on another)."""
    return {"experiment": experiment, **{k: v for k, v in keys(cfg).items() if k != "device"}}


def fit(
    run: Run,
    name: str,
    model: nn.Module,
    task,
    cfg: TrainConfig,
    fingerprint: dict,
    on_event: Callable | None = None,
) -> dict:
    """Train ``model`` on ``task`` in ``run.dir/trainings/NAME``; returns its result record
    (steps, seconds, final training loss, final validation metrics, best validation loss) and
    leaves ``model`` with its final weights.

    ``on_event`` receives the Trainer's "start" (marked ``announce=False``) and "train" events,
    for a progress bar: a sweep announces its trainings itself.
    """
    folder = run.dir / "trainings" / name
    done = folder / RESULT
    if run.resume and done.exists():
        state = checkpoint.load(folder / CHECKPOINT)
        model.to(run.ctx.device)  # where the Trainer leaves a model it trained
        try:
            model.load_state_dict(state["model"])
        except (RuntimeError, KeyError) as err:
            raise CheckpointError(
                f"{folder / CHECKPOINT} does not fit the model: {one_line(err)}"
            ) from None
        return json.loads(done.read_text(encoding="utf-8"))

    def bar_only(kind, info):
        if on_event is not None and kind in ("start", "train", "restart"):
            on_event(kind, {**info, "announce": False} if kind == "start" else info)

    trainer = Trainer(
        model, task, cfg, run.ctx, folder, {"training": name, **fingerprint}, bar_only
    )
    result = trainer.fit(resume=run.resume)  # one cut before its first checkpoint starts over
    record = {
        "name": name,
        "steps": result.step,
        "train_seconds": round(result.elapsed, 2),
        "stop_reason": result.stop_reason,
        "train_loss": result.train_loss,
        "valid": result.valid,
        "best_valid_loss": result.best_valid_loss,
        "best_step": result.best_step,
    }
    if run.ctx.main:
        atomic_write_text(done, to_json(record))
    return record

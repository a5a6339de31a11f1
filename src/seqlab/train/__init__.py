"""Training: a model-agnostic Trainer, checkpoints, distributed set-up, metrics."""

from .distributed import Context
from .trainer import Task, TrainConfig, Trainer, TrainResult

__all__ = ["Context", "Task", "TrainConfig", "TrainResult", "Trainer"]

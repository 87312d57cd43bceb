"""Training runs: the training step, the resumable loop, checkpoints and schedules."""

from ..errors import CheckpointError, Interrupted, TrainingDiverged
from .loop import train

__all__ = ["train", "CheckpointError", "TrainingDiverged", "Interrupted"]

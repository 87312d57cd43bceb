"""Training runs: the resumable loop, checkpoints and schedules."""

from .checkpoint import CheckpointError
from .loop import Interrupted, TrainingDiverged, train

__all__ = ["train", "CheckpointError", "TrainingDiverged", "Interrupted"]

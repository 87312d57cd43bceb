"""Training runs: configuration, the loop, checkpoints and schedules."""

from .checkpoint import CheckpointError
from .config import ConfigError, RunConfig, load_config
from .loop import Interrupted, TrainingDiverged, train

__all__ = ["train", "load_config", "RunConfig", "ConfigError", "CheckpointError",
           "TrainingDiverged", "Interrupted"]

"""Every error that the command line reports in one line, in a module that imports nothing,
so that every layer can raise them and ``cafw`` can catch them whatever is installed."""


class ConfigError(ValueError):
    """An invalid configuration; the message names the key and what is allowed."""


class GridError(ConfigError):
    """An inconsistent pipeline config; the message names the study and the key."""


class DatasetError(Exception):
    """A dataset is missing, corrupt or misconfigured.

    The message names what is wrong, where it was expected and how to fix it, so that a run
    fails with one readable line instead of a traceback from torchvision, pickle or PIL.
    """


class DeviceError(RuntimeError):
    """The process was given GPUs that torch cannot use; the message names the cause (a
    build without CUDA, the driver, no device visible)."""


class CheckpointError(RuntimeError):
    """A checkpoint or weights file that cannot be used; the message says what to do."""


class TrainingDiverged(RuntimeError):
    """Training cannot go on: its loss or its processes' copies of the model diverged."""


class LossDiverged(TrainingDiverged):
    """The training loss became NaN or infinite (the learning rate is too high, or the data
    are bad)."""


class Interrupted(RuntimeError):
    """Training stopped early (a signal or ``stop_at``) after saving a checkpoint."""

    def __init__(self, message: str, exit_code: int):
        super().__init__(message)
        self.exit_code = exit_code


class StepFailed(RuntimeError):
    """A pipeline step that ``cafw`` ran (a Snakemake invocation) failed; its own output, above
    the message, says why."""


class MissingExtra(ModuleNotFoundError):
    """An optional dependency is not installed; the message names the extra to install
    (``cafw.extras``)."""


class NotEnoughGPUs(RuntimeError):
    """A job asked for more GPUs than its host has (``cafw.gpu_slots``)."""


class InputError(ValueError):
    """A table or figure the paper needs is missing, or a table lacks what the paper reads."""

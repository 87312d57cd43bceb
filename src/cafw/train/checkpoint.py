"""Resume checkpoints and trained weights: written atomically, read with weights_only=True,
and reported clearly when missing or corrupt."""

from __future__ import annotations

import pickle
import zipfile
from pathlib import Path

import torch

from ..io import save_torch

CHECKPOINT = "checkpoint.pt"
WEIGHTS = "model.pt"


class CheckpointError(RuntimeError):
    """A checkpoint or weights file that cannot be used; the message says what to do."""


def save(path: Path, state: dict) -> None:
    save_torch(state, path)  # temp file + rename: a kill mid-write leaves the old file intact


def load(path: Path, what: str, remedy: str) -> dict:
    """``torch.load(path, weights_only=True)``, turning every failure into one message."""
    if not path.is_file():
        raise CheckpointError(f"{what} {path} does not exist; {remedy}")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except (RuntimeError, EOFError, pickle.UnpicklingError, zipfile.BadZipFile, ValueError) as err:
        raise CheckpointError(f"{what} {path} is corrupt or not a PyTorch file "
                              f"({type(err).__name__}: {str(err).splitlines()[0][:200]}); "
                              f"{remedy}") from None


def load_metrics(path: Path) -> dict:
    import json

    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as err:
        raise CheckpointError(f"{path} is unreadable ({err}); delete it to train the run "
                              "again") from None

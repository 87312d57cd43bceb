"""Model zoo: every architecture of the experiments, built by name.

``cafw.vocabulary.MODELS`` names each model's builder; only the builder a run uses is
imported.
"""

from __future__ import annotations

from torch import nn

from cafw.vocabulary import MODELS, load


def build_model(name: str, num_classes: int, input_shape: tuple[int, int, int]) -> nn.Module:
    """Build the model registered as ``name`` for inputs of ``input_shape`` (C, H, W), freshly
    initialised."""
    if name not in MODELS:
        raise ValueError(f"unknown model {name!r}; allowed: {', '.join(sorted(MODELS))}")
    return load(MODELS[name].builder)(num_classes, tuple(input_shape))


__all__ = ["build_model"]

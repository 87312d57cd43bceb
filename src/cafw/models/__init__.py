"""Model zoo: every architecture of the experiments, built by name.

Each model's module registers its builder in ``BUILDERS`` under its name in
``cafw.vocabulary.MODELS``; importing the modules below fills it (torchvision, which ResNet-50
needs, is imported only when that model is built).
"""

from __future__ import annotations

from torch import nn

from ..vocabulary import MODELS
from . import mnist, resnet50, resnet_cifar, small, vgg, wide_resnet  # noqa: F401 (they register)
from .zoo import BUILDERS


def build_model(name: str, num_classes: int, input_shape: tuple[int, int, int],
                width: float = 1.0) -> nn.Module:
    """Build the model registered as ``name`` for inputs of ``input_shape`` (C, H, W), freshly
    initialised, its channels ``width`` times the published architecture's."""
    if name not in MODELS:
        raise ValueError(f"unknown model {name!r}; allowed: {', '.join(sorted(MODELS))}")
    return BUILDERS[name](num_classes, tuple(input_shape), width)


__all__ = ["BUILDERS", "build_model"]

"""``BUILDERS``: every model's builder by its name in ``cafw.vocabulary.MODELS``, registered
where it is defined (``@BUILDERS.register("vgg16")``)."""

from __future__ import annotations

from collections.abc import Callable

from torch import nn

from ..registry import Registry

#: (num_classes, input shape (C, H, W), width) -> the model, freshly initialised
Builder = Callable[[int, tuple[int, int, int], float], nn.Module]

BUILDERS: Registry[Builder] = Registry("model")


def scaled(channels: int, width: float) -> int:
    """A layer's channels at ``width`` times the published architecture's (at least one): a
    rehearsal trains every model of the grid at toy width, with its depth and layer types."""
    return max(1, round(channels * width))

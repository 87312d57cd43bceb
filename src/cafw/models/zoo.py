"""``BUILDERS``: every model's builder by its name in ``cafw.vocabulary.MODELS``, registered
where it is defined (``@BUILDERS.register("vgg16")``)."""

from __future__ import annotations

from collections.abc import Callable

from torch import nn

from ..registry import Registry

#: (num_classes, input shape (C, H, W), width) -> the model, freshly initialised
Builder = Callable[[int, tuple[int, int, int], float], nn.Module]

BUILDERS: Registry[Builder] = Registry("model")


#: the fewest channels a narrowed layer keeps (fewer only where the published layer has
#: fewer): filter pruning at ratio 0.9, the paper's largest, removes round(0.9 * 8) = 7
#: filters and leaves a physical model; of 4 channels it would remove all four.
MIN_CHANNELS = 8


def scaled(channels: int, width: float) -> int:
    """A layer's channels at ``width`` times the published architecture's, but at least
    ``MIN_CHANNELS``: a rehearsal trains every model of the grid at toy width, with its depth
    and layer types, and compresses it at every ratio of the grid."""
    return max(min(channels, MIN_CHANNELS), round(channels * width))

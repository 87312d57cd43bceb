"""``BUILDERS``: every model's builder by its name in ``cafw.vocabulary.MODELS``, registered
where it is defined (``@BUILDERS.register("vgg16")``)."""

from __future__ import annotations

from collections.abc import Callable

from torch import nn

from ..registry import Registry

#: (num_classes, input shape (C, H, W)) -> the model, freshly initialised
Builder = Callable[[int, tuple[int, int, int]], nn.Module]

BUILDERS: Registry[Builder] = Registry("model")

"""Model zoo: every architecture of the experiments, built by name.

torchvision is imported only inside the ResNet-50 builder: importing it costs over a second
and most jobs never build that model.
"""

from __future__ import annotations

from collections.abc import Callable

from torch import nn

from cafw.extras import optional_dependency
from cafw.models.mnist import mnist_cnn
from cafw.models.resnet_cifar import resnet18, resnet56
from cafw.models.small import cnn_small
from cafw.models.vgg import vgg16
from cafw.models.wide_resnet import wrn28_10

#: (number of classes, input shape (C, H, W)) -> a freshly initialised model
Builder = Callable[[int, tuple[int, int, int]], nn.Module]


def resnet50(num_classes: int, input_shape: tuple[int, int, int] = (3, 224, 224)) -> nn.Module:
    """torchvision's ImageNet ResNet-50, trained from scratch."""
    with optional_dependency():
        from torchvision.models import resnet50 as tv_resnet50

    model = tv_resnet50(weights=None, num_classes=num_classes)
    if input_shape[0] != 3:
        old = model.conv1
        model.conv1 = nn.Conv2d(input_shape[0], old.out_channels, old.kernel_size, old.stride,
                                old.padding, bias=False)
    return model


MODELS: dict[str, Builder] = {
    "resnet18": resnet18,
    "resnet56": resnet56,
    "vgg16": vgg16,
    "wrn28_10": wrn28_10,
    "resnet50": resnet50,
    "cnn_small": cnn_small,
    "mnist_cnn": mnist_cnn,
}


def build_model(name: str, num_classes: int, input_shape: tuple[int, int, int]) -> nn.Module:
    """Build the model registered as ``name`` for inputs of ``input_shape`` (C, H, W), freshly
    initialised."""
    try:
        builder = MODELS[name]
    except KeyError:
        raise ValueError(f"unknown model {name!r}; allowed: {', '.join(sorted(MODELS))}") from None
    return builder(num_classes, tuple(input_shape))


__all__ = ["MODELS", "build_model"]

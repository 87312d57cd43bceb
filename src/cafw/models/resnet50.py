"""torchvision's ImageNet ResNet-50, trained from scratch.

torchvision is imported only when the model is built: importing it costs over a second and most
jobs never build this model.
"""

from __future__ import annotations

import functools

from torch import nn

from cafw.extras import optional_dependency
from cafw.models.zoo import BUILDERS, scaled


@BUILDERS.register("resnet50")
def resnet50(num_classes: int, input_shape: tuple[int, int, int] = (3, 224, 224),
             width: float = 1.0) -> nn.Module:
    """torchvision's ResNet-50 with ``num_classes`` outputs and ``input_shape[0]`` input
    channels, every layer's channels ``width`` times torchvision's."""
    model = _resnet_class()(width, num_classes)
    if input_shape[0] != 3:
        old = model.conv1
        model.conv1 = nn.Conv2d(input_shape[0], old.out_channels, old.kernel_size, old.stride,
                                old.padding, bias=False)
    return model


@functools.cache
def _resnet_class() -> type[nn.Module]:
    with optional_dependency():
        from torchvision.models.resnet import Bottleneck, ResNet

    class ResNet50(ResNet):
        """torchvision's ResNet-50, whose __init__ names the channels of the stem and of each
        stage as literals; they are scaled here, where __init__ builds each stage.  At width 1
        it is torchvision's model, drawn from the same random numbers."""

        def __init__(self, width: float, num_classes: int) -> None:
            self.__dict__["width"] = width  # read while ResNet.__init__ builds the stages
            super().__init__(Bottleneck, [3, 4, 6, 3], num_classes=num_classes)
            if width != 1:  # the head takes the last stage's channels
                self.fc = nn.Linear(scaled(512, width) * Bottleneck.expansion, num_classes)

        def _make_layer(self, block, planes, blocks, stride=1, dilate=False):
            if self.width != 1 and planes == 64:  # the first stage: the stem narrows with it
                self.inplanes = scaled(64, self.width)
                self.conv1 = nn.Conv2d(3, self.inplanes, 7, 2, 3, bias=False)
                self.bn1 = self._norm_layer(self.inplanes)
            return super()._make_layer(block, scaled(planes, self.width), blocks, stride,
                                       dilate)

    return ResNet50

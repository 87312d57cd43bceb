"""torchvision's ImageNet ResNet-50, trained from scratch.

torchvision is imported only inside the builder: importing it costs over a second and most
jobs never build this model.
"""

from __future__ import annotations

from torch import nn

from cafw.extras import optional_dependency
from cafw.models.zoo import BUILDERS


@BUILDERS.register("resnet50")
def resnet50(num_classes: int, input_shape: tuple[int, int, int] = (3, 224, 224)) -> nn.Module:
    """torchvision's ResNet-50 with ``num_classes`` outputs and ``input_shape[0]`` input
    channels."""
    with optional_dependency():
        from torchvision.models import resnet50 as tv_resnet50

    model = tv_resnet50(weights=None, num_classes=num_classes)
    if input_shape[0] != 3:
        old = model.conv1
        model.conv1 = nn.Conv2d(input_shape[0], old.out_channels, old.kernel_size, old.stride,
                                old.padding, bias=False)
    return model

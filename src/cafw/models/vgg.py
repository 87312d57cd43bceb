"""VGG-16 with BatchNorm for 32x32 inputs, as in the authors' code (after Lee et al.'s LAMP).

Five max-pools take 32x32 down to 1x1, so a single Linear(512, classes) replaces VGG's
ImageNet head.  ``features`` is a plain Conv->BN->ReLU(->MaxPool) chain followed by
``classifier``: physical filter pruning walks exactly that structure.
"""

from __future__ import annotations

from torch import Tensor, nn

from .zoo import BUILDERS, scaled

CFG_VGG16: list[int | str] = [64, 64, "M", 128, 128, "M", 256, 256, 256, "M",
                              512, 512, 512, "M", 512, 512, 512, "M"]


class VGG(nn.Module):
    def __init__(self, cfg: list[int | str], num_classes: int, in_channels: int) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        for v in cfg:
            if v == "M":
                layers.append(nn.MaxPool2d(2))
            else:
                # Conv bias kept (redundant before BN) to match the authors' parameter count.
                layers += [nn.Conv2d(in_channels, v, 3, padding=1), nn.BatchNorm2d(v),
                           nn.ReLU(inplace=True)]
                in_channels = v
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Linear(in_channels, num_classes)

    def forward(self, x: Tensor) -> Tensor:
        return self.classifier(self.features(x).flatten(1))


@BUILDERS.register("vgg16")
def vgg16(num_classes: int, input_shape: tuple[int, int, int] = (3, 32, 32),
          width: float = 1.0) -> VGG:
    return VGG([v if v == "M" else scaled(v, width) for v in CFG_VGG16], num_classes,
               input_shape[0])

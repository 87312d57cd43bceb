"""WideResNet-28-10 (Zagoruyko & Komodakis, 2016) as in the authors' code (after meliketoy).

Pre-activation blocks (BN->ReLU->conv) with dropout between the two convs.  Two details follow
the authors rather than the paper, because they change what is being constrained: every conv
has a bias, and the projection shortcut is a bare 1x1 conv.  Initialisation is PyTorch's
default, as theirs, so the norms the constraint code samples via ``reset_parameters()`` are
those the network actually starts from.
"""

from __future__ import annotations

from functools import partial

import torch.nn.functional as F
from torch import Tensor, nn

from .stages import residual_stages
from .zoo import BUILDERS, scaled


class WideBasic(nn.Module):
    def __init__(self, in_planes: int, planes: int, stride: int, dropout: float) -> None:
        super().__init__()
        self.bn1 = nn.BatchNorm2d(in_planes)
        self.conv1 = nn.Conv2d(in_planes, planes, 3, padding=1)
        self.dropout = nn.Dropout(dropout)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride=stride, padding=1)
        self.shortcut: nn.Module = nn.Identity()
        if stride != 1 or in_planes != planes:
            self.shortcut = nn.Conv2d(in_planes, planes, 1, stride=stride)

    def forward(self, x: Tensor) -> Tensor:
        out = self.dropout(self.conv1(F.relu(self.bn1(x))))
        out = self.conv2(F.relu(self.bn2(out)))
        return out + self.shortcut(x)


class WideResNet(nn.Module):
    def __init__(self, depth: int, widen: int, dropout: float, num_classes: int,
                 in_channels: int, width: float = 1.0) -> None:
        super().__init__()
        if (depth - 4) % 6:
            raise ValueError(f"WideResNet depth must be 6n+4, got {depth}")
        n = (depth - 4) // 6
        stem = scaled(16, width)
        widths = [scaled(c * widen, width) for c in (16, 32, 64)]
        self.conv1 = nn.Conv2d(in_channels, stem, 3, padding=1)
        self.stages, planes = residual_stages(partial(WideBasic, dropout=dropout), stem,
                                              widths, [n] * len(widths))
        # momentum=0.9 (PyTorch convention: weight of the new batch) is the authors' choice.
        self.bn = nn.BatchNorm2d(planes, momentum=0.9)
        self.linear = nn.Linear(planes, num_classes)

    def forward(self, x: Tensor) -> Tensor:
        out = F.relu(self.bn(self.stages(self.conv1(x))))
        return self.linear(F.adaptive_avg_pool2d(out, 1).flatten(1))


@BUILDERS.register("wrn28_10")
def wrn28_10(num_classes: int, input_shape: tuple[int, int, int] = (3, 32, 32),
             width: float = 1.0) -> WideResNet:
    return WideResNet(28, 10, 0.3, num_classes, input_shape[0], width)

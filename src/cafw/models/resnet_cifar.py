"""ResNets for 32x32 inputs: ResNet-18 (kuangliu/pytorch-cifar) and ResNet-56 (He et al., 2016).

Both keep the full resolution in the stem (3x3 conv, stride 1, no max-pool), because a 32x32
image has no resolution to spare.  They differ in the shortcut when a stage changes shape:
ResNet-18 projects with a 1x1 conv + BN, ResNet-56 uses the parameter-free "option A" of the
ResNet paper, as the authors' copy of shrinkbench does.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .stages import residual_stages
from .zoo import BUILDERS, scaled


class PadShortcut(nn.Module):
    """Option A: subsample by 2 and zero-pad the new channels, so the shortcut has no weights."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.in_channels = in_channels
        self.pad = (out_channels - in_channels) // 2

    def forward(self, x: Tensor) -> Tensor:
        return F.pad(x[:, :, ::2, ::2], (0, 0, 0, 0, self.pad, self.pad))

    def sources(self) -> list[int]:
        """The input channel each output channel carries, -1 for a padded zero channel."""
        return [-1] * self.pad + list(range(self.in_channels)) + [-1] * self.pad


class PrunedPadShortcut(nn.Module):
    """Option A after physical filter pruning: output channel i carries input channel
    ``sources[i]`` (subsampled by 2), or zeros where ``sources[i]`` is -1.

    Pruning removes channels on both sides of the shortcut independently, so the kept input
    channels no longer sit in one block between two equal paddings.
    """

    def __init__(self, sources: Sequence[int], in_channels: int) -> None:
        super().__init__()
        # Not persistent: a saved model's spec holds ``sources``, its state_dict weights only.
        self.register_buffer("index", torch.empty(0, dtype=torch.long), persistent=False)
        self.reroute(sources, in_channels)

    def reroute(self, sources: Sequence[int], in_channels: int) -> None:
        """Set the channel map; physical pruning changes it in place."""
        self.sources, self.in_channels = list(sources), in_channels
        # Every -1 reads the one zero channel appended to the input, at index in_channels.
        self.index = torch.tensor([in_channels if s < 0 else s for s in self.sources],
                                  dtype=torch.long, device=self.index.device)

    def forward(self, x: Tensor) -> Tensor:
        return F.pad(x[:, :, ::2, ::2], (0, 0, 0, 0, 0, 1)).index_select(1, self.index)


class BasicBlock(nn.Module):
    def __init__(self, in_planes: int, planes: int, stride: int, projection: bool) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_planes, planes, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.shortcut: nn.Module = nn.Identity()
        if stride != 1 or in_planes != planes:
            self.shortcut = (
                nn.Sequential(nn.Conv2d(in_planes, planes, 1, stride=stride, bias=False),
                              nn.BatchNorm2d(planes))
                if projection else PadShortcut(in_planes, planes)
            )

    def forward(self, x: Tensor) -> Tensor:
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return F.relu(out + self.shortcut(x))


class CifarResNet(nn.Module):
    def __init__(self, widths: list[int], depths: list[int], num_classes: int,
                 in_channels: int, projection: bool) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, widths[0], 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(widths[0])
        self.stages, planes = residual_stages(partial(BasicBlock, projection=projection),
                                              widths[0], widths, depths)
        self.linear = nn.Linear(planes, num_classes)

    def forward(self, x: Tensor) -> Tensor:
        out = self.stages(F.relu(self.bn1(self.conv1(x))))
        return self.linear(F.adaptive_avg_pool2d(out, 1).flatten(1))


@BUILDERS.register("resnet18")
def resnet18(num_classes: int, input_shape: tuple[int, int, int] = (3, 32, 32),
             width: float = 1.0) -> CifarResNet:
    return CifarResNet([scaled(c, width) for c in (64, 128, 256, 512)], [2, 2, 2, 2],
                       num_classes, input_shape[0], projection=True)


@BUILDERS.register("resnet56")
def resnet56(num_classes: int, input_shape: tuple[int, int, int] = (3, 32, 32),
             width: float = 1.0) -> CifarResNet:
    return CifarResNet([scaled(c, width) for c in (16, 32, 64)], [9, 9, 9], num_classes,
                       input_shape[0], projection=False)

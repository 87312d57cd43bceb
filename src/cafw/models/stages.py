"""The body of the residual nets for 32x32 inputs (the CIFAR ResNets and the WideResNet), built
once: stages of blocks of one width each, where every stage but the first halves the
resolution in its first block.  Only the block differs between the nets."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from torch import nn


def residual_stages(block: Callable[[int, int, int], nn.Module], in_planes: int,
                    widths: Sequence[int], depths: Sequence[int]) -> tuple[nn.Sequential, int]:
    """``block(in_planes, planes, stride)`` builds one block; ``depths`` are the blocks per
    stage.  Returns the stages and the width of their output."""
    stages = []
    for stage, (planes, depth) in enumerate(zip(widths, depths)):
        strides = [1 if stage == 0 else 2] + [1] * (depth - 1)
        blocks = []
        for stride in strides:
            blocks.append(block(in_planes, planes, stride))
            in_planes = planes
        stages.append(nn.Sequential(*blocks))
    return nn.Sequential(*stages), in_planes

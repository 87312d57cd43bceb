"""Torch-Pruning support for ResNet-56's parameter-free "option A" shortcut.

DepGraph cannot see through ``PadShortcut``: it takes the channel padding for an element-wise
op and couples the 16 channels of one stage with the 32 of the next.  Here each
``PadShortcut`` is swapped for the equal ``PrunedPadShortcut`` (an explicit channel map), which
DepGraph treats as a layer with its own input and output channels: pruning the previous stage
drops inputs from the map, pruning the next stage drops outputs, and each stage's residual
channels form their own group.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch_pruning as tp
from torch import nn

from ..models.resnet_cifar import PadShortcut, PrunedPadShortcut
from .layers import replace_module


def with_explicit_shortcuts(model: nn.Module) -> nn.Module:
    """``model`` with every ``PadShortcut`` replaced, in place, by the same channel map."""
    for name, module in list(model.named_modules()):
        if isinstance(module, PadShortcut):
            replace_module(model, name, PrunedPadShortcut(module.sources(), module.in_channels))
    return model


class PrunedPadShortcutPruner(tp.pruner.BasePruningFunc):
    TARGET_MODULES = PrunedPadShortcut

    def prune_out_channels(self, layer: PrunedPadShortcut, idxs: Sequence[int]):
        removed = set(idxs)
        layer.reroute([s for i, s in enumerate(layer.sources) if i not in removed],
                      layer.in_channels)
        return layer

    def prune_in_channels(self, layer: PrunedPadShortcut, idxs: Sequence[int]):
        removed = set(idxs)
        kept = [i for i in range(layer.in_channels) if i not in removed]
        renumbered = {old: new for new, old in enumerate(kept)}
        # An output whose input was removed becomes a zero channel (-1), as a padded one.
        layer.reroute([renumbered.get(s, -1) for s in layer.sources], len(kept))
        return layer

    def get_out_channels(self, layer: PrunedPadShortcut) -> int:
        return len(layer.sources)

    def get_in_channels(self, layer: PrunedPadShortcut) -> int:
        return layer.in_channels


CUSTOMIZED_PRUNERS = {PrunedPadShortcut: PrunedPadShortcutPruner()}

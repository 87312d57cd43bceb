"""A model's layers by qualified name: finding the convs, replacing one."""

from __future__ import annotations

from torch import nn


def conv_layers(model: nn.Module) -> dict[str, nn.Conv2d]:
    """Every Conv2d by qualified name: the first conv and 1x1 shortcut convs included."""
    return {name: m for name, m in model.named_modules() if isinstance(m, nn.Conv2d)}


def replace_module(model: nn.Module, name: str, new: nn.Module) -> None:
    """Put ``new`` where the submodule ``name`` of ``model`` is."""
    parent, _, child = name.rpartition(".")
    setattr(model.get_submodule(parent), child, new)

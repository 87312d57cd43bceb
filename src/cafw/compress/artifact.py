"""Compressed models as files: the weights, and the spec that rebuilds their architecture.

    DIR/model.pt   the state_dict (torch.load(weights_only=True): no pickled code)
    DIR/spec.json  {"model": "resnet56", "num_classes": 10, "input_shape": [3, 32, 32],
                    "ranks": {conv name: rank},          # factorised convs (low rank)
                    "shortcuts": {name: {"sources": [...], "in_channels": n}},  # ResNet-56
                    "about": {...}}                      # where it came from, e.g. the sweep row

A pruned model's channel counts are the shapes of its weights, so the spec names only what
shapes cannot tell.  Loading builds the dense model by name, swaps in the factorised convs and
pruned shortcuts, shrinks every conv, BatchNorm and Linear to its saved shape and loads the
weights strictly: it needs torch and this package only.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import torch
from torch import nn

from ..errors import CheckpointError
from ..io import atomic_write, write_json
from ..models import build_model
from ..models.resnet_cifar import PrunedPadShortcut
from .layers import replace_module
from .lowrank import FactorisedConv

# The files of a compressed model's directory (a run directory's model.pt is
# train.checkpoint.WEIGHTS: the same name, but weights that fit the dense architecture).
COMPRESSED_WEIGHTS = "model.pt"
COMPRESSED_SPEC = "spec.json"


def save_compressed(model: nn.Module, directory: str | Path, *, name: str, num_classes: int,
                    input_shape: tuple[int, int, int], width: float = 1.0,
                    about: dict | None = None) -> Path:
    """Write ``model``, a compressed copy of ``cafw.models.build_model(name, num_classes,
    input_shape, width)``, to ``directory`` (each file atomically); ``about`` is stored as
    is."""
    directory = Path(directory)
    modules = dict(model.named_modules())
    spec = {
        "model": name, "num_classes": num_classes, "input_shape": list(input_shape),
        "width": width,
        "ranks": {n: m[0].out_channels for n, m in modules.items()
                  if isinstance(m, FactorisedConv)},
        "shortcuts": {n: {"sources": m.sources, "in_channels": m.in_channels}
                      for n, m in modules.items() if isinstance(m, PrunedPadShortcut)},
        "about": about or {},
    }
    atomic_write(directory / COMPRESSED_WEIGHTS, lambda f: torch.save(_cpu_state(model), f),
                 binary=True)
    write_json(directory / COMPRESSED_SPEC, spec)  # last: a directory with a spec is complete
    return directory


def load_compressed(directory: str | Path) -> nn.Module:
    """The model saved by ``save_compressed`` in ``directory``, on the CPU in eval mode."""
    directory = Path(directory)
    if not (directory / COMPRESSED_SPEC).is_file():
        raise CheckpointError(f"{directory} holds no saved compressed model (no "
                              f"{COMPRESSED_SPEC}); write one with `cafw compress ... --save DIR`")
    spec = json.loads((directory / COMPRESSED_SPEC).read_text())
    state = torch.load(directory / COMPRESSED_WEIGHTS, map_location="cpu", weights_only=True)
    model = build_model(spec["model"], spec["num_classes"], _input_shape(spec),
                        spec.get("width", 1.0))  # saved before widths were: as published
    for name, rank in spec["ranks"].items():
        replace_module(model, name, FactorisedConv.like(model.get_submodule(name), rank))
    for name, shortcut in spec["shortcuts"].items():
        replace_module(model, name, PrunedPadShortcut(shortcut["sources"],
                                                      shortcut["in_channels"]))
    _fit_shapes(model, state)
    model.load_state_dict(state)
    return model.eval()


def _input_shape(spec: dict) -> tuple[int, int, int]:
    """The input shape the model was built for; models saved before it was recorded stored
    the channels only, which is all that their architectures read."""
    if "input_shape" in spec:
        return tuple(spec["input_shape"])
    return spec["in_channels"], 0, 0


def state_bytes(model: nn.Module) -> int:
    """The size of ``model``'s weights as ``save_compressed`` writes them (its model.pt)."""
    buffer = io.BytesIO()
    torch.save(_cpu_state(model), buffer)
    return buffer.tell()


def _cpu_state(model: nn.Module) -> dict[str, torch.Tensor]:
    # Contiguous copies: a channels_last tensor would be saved in that layout.
    return {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}


def _fit_shapes(model: nn.Module, state: dict[str, torch.Tensor]) -> None:
    """Replace every conv, BatchNorm and Linear by one with its saved weights' shape."""
    for name, m in list(model.named_modules()):
        if isinstance(m, nn.Conv2d):
            out, fan_in = state[f"{name}.weight"].shape[:2]
            new = nn.Conv2d(fan_in * m.groups, out, m.kernel_size, stride=m.stride,
                            padding=m.padding, dilation=m.dilation, groups=m.groups,
                            bias=m.bias is not None, padding_mode=m.padding_mode)
        elif isinstance(m, nn.BatchNorm2d):
            channels = len(state[f"{name}.{'running_mean' if m.track_running_stats else 'weight'}"])
            new = nn.BatchNorm2d(channels, eps=m.eps, momentum=m.momentum, affine=m.affine,
                                 track_running_stats=m.track_running_stats)
        elif isinstance(m, nn.Linear):
            out, fan_in = state[f"{name}.weight"].shape
            new = nn.Linear(fan_in, out, bias=m.bias is not None)
        else:
            continue
        replace_module(model, name, new)

"""Per-layer truncated SVD of every conv, as the authors' ``struct_Decomp`` strategy.

A conv weight W (C_out, C_in, kh, kw) is viewed as the matrix (C_out, C_in*kh*kw) and keeps
``r = max(1, floor((1 - ratio) * min(C_out, C_in*kh*kw)))`` singular triplets.  The deployed
form is a kxk conv to r channels followed by a 1x1 conv back to C_out (``lowrank_decompose``).
A sweep instead writes the rank-r reconstruction U_r S_r V_r^T into the dense architecture
(``LowRankReconstruction``): the same function, one SVD per layer for all ratios, and no
model rebuilding per ratio.
"""

from __future__ import annotations

import copy
import math

import torch
from torch import Tensor, nn

from .filter_prune import conv_layers
from .snapshot import WeightSnapshot


def kept_rank(ratio: float, c_out: int, fan_in: int) -> int:
    # int() of the product, as the reference: floor for these non-negative values.
    return max(1, math.floor((1 - ratio) * min(c_out, fan_in)))


def _check_ungrouped(name: str, conv: nn.Conv2d) -> None:
    if conv.groups != 1:
        raise ValueError(f"low-rank decomposition handles ungrouped convs only; {name!r} has "
                         f"groups={conv.groups}")


def _svd(weight: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    # On the CPU: LAPACK's SVD is much faster than cuSOLVER's for these shapes
    # (cuSOLVER is slower for many shapes); the factors go back to the weight's device.
    u, s, vh = torch.linalg.svd(weight.detach().flatten(1).cpu(), full_matrices=False)
    return u.to(weight.device), s.to(weight.device), vh.to(weight.device)


@torch.no_grad()
def lowrank_decompose(model: nn.Module, ratio: float) -> nn.Module:
    """A copy of ``model`` with every Conv2d replaced by its rank-r factorisation
    ``Sequential(Conv2d(C_in -> r, kxk, no bias), Conv2d(r -> C_out, 1x1, original bias))``."""
    convs = conv_layers(model)
    for name, conv in convs.items():
        _check_ungrouped(name, conv)
    model = copy.deepcopy(model)
    for name in convs:
        parent_name, _, child = name.rpartition(".")
        parent = model.get_submodule(parent_name)
        setattr(parent, child, _factorised(getattr(parent, child), ratio))
    return model


def _factorised(conv: nn.Conv2d, ratio: float) -> nn.Sequential:
    w = conv.weight
    c_out, c_in, kh, kw = w.shape
    u, s, vh = _svd(w)
    r = kept_rank(ratio, c_out, c_in * kh * kw)
    like = {"device": w.device, "dtype": w.dtype}
    first = nn.Conv2d(c_in, r, (kh, kw), stride=conv.stride, padding=conv.padding,
                      dilation=conv.dilation, padding_mode=conv.padding_mode, bias=False, **like)
    second = nn.Conv2d(r, c_out, 1, bias=conv.bias is not None, **like)
    first.weight.copy_((s[:r, None] * vh[:r]).view(r, c_in, kh, kw))
    second.weight.copy_(u[:, :r].reshape(c_out, r, 1, 1))
    if conv.bias is not None:
        second.bias.copy_(conv.bias)
    return nn.Sequential(first, second)


class LowRankReconstruction(WeightSnapshot):
    """One SVD per conv, then any ratio's rank-r weights written into the dense model.

    ``apply(ratio)`` starts from the trained weights each time; ``restore()`` puts them back.
    """

    def __init__(self, model: nn.Module):
        convs = conv_layers(model)
        for name, conv in convs.items():
            _check_ungrouped(name, conv)
        super().__init__({name: m.weight for name, m in convs.items()})
        self.factors = {name: _svd(w) for name, w in self.dense.items()}

    def ranks(self, ratio: float) -> dict[str, int]:
        return {name: kept_rank(ratio, w.shape[0], w[0].numel()) for name, w in self.dense.items()}

    @torch.no_grad()
    def apply(self, ratio: float) -> dict[str, int]:
        ranks = self.ranks(ratio)
        for name, weight in self.weights.items():
            w, r = self.dense[name], ranks[name]
            if r == min(w.shape[0], w[0].numel()):
                # Full rank is the trained weight itself; the product of the factors would
                # differ in the last bits, and ratio 0 must reproduce the dense accuracy.
                weight.copy_(w)
            else:
                u, s, vh = self.factors[name]
                weight.copy_(((u[:, :r] * s[:r]) @ vh[:r]).view_as(w))
        return ranks

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

from .compressor import Compressor
from .layers import conv_layers, replace_module


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


def lowrank_decompose(model: nn.Module, ratio: float) -> nn.Module:
    """A copy of ``model`` with every Conv2d replaced by its rank-r factorisation
    ``Sequential(Conv2d(C_in -> r, kxk, no bias), Conv2d(r -> C_out, 1x1, original bias))``."""
    return LowRankReconstruction(model).decomposed(ratio)


class FactorisedConv(nn.Sequential):
    """A conv of rank r: a kxk conv to r channels, then a 1x1 conv back to C_out."""

    @classmethod
    def like(cls, conv: nn.Conv2d, rank: int) -> FactorisedConv:
        """An untrained rank-``rank`` factorisation of ``conv``: its stride, padding and
        dilation in the kxk conv, its bias in the 1x1 conv."""
        like = {"device": conv.weight.device, "dtype": conv.weight.dtype}
        return cls(nn.Conv2d(conv.in_channels, rank, conv.kernel_size, stride=conv.stride,
                             padding=conv.padding, dilation=conv.dilation,
                             padding_mode=conv.padding_mode, bias=False, **like),
                   nn.Conv2d(rank, conv.out_channels, 1, bias=conv.bias is not None, **like))


class LowRankReconstruction(Compressor):
    """One SVD per conv, then any ratio's rank-r weights written into the dense model
    (``apply``) or its factorised copy (``decomposed``, the deployable model).

    ``apply(ratio)`` starts from the trained weights each time; ``restore()`` puts them back.
    """

    kind = "lowrank"

    def __init__(self, model: nn.Module):
        convs = conv_layers(model)
        for name, conv in convs.items():
            _check_ungrouped(name, conv)
        super().__init__(model, {name: m.weight for name, m in convs.items()})
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

    def cost_ranks(self, detail: dict[str, int]) -> dict[str, int]:
        # counted as the factorisation it stands for, not as the dense conv it is written into
        return detail

    def deployable(self, ratio: float, detail: dict[str, int], example: Tensor) -> nn.Module:
        return self.decomposed(ratio).eval()

    @torch.no_grad()
    def decomposed(self, ratio: float) -> nn.Module:
        """A copy of the model with every conv replaced by its rank-r factorisation of the
        trained weights (``lowrank_decompose``); the model itself is left as it is."""
        model = copy.deepcopy(self.model)
        for name, rank in self.ranks(ratio).items():
            conv = model.get_submodule(name)
            factorised = FactorisedConv.like(conv, rank)
            u, s, vh = self.factors[name]
            factorised[0].weight.copy_((s[:rank, None] * vh[:rank]).view_as(factorised[0].weight))
            factorised[1].weight.copy_(u[:, :rank].reshape_as(factorised[1].weight))
            if conv.bias is not None:
                factorised[1].bias.copy_(conv.bias)
            replace_module(model, name, factorised)
        return model

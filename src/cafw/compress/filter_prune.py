"""Per-layer L1 filter pruning with the authors' masking semantics.

Every Conv2d loses ``round(ratio * C_out)`` of its output filters, those with the smallest L1
norm, as ``torch.nn.utils.prune.ln_structured(n=1, dim=0)`` would.  Only the filter weights
are zeroed: the conv bias and the following BatchNorm stay as trained, so a pruned channel
still emits the constant BN(bias), exactly as in the reference evaluation.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from .compressor import Compressor
from .layers import conv_layers
from .physical import physically_pruned


def filters_to_prune(ratio: float, channels: int) -> int:
    # Python's round (half to even), as torch.nn.utils.prune._compute_nparams_toprune does
    # for a float amount, so layer by layer we prune the very count the reference pruned.
    return round(ratio * channels)


class FilterPruner(Compressor):
    """The L1 order of every conv's filters, computed once, applied at any ratio.

    ``apply(ratio)`` always starts from the trained weights, so a sweep can call it ratio
    after ratio without accumulating masks; ``restore()`` puts the trained weights back.  The
    deployable model has the pruned channels removed (Torch-Pruning, the [prune] extra).
    """

    kind = "filter"
    needs = ("torch_pruning",)

    def __init__(self, model: nn.Module):
        super().__init__(model, {name: m.weight for name, m in conv_layers(model).items()})
        # Stable sort: equal norms (e.g. filters a sparse training already zeroed) are taken
        # in index order, so the choice is reproducible.
        self.order = {name: w.flatten(1).abs().sum(1).argsort(stable=True)
                      for name, w in self.dense.items()}

    def pruned_filters(self, ratio: float) -> dict[str, Tensor]:
        """Indices of the filters each conv loses at ``ratio``, smallest L1 norm first."""
        return {name: order[:filters_to_prune(ratio, len(order))]
                for name, order in self.order.items()}

    @torch.no_grad()
    def apply(self, ratio: float) -> dict[str, Tensor]:
        pruned = self.pruned_filters(ratio)
        for name, weight in self.weights.items():
            weight.copy_(self.dense[name])
            weight[pruned[name]] = 0
        return pruned

    def deployable(self, ratio: float, detail: dict[str, Tensor], example: Tensor
                   ) -> nn.Module:
        return physically_pruned(self.model, detail, example)[0]


def filter_prune(model: nn.Module, ratio: float) -> dict[str, Tensor]:
    """Zero the ``round(ratio * C_out)`` smallest-L1 filters of every Conv2d of ``model`` in
    place; returns the pruned filter indices per conv name."""
    return FilterPruner(model).apply(ratio)

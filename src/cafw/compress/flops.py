"""Nonzero parameters and multiply-accumulates of a (compressed) model.

Only Conv2d and Linear layers cost MACs, as in the authors' code (``metrics/``, after
shrinkbench).  Their output sizes are recorded once with forward hooks; everything else is
arithmetic on weights, so a sweep recounts each compressed state without another forward pass.
A layer's MACs are its dense MACs scaled by its fraction of nonzero weights, which for a conv is
``nonzero weights * output positions``.  Like the reference this does not credit the input
channels a pruned filter frees in the next layer (``physical.py`` measures that).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn


@dataclass(frozen=True)
class Cost:
    params: int  # nonzero parameters, BatchNorm and biases included
    macs: int  # per input sample

    @property
    def flops(self) -> int:
        return 2 * self.macs


@torch.no_grad()
def output_positions(model: nn.Module, example: torch.Tensor) -> dict[str, int]:
    """Per Conv2d/Linear (by name): how many times its weight is applied to one sample,
    i.e. H_out * W_out for a conv and 1 for a Linear on flat features.

    ``example`` is one input batch; the model runs in eval mode so no BatchNorm statistics
    change.
    """
    positions: dict[str, int] = {}
    hooks = []
    for name, module in model.named_modules():
        if isinstance(module, (nn.Conv2d, nn.Linear)):
            def record(module, inputs, output, name=name):
                # Conv: (N, C, H, W); Linear: (N, ..., out).  Drop batch and channel/feature.
                shape = output.shape[2:] if isinstance(module, nn.Conv2d) else output.shape[1:-1]
                positions[name] = int(torch.Size(shape).numel())
            hooks.append(module.register_forward_hook(record))
    was_training = model.training
    try:
        model.eval()(example)
    finally:
        model.train(was_training)
        for hook in hooks:
            hook.remove()
    return positions


@torch.no_grad()
def count(model: nn.Module, positions: dict[str, int], ranks: dict[str, int] | None = None,
          *, nonzero_only: bool = True) -> Cost:
    """Nonzero parameters and MACs of ``model`` as it stands.

    ``ranks`` (conv name -> r) counts those convs as their rank-r factorisation, r*(C_in*kh*kw)
    + C_out*r weights applied at the same output positions: the cost of the deployed low-rank
    model while the sweep evaluates the equivalent dense reconstruction.  ``nonzero_only=False``
    counts every weight, zero or not: what a dense kernel computes, e.g. for a physically
    pruned model that keeps some masked filters.
    """
    ranks = ranks or {}
    params = list(model.parameters())
    modules = dict(model.named_modules())
    weights = [modules[name].weight for name in positions]
    if nonzero_only:  # one host sync for all the counts
        nonzero = torch.stack([t.count_nonzero() for t in params + weights]).tolist()
    else:
        nonzero = [t.numel() for t in params + weights]
    total_params = sum(nonzero[:len(params)])
    macs = 0
    for (name, where), nz in zip(positions.items(), nonzero[len(params):]):
        if name in ranks:
            w = modules[name].weight
            factored = ranks[name] * (w[0].numel() + w.shape[0])
            total_params += factored - nz
            macs += factored * where
        else:
            macs += nz * where
    return Cost(total_params, macs)


def model_cost(model: nn.Module, example: torch.Tensor, *, nonzero_only: bool = True) -> Cost:
    """``count`` for a model used once: hooks and counting in one call."""
    return count(model, output_positions(model, example), nonzero_only=nonzero_only)

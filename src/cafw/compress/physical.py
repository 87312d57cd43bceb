"""A physically smaller model for filter pruning, with Torch-Pruning's DepGraph
(``pip install -e '.[prune]'``).

Masking (``filter_prune``) keeps the architecture, so it changes neither size nor speed.  Here
the pruned filters are removed, together with everything that reads or matches their
channels: BatchNorm channels, the input channels of the next conv or classifier, and, in
residual nets, every layer that adds into the same channels.  DepGraph finds those coupled
layers in every architecture of the paper; ResNet-56's parameter-free shortcut needs the
pruner of ``option_a.py``.

Which channels go:
- A conv whose output channels no other layer shares (every conv of cnn_small, mnist_cnn and
  vgg16, the inner convs of the residual blocks) loses exactly its masked filters.
- Convs that add into one residual stream must lose the same channels, but the paper's
  protocol masks each conv's own smallest-L1 filters.  The group loses as many channels as
  each of its convs has masked, those with the smallest L1 norm summed over the group's masked
  weights: channels every conv masked go first.  The filters a conv masked but the group keeps
  stay in the model as zeros.

So the physical model of a residual net is not the masked model of the paper.  Even where the
same filters go it can differ slightly: a masked filter still emits the constant BN(bias) of
the reference's semantics, a removed one nothing.  The sweep therefore keeps the masked
model's accuracy as the paper's number and reports this model's own accuracy beside it.
"""

from __future__ import annotations

import copy

import torch
from torch import Tensor, nn

from ..extras import optional_dependency


def physically_pruned(model: nn.Module, pruned: dict[str, Tensor], example: Tensor
                      ) -> tuple[nn.Module, dict[str, list[int]]]:
    """A smaller copy of the filter-pruned ``model`` (eval mode), and the output channels it
    lost per layer name (convs, BatchNorms, shortcuts).

    ``pruned`` is conv name -> filter indices, as returned by ``filter_prune`` or
    ``FilterPruner.apply``; ``example`` is one input batch for DepGraph's trace.
    """
    with optional_dependency():
        import torch_pruning as tp

        from .option_a import CUSTOMIZED_PRUNERS, with_explicit_shortcuts

    small = with_explicit_shortcuts(copy.deepcopy(model)).eval()
    names = {module: name for name, module in small.named_modules()}
    with torch.enable_grad():  # DepGraph follows the autograd graph of one forward pass
        graph = tp.DependencyGraph().build_dependency(
            small, example, customized_pruners=CUSTOMIZED_PRUNERS, verbose=False)

    # Choose every group's channels before pruning any: pruning a group renumbers the input
    # channels of the next, never the output channels of another group.
    plan = []
    for group in graph.get_all_groups(root_module_types=[nn.Conv2d]):
        convs = {names[dep.target.module]: dep.target.module for dep, _ in group
                 if isinstance(dep.target.module, nn.Conv2d)
                 and graph.is_out_channel_pruning_fn(dep.handler)}
        channels = _channels_to_remove(convs, pruned)
        if channels:
            plan.append((group[0].dep.target.module, channels))

    removed: dict[str, list[int]] = {}
    for root, channels in plan:
        group = graph.get_pruning_group(root, tp.prune_conv_out_channels, channels)
        for dep, indices in group:
            if dep.target.module in names and graph.is_out_channel_pruning_fn(dep.handler):
                removed[names[dep.target.module]] = sorted(indices)
        group.prune()
    return small.eval(), removed


@torch.no_grad()
def _channels_to_remove(convs: dict[str, nn.Conv2d], pruned: dict[str, Tensor]) -> list[int]:
    """The output channels a group of coupled convs loses: one conv's masked filters, or for
    several the smallest summed L1 norms, as many as each conv has masked."""
    count = max(len(pruned.get(name, ())) for name in convs)
    name, conv = next(iter(convs.items()))
    if count >= conv.out_channels:
        # torch has no zero-channel conv; and such a layer would make the net constant anyway.
        raise ValueError(f"every filter of {name!r} is pruned; a physical model needs at least "
                         "one filter per conv (use a smaller ratio)")
    if len(convs) == 1:
        return sorted(pruned.get(name, torch.empty(0, dtype=torch.long)).tolist())
    norms = sum(c.weight.flatten(1).abs().sum(1) for c in convs.values())
    # Stable: ties (channels every conv masked) go in index order, reproducibly.
    return sorted(norms.argsort(stable=True)[:count].tolist())

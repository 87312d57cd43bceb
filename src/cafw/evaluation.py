"""Evaluation shared by training and the compression sweeps: loss, top-1 and top-5 accuracy
of a model on the validation and test splits."""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import nn

from .data import Loader
from .device import autocast


@torch.no_grad()
def evaluate(model: nn.Module, loader: Loader, *, bf16: bool = False,
             sum_: Callable[..., None] | None = None) -> dict[str, float]:
    """Mean cross-entropy, top-1 and top-5 accuracy (fractions) over the loader's epoch 0,
    with one host sync at the end.

    With several processes each evaluates its slice of every batch and ``sum_`` (e.g.
    ``World.sum_``) adds up their tensors in place.
    """
    was_training = model.training
    model.eval()
    device = loader.device
    loss = torch.zeros((), dtype=torch.float64, device=device)
    top1 = torch.zeros((), dtype=torch.int64, device=device)
    top5 = torch.zeros((), dtype=torch.int64, device=device)
    count = 0
    for x, y in loader.epoch(0):
        with autocast(device, bf16):
            logits = model(x)
        loss += nn.functional.cross_entropy(logits.float(), y, reduction="sum")
        hits = top_k_hits(logits, y, (1, 5))
        top1 += hits[0]
        top5 += hits[1]
        count += len(y)
    model.train(was_training)
    if sum_ is not None:
        total = torch.tensor(count, device=device)
        sum_(loss, top1, top5, total)
        count = total.item()
    return {"loss": loss.item() / count, "accuracy": top1.item() / count,
            "top5": top5.item() / count}


def score(model: nn.Module, splits: dict[str, Loader], *, bf16: bool = False,
          sum_: Callable[..., None] | None = None) -> dict[str, float]:
    """``evaluate`` on every split, as columns ``<split>_loss``, ``<split>_accuracy`` and
    ``<split>_top5`` (``val_accuracy``, ``test_accuracy``, ...)."""
    return {f"{split}_{k}": v for split, loader in splits.items()
            for k, v in evaluate(model, loader, bf16=bf16, sum_=sum_).items()}


def chance_scores(num_classes: int, splits: tuple[str, ...]) -> dict[str, float]:
    """The scores of a model that learned nothing (it predicts the uniform distribution):
    loss log C, accuracy 1/C, top-5 accuracy min(5, C)/C, on each split, as ``score``'s
    columns.  A run whose training diverged is recorded with them (``cafw train
    --record-divergence``)."""
    chance = {"loss": math.log(num_classes), "accuracy": 1 / num_classes,
              "top5": min(5, num_classes) / num_classes}
    return {f"{split}_{k}": v for split in splits for k, v in chance.items()}


def top_k_hits(logits: torch.Tensor, labels: torch.Tensor,
               ks: tuple[int, ...]) -> list[torch.Tensor]:
    """Number of labels among the k highest logits, for each k (capped at the class count)."""
    top = logits.topk(min(max(ks), logits.shape[1]), dim=1).indices
    match = top == labels[:, None]
    return [match[:, :k].sum() for k in ks]

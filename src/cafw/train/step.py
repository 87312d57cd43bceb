"""One training step: forward in the run's precision, the loss plus the weights' penalty,
backward and the optimizer's step.  The training loop takes it, and so does every benchmark
that times training steps, so that what is timed is what is trained.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager

import torch
from torch import Tensor, nn

Penalty = Callable[[nn.Module], Tensor]  # ``cafw.train.factory.build_penalty``


def train_step(model: nn.Module, optimizer: torch.optim.Optimizer, x: Tensor, y: Tensor, *,
               autocast: Callable[[], AbstractContextManager],
               forward: Callable[[Tensor], Tensor] | None = None,
               penalty: Penalty | None = None, share: float = 1.0) -> tuple[Tensor, Tensor]:
    """One step on the batch (x, y); returns the cross-entropy loss (without the penalty)
    and the logits, for the caller's running sums.

    ``autocast``: the run's precision (``Runtime.autocast``); the loss is taken in float32.
    ``forward``: what training calls instead of ``model`` (DDP, compiled; ``Runtime.forward``);
    ``penalty`` reads ``model``'s weights.  ``share`` scales the objective: under DDP each
    process's gradient is the mean over its slice of the batch, and DDP averages them, so a
    slice that is not an even share of the batch is weighted by its share.
    """
    with autocast():
        logits = (forward or model)(x)
        loss = nn.functional.cross_entropy(logits.float(), y)
    objective = loss + penalty(model) if penalty is not None else loss
    if share != 1:
        objective = objective * share
    optimizer.zero_grad(set_to_none=True)
    objective.backward()
    optimizer.step()
    return loss, logits

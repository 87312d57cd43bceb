"""Learning-rate schedules stepped once per iteration, with linear warm-up (as the authors'
per-iteration schedulers).

The schedule is a pure function of the iteration, so ``LambdaLR`` saves nothing but its step
count and a resumed run continues on the same curve.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from ..spec import ScheduleSpec


@dataclass(frozen=True)
class LearningRateFactor:
    """Multiplier of the base learning rate at iteration t (a picklable callable)."""

    name: str
    total: int  # iterations of the whole run
    warmup: int  # warm-up iterations
    per_epoch: int
    gamma: float
    step_size: int  # epochs
    milestones: tuple[int, ...]  # epochs

    def __call__(self, t: int) -> float:
        if t < self.warmup:  # from ~0 up to the base rate, as the authors' LinearLR(1e-20, 1)
            return (t + 1) / self.warmup
        progress = (t - self.warmup) / max(1, self.total - self.warmup)
        epoch = t // self.per_epoch
        if self.name == "constant":
            return 1.0
        if self.name == "linear":
            return max(0.0, 1.0 - progress)
        if self.name == "cosine":
            return 0.5 * (1.0 + math.cos(math.pi * min(progress, 1.0)))
        if self.name == "step":
            return self.gamma ** (epoch // self.step_size)
        return self.gamma ** sum(epoch >= m for m in self.milestones)  # multistep


def lr_factor(config: ScheduleSpec, epochs: int, per_epoch: int) -> LearningRateFactor:
    return LearningRateFactor(
        name=config.name, total=epochs * per_epoch, warmup=config.warmup_epochs * per_epoch,
        per_epoch=per_epoch, gamma=config.gamma,
        step_size=config.step_size or max(1, epochs // 3),
        milestones=tuple(config.milestones or (epochs // 2, (3 * epochs) // 4)))


def build_scheduler(optimizer: torch.optim.Optimizer, config: ScheduleSpec, epochs: int,
                    per_epoch: int) -> torch.optim.lr_scheduler.LambdaLR:
    return torch.optim.lr_scheduler.LambdaLR(optimizer, lr_factor(config, epochs, per_epoch))

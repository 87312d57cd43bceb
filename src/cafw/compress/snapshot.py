"""The trained values of the weights a compressor changes, so a sweep can apply ratio after
ratio from the trained model and put it back at the end."""

from __future__ import annotations

import torch
from torch import Tensor


class WeightSnapshot:
    def __init__(self, weights: dict[str, Tensor]):
        self.weights = weights  # the model's own tensors, written in place
        self.dense = {name: w.detach().clone() for name, w in weights.items()}

    @torch.no_grad()
    def restore(self) -> None:
        for name, w in self.weights.items():
            w.copy_(self.dense[name])

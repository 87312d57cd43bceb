"""Wall-clock latency of forward passes, measured side by side."""

from __future__ import annotations

import statistics
import time

import torch
from torch import Tensor, nn

from ..device import autocast, synchronize

#: the batch sizes of the latency columns: one request at a time, and a full batch
LATENCY_BATCHES = (1, 256)


@torch.no_grad()
def inference_ms(models: dict[str, nn.Module], batch: Tensor, *, repeats: int = 5,
                 bf16: bool = False) -> dict[str, float]:
    """Median milliseconds of one eval-mode forward pass of ``batch`` per model.

    The models take turns within each repeat, so machine noise hits them alike; one warm-up
    pass each first (allocations, kernel selection).
    """
    times: dict[str, list[float]] = {name: [] for name in models}
    device = batch.device
    for model in models.values():
        model.eval()
        with autocast(device, bf16):
            model(batch)
    for _ in range(repeats):
        for name, model in models.items():
            synchronize(device)
            start = time.perf_counter()
            with autocast(device, bf16):
                model(batch)
            synchronize(device)
            times[name].append(1000 * (time.perf_counter() - start))
    return {name: statistics.median(t) for name, t in times.items()}

"""Side-by-side timing: interleaved rounds and medians, so machine noise hits every
contender alike, plus counts of dispatched ops and host syncs."""

from __future__ import annotations

import random
import statistics
import time
from collections.abc import Callable

import torch
from torch.utils._python_dispatch import TorchDispatchMode

from ..device import synchronize

SYNCING_OPS = {"_local_scalar_dense", "nonzero", "is_nonzero", "equal", "item"}


def interleaved_times(contenders: dict[str, Callable[[], object]], rounds: int,
                      device: torch.device, seed: int = 0) -> dict[str, list[float]]:
    """Run every contender once per round in a shuffled order; return each contender's
    seconds, round by round (so that ratios can be paired by round)."""
    times: dict[str, list[float]] = {name: [] for name in contenders}
    order = list(contenders)
    rng = random.Random(seed)
    for _ in range(rounds):
        rng.shuffle(order)
        for name in order:
            synchronize(device)
            start = time.perf_counter()
            contenders[name]()
            synchronize(device)
            times[name].append(time.perf_counter() - start)
    return times


def interleaved_medians(contenders: dict[str, Callable[[], object]], rounds: int,
                        device: torch.device, seed: int = 0) -> dict[str, dict[str, float]]:
    """``interleaved_times``' median and min seconds per contender."""
    times = interleaved_times(contenders, rounds, device, seed)
    return {name: {"median_s": statistics.median(t), "min_s": min(t)} for name, t in times.items()}


class OpCounter(TorchDispatchMode):
    """Counts ATen ops (roughly one kernel launch each) and host-syncing ops."""

    def __init__(self) -> None:
        super().__init__()
        self.ops = 0
        self.syncs = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        self.ops += 1
        if func.overloadpacket.__name__ in SYNCING_OPS:
            self.syncs += 1
        return func(*args, **(kwargs or {}))


def count_ops(fn: Callable[[], object]) -> tuple[int, int]:
    with OpCounter() as counter:
        fn()
    return counter.ops, counter.syncs

"""What compression buys at deployment: size and speed of a compressed model against the dense
one, for any model of the zoo.

A freshly initialised model is compressed at one ratio into the model one would ship (filter
pruning: physically pruned, with the [prune] extra; low rank: factorised) and both are
measured side by side on random inputs of the model's natural shape: parameters, FLOPs, bytes
of the saved weights, and the median latency of one forward pass per batch size (the two
models take turns in every round).  None of these depends on the trained values, only on
which channels go, so no training run is needed.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pandas as pd
import torch

from ..compress import COMPRESSIONS, inference_ms, model_cost, state_bytes
from ..compress.latency import LATENCY_BATCHES
from ..device import describe
from ..io import write_csv
from ..models import build_model
from ..vocabulary import PHYSICAL_KINDS

# (C, H, W) each model is built for: the paper's CIFAR and ImageNet shapes, digits for cnn_small,
# MNIST-5k for mnist_cnn
INPUT_SHAPES = {"resnet50": (3, 224, 224), "cnn_small": (1, 8, 8), "mnist_cnn": (1, 14, 14)}
CIFAR_SHAPE = (3, 32, 32)


def run(model: str = "resnet18", kind: str = "filter", ratio: float = 0.5,
        batches: Sequence[int] = LATENCY_BATCHES, rounds: int = 7, device: str = "cpu",
        out: Path | None = None) -> pd.DataFrame:
    if kind not in PHYSICAL_KINDS:
        raise ValueError(f"kind must be {' or '.join(PHYSICAL_KINDS)}, not {kind!r}")
    shape = INPUT_SHAPES.get(model, CIFAR_SHAPE)
    torch.manual_seed(0)
    dense = build_model(model, 10, shape).to(device).eval()
    example = torch.zeros(1, *shape, device=device)
    compressor = COMPRESSIONS[kind](dense)
    compressed = compressor.deployable(ratio, compressor.apply(ratio), example)
    # apply wrote the compressed weights into the dense model; it is timed as the masked or
    # reconstructed model, which has the dense architecture and the dense cost
    models = {"dense": dense, kind: compressed}
    rows = {name: {"model": model, "kind": kind, "ratio": ratio, "variant": name,
                   "params": sum(p.numel() for p in m.parameters()),
                   "flops": model_cost(m, example, nonzero_only=False).flops,
                   "bytes": state_bytes(m)} for name, m in models.items()}
    for b in batches:
        batch = torch.randn(b, *shape, device=device)
        for name, ms in inference_ms(models, batch, repeats=rounds).items():
            rows[name][f"ms_batch{b}"] = ms
    table = pd.DataFrame(rows.values())
    table["device"] = describe(torch.device(device))
    if out is not None:
        write_csv(table, out)
    return table

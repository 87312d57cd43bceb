"""Per-step cost of SFW for every constraint family, of ProxSGD and of one forward+backward,
relative to ``torch.optim.SGD(momentum, foreach=True)``, on a CIFAR ResNet-18's parameters
with real gradients."""

from __future__ import annotations

import copy
import platform
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import torch
from torch import nn

from ..constraints import param_groups
from ..device import describe
from ..io import write_csv
from ..models import build_model
from ..optim import SFW, ProxSGD
from ..vocabulary import FAMILIES
from .timing import count_ops, interleaved_medians

# k: 10% of entries, 30% of filters or of the rank
K = {"k_sparse": 0.1, "k_support": 0.1, "group_k_support": 0.3, "spectral_k_support": 0.3,
     "spectral_k_sparse": 0.3}
# (contender, reference, goal on the ratio contender/reference, "<=" or ">=")
GOALS = [
    *((f"sfw_{f}", "sgd", 3.0, "<=") for f in ("l2", "linf", "group_k_support")),
    *((f"sfw_{f}", "sgd", 10.0, "<=") for f in ("k_support", "k_sparse")),
    ("prox_sgd", "sfw_spectral_k_support", 10.0, ">="),
]


def _with_gradients(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> nn.Module:
    model.zero_grad()
    nn.functional.cross_entropy(model(x), y).backward()
    return model


def optimizers(model_name: str, batch_size: int, device: torch.device
               ) -> tuple[dict[str, torch.optim.Optimizer], Callable[[], object]]:
    """SGD, SFW for every family (and with the exact-SVD spectral LMO) and ProxSGD, each on
    its own copy of the model with the same real gradients, warmed up (momentum buffers,
    spectral bases, the allocator); and one forward+backward of the model."""
    torch.manual_seed(0)
    base = build_model(model_name, 10, (3, 32, 32)).to(device)
    x = torch.randn(batch_size, 3, 32, 32, device=device)
    y = torch.randint(0, 10, (batch_size,), device=device)
    _with_gradients(base, x, y)

    def clone() -> nn.Module:
        model = copy.deepcopy(base)
        for p, q in zip(base.parameters(), model.parameters()):
            q.grad = p.grad.clone()
        return model

    steppers = {"sgd": torch.optim.SGD(clone().parameters(), lr=0.1, momentum=0.9,
                                       foreach=True)}
    for family in FAMILIES:
        groups = param_groups(clone(), family, k=K.get(family), value=10.0,
                              mode="initialization", init_samples=10)
        steppers[f"sfw_{family}"] = SFW(groups, lr=0.1, momentum=0.9)
    steppers["sfw_spectral_k_support_exact_svd"] = SFW(
        param_groups(clone(), "spectral_k_support", k=K["spectral_k_support"], value=10.0,
                     init_samples=10, lmo_method="svd"), lr=0.1)
    steppers["prox_sgd"] = ProxSGD(clone().parameters(), lr=0.1, momentum=0.9, threshold=1e-4)
    for opt in steppers.values():
        opt.step()
        opt.step()
    fwd_model = clone()
    return steppers, lambda: _with_gradients(fwd_model, x, y)


def run(model_name: str = "resnet18", batch_size: int = 128, rounds: int = 7,
        device: str = "cpu", out: Path | None = None) -> pd.DataFrame:
    device = torch.device(device)
    steppers, forward_backward = optimizers(model_name, batch_size, device)
    contenders = {name: opt.step for name, opt in steppers.items()}
    contenders["forward_backward"] = forward_backward
    timings = interleaved_medians(contenders, rounds, device)

    rows = []
    for name, t in timings.items():
        ops, syncs = count_ops(contenders[name]) if name != "forward_backward" else (None, None)
        rows.append({"method": name, "median_ms": 1e3 * t["median_s"], "min_ms": 1e3 * t["min_s"],
                     "ops_per_step": ops, "syncs_per_step": syncs})
    table = pd.DataFrame(rows).set_index("method")
    table["ratio_to_sgd"] = table["median_ms"] / table.loc["sgd", "median_ms"]
    forward_backward = table.loc["forward_backward", "median_ms"]
    table["ratio_to_forward_backward"] = table["median_ms"] / forward_backward
    table = table.reset_index()
    table["model"], table["batch_size"], table["rounds"] = model_name, batch_size, rounds
    table["device"] = describe(device, platform.processor() or platform.machine())
    table["torch"] = torch.__version__
    if out is not None:
        write_csv(table, out)
    return table


def goal_report(table: pd.DataFrame) -> pd.DataFrame:
    ms = table.set_index("method")["median_ms"]
    rows = []
    for contender, reference, goal, sense in GOALS:
        ratio = ms[contender] / ms[reference]
        met = ratio <= goal if sense == "<=" else ratio >= goal
        rows.append({"ratio": f"{contender} / {reference}", "measured": round(ratio, 2),
                     "goal": f"{sense} {goal:g}", "met": bool(met)})
    return pd.DataFrame(rows)

"""Training throughput on CIFAR-shaped data:

* the input pipeline alone: this project's device-resident loader vs the reference's
  torchvision ``DataLoader`` (PIL RandomCrop(32, padding=4) + flip + ToTensor + Normalize,
  2 workers, as the authors' CIFAR-10 setup);
* whole training steps of a CIFAR ResNet-18 fed by either pipeline;
* the optimizer's share of a training step for SGD and for SFW.

Everything is timed in interleaved rounds in one process; results are ratios and images/s,
with the implied seconds per 50k-image CIFAR epoch.
"""

from __future__ import annotations

import itertools
import platform
import time
from collections.abc import Callable, Iterator

import numpy as np
import pandas as pd
import torch
from torch import nn

from ..constraints import param_groups
from ..data import load_dataset
from ..data.cifar import VARIANTS
from ..device import describe, synchronize
from ..io import write_csv
from ..models import build_model
from ..optim import SFW
from .timing import interleaved_medians

CIFAR_TRAIN = 50_000


def _torchvision_loader(images: torch.Tensor, labels: torch.Tensor, batch_size: int,
                        workers: int, pin: bool):
    """The reference's CIFAR-10 training pipeline over the same uint8 images."""
    from PIL import Image
    from torchvision import transforms

    cifar10 = VARIANTS["cifar10"]
    transform = transforms.Compose([transforms.RandomCrop(32, padding=4),
                                    transforms.RandomHorizontalFlip(), transforms.ToTensor(),
                                    transforms.Normalize(cifar10.mean, cifar10.std)])
    array = images.permute(0, 2, 3, 1).numpy()

    class Images(torch.utils.data.Dataset):
        def __len__(self):
            return len(array)

        def __getitem__(self, i):
            return transform(Image.fromarray(array[i])), int(labels[i])

    return torch.utils.data.DataLoader(Images(), batch_size=batch_size, shuffle=True,
                                       num_workers=workers, pin_memory=pin, drop_last=True,
                                       persistent_workers=workers > 0)


def run(batch_size: int = 128, rounds: int = 3, steps: int = 3, device: str = "cpu",
        workers: int = 2, out=None) -> pd.DataFrame:
    device = torch.device(device)
    our_batches, reference_batches = _pipelines(batch_size, steps, device, workers)
    torch.manual_seed(0)
    model = build_model("resnet18", 10, (3, 32, 32)).to(device)
    optimizers = {
        "sgd": torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, foreach=True),
        "sfw_group_k_support": SFW(param_groups(model, "group_k_support", k=0.3, value=10,
                                                init_samples=10), lr=0.01),
        "sfw_spectral_k_support": SFW(param_groups(model, "spectral_k_support", k=0.3,
                                                   value=10, init_samples=10), lr=0.01),
    }
    steps_of = _SplitSteps(model, device)

    def pipeline(batches):
        def drain():
            for x, _ in batches():
                x.sum()  # touch the batch
        return drain

    sgd = optimizers["sgd"]
    contenders = {
        "pipeline_ours": pipeline(our_batches),
        "pipeline_torchvision": pipeline(reference_batches),
        "train_ours": lambda: steps_of(our_batches(), sgd, "train_ours"),
        "train_torchvision": lambda: steps_of(reference_batches(), sgd, "train_torchvision"),
        **{f"train_ours_{n}": (lambda n=n, o=o: steps_of(our_batches(), o, f"train_ours_{n}"))
           for n, o in optimizers.items() if n != "sgd"},
    }
    for o in optimizers.values():  # warm-up: buffers, spectral bases
        steps_of(our_batches(), o, "warmup")
    steps_of.parts.clear()
    timings = interleaved_medians(contenders, rounds, device)
    table = _table(timings, steps_of.parts, batch_size * steps)
    table["batch_size"], table["steps_per_round"], table["rounds"] = batch_size, steps, rounds
    table["device"] = describe(device, platform.machine(), f"{workers} loader workers")
    if out is not None:
        write_csv(table, out)
    return table


def _pipelines(batch_size: int, steps: int, device: torch.device, workers: int
               ) -> tuple[Callable[[], Iterator], Callable[[], Iterator]]:
    """``steps`` batches from this project's device-resident loader (a fresh epoch, new
    order and crops, per call) and from the reference's ``DataLoader``."""
    data = load_dataset("synthetic", device=device, batch_size=batch_size,
                        options={"shape": [3, 32, 32],
                                 "train_size": max(4096, 4 * batch_size * steps),
                                 "augment": "crop_flip"})
    cpu_images = torch.randint(0, 256, (4096, 3, 32, 32), dtype=torch.uint8)
    labels = torch.randint(0, 10, (len(cpu_images),))
    reference = _torchvision_loader(cpu_images, labels, batch_size, workers, device.type == "cuda")
    reference_iter = itertools.cycle(reference)  # cycles restart the workers' epoch
    next(reference_iter)  # start the workers outside the timed region
    epoch_counter = itertools.count()

    def our_batches():
        return itertools.islice(data.train.epoch(next(epoch_counter)), steps)

    def reference_batches():
        for _ in range(steps):
            x, y = next(reference_iter)
            yield x.to(device, non_blocking=True), y.to(device, non_blocking=True)

    return our_batches, reference_batches


class _SplitSteps:
    """Training steps timed in two parts, forward and backward, then the optimizer's step
    (``parts``: name/fwd_bwd and name/step -> seconds per step).  The parts are timed apart,
    so this is not ``cafw.train.step.train_step``; as the reference, in fp32 without
    autocast."""

    def __init__(self, model: nn.Module, device: torch.device):
        self.model, self.device = model, device
        self.parts: dict[str, list[float]] = {}

    def __call__(self, batches, optimizer: torch.optim.Optimizer, name: str) -> None:
        for x, y in batches:
            start = _now(self.device)
            self.model.zero_grad(set_to_none=True)
            nn.functional.cross_entropy(self.model(x), y).backward()
            middle = _now(self.device)
            optimizer.step()
            end = _now(self.device)
            self.parts.setdefault(f"{name}/fwd_bwd", []).append(middle - start)
            self.parts.setdefault(f"{name}/step", []).append(end - middle)


def _table(timings: dict, parts: dict[str, list[float]], images_per_round: int
           ) -> pd.DataFrame:
    """One row per measurement: throughput, a CIFAR epoch's time, the optimizer's share of
    a step, and the reference pipeline's time relative to ours."""
    rows = []
    for name, t in timings.items():
        throughput = images_per_round / t["median_s"]
        row = {"measurement": name, "median_s": t["median_s"], "images_per_second": throughput,
               "cifar_epoch_seconds": CIFAR_TRAIN / throughput}
        if f"{name}/step" in parts:
            step, total = np.median(parts[f"{name}/step"]), np.median(parts[f"{name}/fwd_bwd"])
            row["optimizer_share"] = step / (step + total)
        rows.append(row)
    table = pd.DataFrame(rows)
    by = table.set_index("measurement")["median_s"]
    table["time_vs_ours"] = [by[n] / by[n.replace("torchvision", "ours")] if "torchvision" in n
                             else np.nan for n in table["measurement"]]
    return table


def _now(device: torch.device) -> float:
    synchronize(device)
    return time.perf_counter()

"""One run set-up, shared by training, the compression sweeps and the compute benchmark: the
device, CPU threads, precision, memory format, compilation, the data and the freshly
initialised model of a run config, all decided here and nowhere else.

    rt = set_up(spec)                 # spec: a validated cafw.spec.RunSpec
    for x, y in rt.data.train.epoch(0):
        with rt.autocast():
            loss = cross_entropy(rt.forward(x), y)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

from .data import Data, load_dataset
from .device import autocast, resolve_device, uses_bf16, uses_channels_last
from .models import build_model
from .spec import RunSpec


@dataclass
class Runtime:
    spec: RunSpec
    device: torch.device
    bf16: bool  # autocast to bfloat16
    channels_last: bool  # model and batches in channels_last memory format
    data: Data
    model: nn.Module
    forward: Callable[[torch.Tensor], torch.Tensor]  # the model, compiled when asked

    def autocast(self):
        return autocast(self.device, self.bf16)


def set_up(spec: RunSpec, *, device: str | None = None) -> Runtime:
    """The run's device (``device`` overrides the config's), data and model.

    The global RNG is seeded with the run's seed before the model is built, so the initial
    weights depend on the seed alone.
    """
    device_ = resolve_device(device or spec.device)
    if spec.threads:
        torch.set_num_threads(spec.threads)
    torch.manual_seed(spec.seed)
    data = load_dataset(spec.dataset, root=spec.data_root, download=spec.download,
                        device=device_, seed=spec.seed, batch_size=spec.batch_size,
                        eval_batch_size=spec.eval_batch_size, workers=spec.workers,
                        options=spec.dataset_options)
    model = build_model(spec.model, data.info.num_classes, data.info.input_shape[0]).to(device_)
    channels_last = uses_channels_last(spec.channels_last, device_)
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
        for loader in (data.train, data.test, data.train_eval):
            loader.channels_last = True
    forward = torch.compile(model) if spec.compile else model
    return Runtime(spec, device_, uses_bf16(spec.precision, device_), channels_last, data,
                   model, forward)

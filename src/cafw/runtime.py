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


def _leave_the_compiler_unimported() -> None:
    """Spare a run that compiles nothing the import of ``torch._dynamo``.

    ``torch.optim.Optimizer``'s bookkeeping methods (``add_param_group``, ``zero_grad``, ...)
    import ``torch._dynamo`` on their first call, only to exclude themselves from
    compilation; that import takes about as long as ``import torch`` itself, in every
    training job.  Their wrapper caches the excluded function on the wrapped one, so caching
    the function itself gives the eager behaviour without the import (where torch's wrapper
    differs, nothing changes).  ``torch.optim.SGD.step`` still imports it.
    """
    for name in ("add_param_group", "zero_grad", "state_dict", "load_state_dict"):
        wrapped = getattr(getattr(torch.optim.Optimizer, name), "__wrapped__", None)
        if wrapped is not None and not hasattr(wrapped, "__dynamo_disable"):
            setattr(wrapped, "__dynamo_disable", wrapped)


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
    if not spec.compile:
        _leave_the_compiler_unimported()
    forward = torch.compile(model) if spec.compile else model
    return Runtime(spec, device_, uses_bf16(spec.precision, device_), channels_last, data,
                   model, forward)

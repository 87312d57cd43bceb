"""One run set-up, shared by training, the compression sweeps and the compute benchmark: the
processes, device, CPU threads, precision, memory format, compilation, the data and the
freshly initialised model of a run config, all decided here and nowhere else.

    rt = set_up(spec)                 # spec: a validated cafw.spec.RunSpec
    for x, y in rt.data.train.epoch(0):
        with rt.autocast():
            loss = cross_entropy(rt.forward(x), y)

Under torchrun (one node, N processes) every process calls ``set_up`` alike and gets its own
device (``cuda:LOCAL_RANK`` with NCCL, or the CPU with gloo), its slice of every batch (see
``cafw.data.base``) and ``rt.forward`` wrapped in DistributedDataParallel, which averages the
gradients: every replica's optimizer steps with the mean gradient of the global batch, so the
replicas stay identical.  ``rt.world`` holds the few collectives training needs beyond that.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from .data import Data, load_dataset
from .device import (
    autocast,
    device_name,
    process_device,
    resolve_device,
    set_deterministic,
    uses_bf16,
    uses_channels_last,
    versions,
)
from .models import build_model
from .spec import ConfigError, RunSpec


@dataclass(frozen=True)
class World:
    """The processes that train one run: torchrun's, or this one alone (every collective is
    then a no-op).  Every process must make the same calls in the same order."""

    rank: int = 0
    size: int = 1
    owns_group: bool = False  # set_up created the process group (not its caller)

    @property
    def main(self) -> bool:
        """The process that logs and writes the run directory."""
        return self.rank == 0

    def sum_(self, *tensors: torch.Tensor) -> None:
        """Sum each tensor over the processes, in place."""
        if self.size > 1:
            for t in tensors:
                dist.all_reduce(t)

    def same_everywhere(self, tensor: torch.Tensor) -> bool:
        """Whether ``tensor`` is bitwise the same in every process (a host sync)."""
        if self.size == 1:
            return True
        low, high = tensor.clone(), tensor.clone()
        dist.all_reduce(low, dist.ReduceOp.MIN)
        dist.all_reduce(high, dist.ReduceOp.MAX)
        return torch.equal(low, high)

    def broadcast_(self, tensors) -> None:
        """Overwrite ``tensors`` with the main process's."""
        if self.size > 1:
            for t in tensors:
                dist.broadcast(t, 0)

    def gather(self, obj) -> list:
        """``obj`` of every process, by rank (picklable; tensors on the CPU)."""
        if self.size == 1:
            return [obj]
        objects = [None] * self.size
        dist.all_gather_object(objects, obj)
        return objects

    def barrier(self) -> None:
        if self.size > 1:
            dist.barrier()

    def close(self) -> None:
        if self.owns_group:
            dist.destroy_process_group()


@dataclass
class Runtime:
    spec: RunSpec
    device: torch.device
    bf16: bool  # autocast to bfloat16
    channels_last: bool  # model and batches in channels_last memory format
    data: Data
    model: nn.Module  # the module itself: its parameters, weights and evaluation
    forward: Callable[[torch.Tensor], torch.Tensor]  # what training calls: DDP, compiled
    world: World = field(default_factory=World)

    def autocast(self):
        return autocast(self.device, self.bf16)

    def provenance(self) -> dict:
        """Where and how the run computes, as metrics.json records it."""
        return {"device": device_name(self.device), "device_type": self.device.type,
                "processes": self.world.size, **versions()}

    def start_line(self) -> str:
        """The first line of every training log: device, precision, processes, versions."""
        p = self.provenance()
        where = (f"{self.device} ({p['device']})" if self.device.type == "cuda"
                 else f"cpu ({torch.get_num_threads()} thread"
                      f"{'s' if torch.get_num_threads() > 1 else ''})")
        precision = "bf16 autocast" if self.bf16 else "fp32"
        layout = ", channels_last" if self.channels_last else ""
        processes = f"{self.world.size} process{'es' if self.world.size > 1 else ''}"
        cuda = (f"CUDA {p['cuda']} build" if p["cuda"] else "no CUDA build") + (
            f", driver {p['driver']} (CUDA {p['driver_cuda']})" if p["driver"] else ", no driver")
        return f"on {where}, {precision}{layout}, {processes}, torch {p['torch']} ({cuda})"


def _leave_the_compiler_unimported() -> None:
    """Spare a run that compiles nothing the import of ``torch._dynamo``.

    ``torch.optim.Optimizer``'s bookkeeping methods (``add_param_group``, ``zero_grad``, ...)
    import ``torch._dynamo`` on their first call, only to exclude themselves from
    compilation; that import takes about as long as ``import torch`` itself, in every
    training job.  Their wrapper caches the excluded function on the wrapped one, so caching
    the function itself gives the eager behaviour without the import (where torch's wrapper
    differs, nothing changes).  ``torch.optim.SGD.step`` would import it too: the baselines
    use ``cafw.optim.SGD``.
    """
    for name in ("add_param_group", "zero_grad", "state_dict", "load_state_dict"):
        wrapped = getattr(getattr(torch.optim.Optimizer, name), "__wrapped__", None)
        if wrapped is not None and not hasattr(wrapped, "__dynamo_disable"):
            setattr(wrapped, "__dynamo_disable", wrapped)


def set_up(spec: RunSpec, *, device: str | None = None, single_process: bool = False
           ) -> Runtime:
    """The run's processes, device (``device`` overrides the config's), data and model.
    ``single_process``: this process alone, even under torchrun (the sweep that follows a
    multi-process training runs in its main process only).

    The global RNG is seeded with the run's seed before the model is built, so the initial
    weights depend on the seed alone (and are the same in every process).
    """
    device_ = resolve_device(device or spec.device)
    set_deterministic(spec.deterministic)
    world, device_ = (World(), device_) if single_process else _join_processes(device_)
    if spec.threads:
        torch.set_num_threads(spec.threads)
    torch.manual_seed(spec.seed)
    data = load_dataset(spec.dataset, root=spec.data_root, download=spec.download,
                        device=device_, seed=spec.seed, batch_size=spec.batch_size,
                        eval_batch_size=spec.eval_batch_size, workers=spec.workers,
                        options=spec.dataset_options)
    if world.size > 1:
        _shard(data, world)
    model = build_model(spec.model, data.info.num_classes, data.info.input_shape,
                        spec.width).to(device_)
    channels_last = uses_channels_last(spec.channels_last, device_)
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
        for loader in (data.train, data.test, data.train_eval):
            loader.channels_last = True
    trained = model
    if world.size > 1:  # broadcasts the main process's weights, then averages gradients
        trained = DistributedDataParallel(
            model, device_ids=[device_] if device_.type == "cuda" else None)
    if not spec.compile:
        _leave_the_compiler_unimported()
    forward = torch.compile(trained) if spec.compile else trained
    return Runtime(spec, device_, uses_bf16(spec.precision, device_), channels_last, data,
                   model, forward, world)


def _join_processes(device: torch.device) -> tuple[World, torch.device]:
    """This process's place among those torchrun started (its environment says: WORLD_SIZE,
    RANK, LOCAL_RANK, LOCAL_WORLD_SIZE, MASTER_ADDR/PORT), and its device; one process alone
    without torchrun."""
    size = int(os.environ.get("WORLD_SIZE", "1"))
    if size == 1:
        return World(), device
    device = process_device(device, int(os.environ["LOCAL_RANK"]),
                            int(os.environ["LOCAL_WORLD_SIZE"]))
    if dist.is_initialized():  # the caller's
        return World(dist.get_rank(), dist.get_world_size()), device
    cuda = device.type == "cuda"
    dist.init_process_group("nccl" if cuda else "gloo", device_id=device if cuda else None)
    return World(dist.get_rank(), dist.get_world_size(), owns_group=True), device


def _shard(data: Data, world: World) -> None:
    """Give this process its slice of every batch; the global batch stays the config's."""
    batch_size = data.train.batch_size
    if batch_size % world.size:
        raise ConfigError(f"'batch_size': {batch_size} samples do not split evenly over "
                          f"{world.size} processes; choose a multiple of {world.size}")
    last = data.info.train_size % batch_size
    if 0 < last < world.size:
        raise ConfigError(f"'batch_size': the last batch of an epoch would have {last} "
                          f"samples, fewer than the {world.size} processes; choose another "
                          "batch_size")
    for loader in (data.train, data.test, data.train_eval):
        loader.rank, loader.processes = world.rank, world.size

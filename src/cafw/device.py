"""Where a run computes: the device, its precision and memory format, and waiting for it.

The bottom layer of the library (it imports only torch): everything that runs models
(training, compression sweeps, benchmarks) resolves its device and times its work here.
"""

from __future__ import annotations

import os
from contextlib import nullcontext

import torch

from .errors import ConfigError


def resolve_device(name: str) -> torch.device:
    """``auto`` is CUDA when available, else the CPU."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise ConfigError(f"'device': {name} was requested but no CUDA device is available; "
                          "use device: auto or cpu")
    return torch.device(name)


def process_device(device: torch.device, local_rank: int, local_processes: int) -> torch.device:
    """The device of process ``local_rank`` of the ``local_processes`` that torchrun started on
    this node: a GPU of its own (``cuda:local_rank``), or the CPU, which they share."""
    if device.type != "cuda":
        return device
    visible = torch.cuda.device_count()
    if local_processes > visible:
        raise ConfigError(f"{local_processes} processes need a GPU each, but {visible} are "
                          "visible (CUDA_VISIBLE_DEVICES); start one process per GPU")
    device = torch.device("cuda", local_rank)
    torch.cuda.set_device(device)  # NCCL and the caching allocator use the current device
    return device


def set_deterministic(on: bool) -> None:
    """Deterministic kernels only (an op that has none raises), so that a resumed run is
    bit-identical on a GPU too.  cuBLAS needs a fixed workspace size for that, read when its
    first handle is created, so this runs before any CUDA work.  The switch itself imports
    the compiler (torch._inductor), which a run that keeps the default need not pay for."""
    if on:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    if on != torch.are_deterministic_algorithms_enabled():
        torch.use_deterministic_algorithms(on)


def device_name(device: torch.device) -> str:
    """The device as recorded in metrics and benchmark tables (the GPU model on CUDA)."""
    return torch.cuda.get_device_name(device) if device.type == "cuda" else device.type


def describe(device: torch.device, *details: str) -> str:
    """The device for a benchmark table: the GPU model, or the CPU with its thread count."""
    if device.type == "cuda":
        return device_name(device)
    return f"cpu ({', '.join([f'{torch.get_num_threads()} threads', *details])})"


def uses_bf16(precision: str, device: torch.device) -> bool:
    """``auto``: bf16 autocast on CUDA, fp32 elsewhere."""
    return precision == "bf16" or (precision == "auto" and device.type == "cuda")


def uses_channels_last(setting: str | bool, device: torch.device) -> bool:
    """``auto``: channels_last on CUDA (tensor cores), contiguous elsewhere."""
    return setting is True or (setting == "auto" and device.type == "cuda")


def autocast(device: torch.device, bf16: bool):
    return torch.autocast(device.type, dtype=torch.bfloat16) if bf16 else nullcontext()


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)

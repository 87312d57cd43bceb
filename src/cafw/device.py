"""Where a run computes: the device, its precision and memory format, and waiting for it.

The bottom layer of the library (it imports only torch): everything that runs models
(training, compression sweeps, benchmarks) resolves its device and times its work here.
"""

from __future__ import annotations

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

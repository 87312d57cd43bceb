"""Where a run computes: the device, its precision and memory format, and waiting for it.

The bottom layer of the library (it imports only torch): everything that runs models
(training, compression sweeps, benchmarks) resolves its device and times its work here.

A process that was given GPUs computes on them or fails at once, naming the cause: a cluster
job that silently trained on the CPU would hold its GPUs until its time limit.  "Given GPUs"
means any of: ``device: cuda``; ``CAFW_GPUS`` > 0, which ``cafw on-gpus`` sets for the
pipeline's GPU jobs (Snakemake's ``gpu`` resource); ``CUDA_VISIBLE_DEVICES`` naming devices
(Slurm sets it for a job with GPUs).  Only ``device: cpu`` computes on the CPU regardless.
"""

from __future__ import annotations

import ctypes
import os
from contextlib import nullcontext
from pathlib import Path

import torch

from .errors import DeviceError
from .vocabulary import GPUS_VARIABLE

#: values of CUDA_VISIBLE_DEVICES that name no device (Slurm writes NoDevFiles on some setups)
NO_DEVICES = ("", "-1", "NoDevFiles")
#: the oldest NVIDIA driver that runs builds of each CUDA major version (NVIDIA's CUDA
#: Compatibility guide, "Minor Version Compatibility": within a major version any driver from
#: this one on works, with a limited feature set below the build's own driver)
DRIVER_FOR_CUDA = {13: "580", 12: "525", 11: "450"}


def given_gpus() -> str | None:
    """Why this process is expected to compute on GPUs, or None if it is not."""
    count = os.environ.get(GPUS_VARIABLE, "").strip()
    if count.isdigit() and int(count) > 0:
        plural = "s" if int(count) > 1 else ""
        return f"the job was given {count} GPU{plural} ({GPUS_VARIABLE}={count})"
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is not None and visible.strip() not in NO_DEVICES:
        return f"CUDA_VISIBLE_DEVICES={visible} names GPUs"
    return None


def resolve_device(name: str) -> torch.device:
    """``cpu``; ``cuda``; or ``auto``: CUDA when the process was given GPUs or CUDA is
    available, else the CPU.  Raises ``DeviceError`` naming the cause when CUDA is needed
    but torch cannot use it."""
    if name == "cpu":
        return torch.device("cpu")
    reason = f"'device': {name} was requested" if name.startswith("cuda") else given_gpus()
    if reason is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if not torch.cuda.is_available():
        raise DeviceError(f"{reason}, but {cuda_problem()}. Fix the node or its torch build "
                          "(docs/install.md), or set device: cpu to compute on the CPU")
    return torch.device("cuda" if name == "auto" else name)


def cuda_problem() -> str:
    """Why torch cannot use CUDA here, in words: a build without CUDA, no driver, a driver
    older than the build needs, or no device visible."""
    build = torch.version.cuda
    if build is None:
        return f"torch {torch.__version__} was built without CUDA (a CPU-only build)"
    supported = driver_cuda_version()
    if supported is None:
        return (f"torch {torch.__version__} (CUDA {build}) finds no NVIDIA driver "
                "(libcuda.so.1 cannot be loaded)")
    needed = int(build.split(".")[0])
    if supported[0] < needed:
        driver = driver_version() or "unknown"
        return (f"torch {torch.__version__} was built for CUDA {build}, but the NVIDIA driver "
                f"{driver} supports CUDA {supported[0]}.{supported[1]} at most; it needs driver "
                f">= {DRIVER_FOR_CUDA.get(needed, '?')} (or install a torch build for CUDA "
                f"{supported[0]}.x)")
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    shown = "unset" if visible is None else repr(visible)
    return (f"no CUDA device is visible (torch {torch.__version__}, CUDA {build}, driver "
            f"{driver_version() or 'unknown'}; CUDA_VISIBLE_DEVICES {shown})")


def driver_cuda_version() -> tuple[int, int] | None:
    """The newest CUDA version the installed NVIDIA driver supports, or None without a
    driver (asked of libcuda itself, which needs no device and no CUDA context)."""
    try:
        libcuda = ctypes.CDLL("libcuda.so.1")
    except OSError:
        return None
    version = ctypes.c_int(0)
    if libcuda.cuDriverGetVersion(ctypes.byref(version)) != 0:
        return None
    return version.value // 1000, version.value % 1000 // 10


def driver_version() -> str | None:
    """The NVIDIA kernel driver's version, e.g. 580.65.06, or None without one."""
    try:
        text = Path("/proc/driver/nvidia/version").read_text()
    except OSError:
        return None
    words = text.split("Kernel Module", 1)[-1].split()
    return words[0] if words else None


def versions() -> dict:
    """torch's version and CUDA build, and the driver's, for logs and metrics.json."""
    supported = driver_cuda_version()
    return {"torch": torch.__version__, "cuda": torch.version.cuda,
            "driver": driver_version(),
            "driver_cuda": f"{supported[0]}.{supported[1]}" if supported else None}


def process_device(device: torch.device, local_rank: int, local_processes: int) -> torch.device:
    """The device of process ``local_rank`` of the ``local_processes`` that torchrun started on
    this node: a GPU of its own (``cuda:local_rank``), or the CPU, which they share."""
    if device.type != "cuda":
        return device
    visible = torch.cuda.device_count()
    if local_processes > visible:
        raise DeviceError(f"{local_processes} processes need a GPU each, but {visible} are "
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

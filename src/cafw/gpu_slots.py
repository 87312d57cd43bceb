"""GPU slots on one host, so that ``snakemake --cores C --resources gpu=N`` runs up to N GPU
jobs at once, each on GPUs of its own.

Snakemake counts GPUs but does not say which one a job should use (snakemake issue #281), so
every job would compute on GPU 0.  Instead a job runs as

    cafw on-gpus 2 torchrun --standalone --nproc-per-node 2 -m cafw train ...

which takes two free GPUs of this host, shows only them to the command (CUDA_VISIBLE_DEVICES)
and runs it in its place.  A GPU is taken by an exclusive ``flock`` on its file in a per-host
directory (``CAFW_GPU_LOCKS``, default /tmp/cafw-gpu-locks); the lock lives as long as the
command's process, and the kernel releases it however that ends.  A job that finds too few
free GPUs waits.

Left alone: commands that ask for no GPU, hosts without GPUs, and Slurm jobs, which Slurm has
already given GPUs of their own.  Every command given K > 0 GPUs also gets ``CAFW_GPUS=K``:
it must then compute on GPUs, and fails at once, naming the cause, where torch cannot use
them (``cafw.device``) instead of training on the CPU.
"""

from __future__ import annotations

import fcntl
import os
import random
import time
from collections.abc import Sequence
from pathlib import Path

from .errors import NotEnoughGPUs
from .vocabulary import GPUS_VARIABLE

LOCKS = Path(os.environ.get("CAFW_GPU_LOCKS", "/tmp/cafw-gpu-locks"))
POLL_SECONDS = 2.0  # between attempts while too few GPUs are free


def host_gpus() -> list[str]:
    """The GPUs this process may use: the CUDA_VISIBLE_DEVICES entries if it is set (ids or
    UUIDs), else every GPU the driver reports."""
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is not None:
        return [d.strip() for d in visible.split(",") if d.strip()]
    import torch  # only here: counting GPUs needs the driver, not a CUDA context

    return [str(i) for i in range(torch.cuda.device_count())]


def take(count: int, gpus: Sequence[str], locks: Path = LOCKS) -> tuple[list[str], list[int]]:
    """Wait until ``count`` of ``gpus`` are free; return them and the lock files' descriptors
    (inheritable, so that a command exec'd in this process keeps holding the locks)."""
    if count > len(gpus):
        raise NotEnoughGPUs(f"the job needs {count} GPUs, but this host has {len(gpus)} "
                            f"({', '.join(gpus)}); lower its resources' gpu")
    locks.mkdir(parents=True, exist_ok=True)
    while True:
        taken: list[tuple[str, int]] = []
        for gpu in gpus:
            fd = os.open(locks / f"gpu-{gpu}.lock", os.O_RDONLY | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                continue
            taken.append((gpu, fd))
            if len(taken) == count:
                for _, held in taken:
                    os.set_inheritable(held, True)
                return [g for g, _ in taken], [f for _, f in taken]
        for _, fd in taken:  # all or none: two jobs holding half each would wait forever
            os.close(fd)
        time.sleep(POLL_SECONDS * random.uniform(0.5, 1.5))


def exec_on_gpus(count: int, command: Sequence[str]) -> None:
    """Run ``command`` in place of this process on ``count`` free GPUs of this host."""
    env = dict(os.environ)
    if count > 0:
        env[GPUS_VARIABLE] = str(count)
    if count > 0 and "SLURM_JOB_ID" not in env:
        gpus = host_gpus()
        if gpus:
            chosen, _ = take(count, gpus)
            env["CUDA_VISIBLE_DEVICES"] = ",".join(chosen)
    os.execvpe(command[0], list(command), env)

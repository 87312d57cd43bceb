"""The checks of ``cafw doctor`` (its command line: ``cafw.cli.doctor``): this machine against
what a config's grid needs, before it is submitted.

    cafw doctor --configfile config/paper.yaml --workflow-profile profiles/slurm   # login node
    cafw doctor --requirement results/preflight/<setup>.yaml                       # a GPU node

One row per check, each ``ok``, ``warning``, ``skipped`` or ``FAILED`` with what was found;
the command exits with 1 if any check failed.  Checked: torch and its CUDA build; the NVIDIA
driver; the GPUs' count and memory against the most any job asks for; bf16; NCCL over as
many GPUs as a job uses (gloo over its processes, for a job that trains in several on the
CPU); a few timed SFW training steps of the largest model on its device
and batch (with the epoch and run time they imply against the job's time limit); the data
roots; with a Slurm profile ``sbatch``, job accounting (``sacct``, or the profile's squeue),
the executor plugin and the profile's partitions; and latexmk (a warning: without it the
pipeline builds everything but the PDF).

The pipeline runs ``--requirement`` as one preflight job per GPU setup, on the kind of node
that setup's training jobs get (``cafw.pipeline.preflight``): there the data must already be
on the shared filesystem.  torch is imported inside the checks, so the command line stays fast.
"""

from __future__ import annotations

import importlib.util
import math
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import yaml

OK, WARNING, SKIPPED, FAILED = "ok", "warning", "skipped", "FAILED"
GiB = 1024**3


@dataclass
class Check:
    name: str
    status: str
    found: str


@dataclass
class Needs:
    """What the jobs to be run here need: their requirements (one per setup, see
    ``cafw.pipeline.preflight.requirement``) and whether this is one of their nodes."""

    requirements: list[dict]
    on_node: bool  # a preflight job: the data must be here already

    @property
    def gpus(self) -> int:
        return max((r["gpus"] for r in self.requirements), default=0)

    @property
    def processes(self) -> int:
        return max((r["processes"] for r in self.requirements), default=1)

    @property
    def widest(self) -> dict | None:
        return max(self.requirements, key=lambda r: r["gpus"], default=None)

    @property
    def cuda(self) -> bool:
        return any(_needs_cuda(r) for r in self.requirements)


def _needs_cuda(requirement: dict) -> bool:
    device = requirement["run"].get("device", "auto")
    return device != "cpu" and (requirement["gpus"] > 0 or device == "cuda")


def run_checks(configfile: list[Path], workflow_profile: Path | None = None,
               requirement: Path | None = None, steps: int = 5) -> list[Check]:
    """Every check of this machine: against one setup's ``requirement`` (a preflight job's
    YAML) if given, else against every trained setup of the merged config files, with the
    Slurm checks of ``workflow_profile`` and latexmk's."""
    if requirement:
        needs = Needs([yaml.safe_load(requirement.read_text())], on_node=True)
        extra: list[Check] = []
    else:
        needs = Needs(requirements(configfile), on_node=False)
        extra = [*slurm_checks(workflow_profile), latexmk_check()]
    return node_checks(needs, steps) + extra


def requirements(paths: list[Path]) -> list[dict]:
    """Each trained setup's requirement, from the grid of the merged config files."""
    from .pipeline.cost import load
    from .pipeline.grid import expand
    from .pipeline.preflight import requirement

    config = load(paths)
    grid = expand(config)
    trained = {run["tags"]["setup"] for run in grid.runs.values()}
    return [requirement(config, grid, setup) for setup in config["setups"] if setup in trained]


def render(checks: list[Check]) -> str:
    width = max(len(c.name) for c in checks)
    lines = [f"{c.status:8} {c.name.ljust(width)}  {c.found}" for c in checks]
    failed = [c.name for c in checks if c.status == FAILED]
    lines.append(f"cafw doctor: {len(checks)} checks, "
                 + (f"{len(failed)} failed: {', '.join(failed)}" if failed else "none failed"))
    return "\n".join(lines) + "\n"


# -- the node --------------------------------------------------------------------------------

def node_checks(needs: Needs, steps: int) -> list[Check]:
    import torch

    usable = torch.cuda.is_available()
    checks = [torch_check(needs), driver_check(needs), gpus_check(needs)]
    checks.append(bf16_check(needs) if usable else
                  Check("bf16", SKIPPED, "no usable GPU" if needs.cuda else "no job uses a GPU"))
    checks.append(collectives_check(needs, usable))
    data = [data_check(dataset, root, needs.on_node) for dataset, root in
            dict.fromkeys((r["run"]["dataset"], r["run"].get("data_root", "data"))
                          for r in needs.requirements)]
    missing = {c.name.removeprefix("data ") for c in data if c.status != OK}
    checks.append(steps_check(needs, steps, usable, missing))
    return checks + data


def torch_check(needs: Needs) -> Check:
    import torch

    build = torch.version.cuda
    found = f"torch {torch.__version__}, " + (f"CUDA {build} build" if build else "CPU-only build")
    failed = needs.cuda and build is None
    return Check("torch", FAILED if failed else OK,
                 found + (f"; {_asked(needs)} (docs/install.md)" if failed else ""))


def _asked(needs: Needs) -> str:
    widest = needs.widest
    return (f"the grid asks for up to {needs.gpus} GPU{'s' if needs.gpus > 1 else ''} per job "
            f"({widest['setup']})" if widest and needs.gpus else "the runs ask for device cuda")


def driver_check(needs: Needs) -> Check:
    import torch

    from .device import cuda_problem, versions

    v = versions()
    found = f"{v['driver']} (CUDA {v['driver_cuda']})" if v["driver"] else "none"
    if needs.cuda and not torch.cuda.is_available():
        return Check("GPU driver", FAILED, f"{_asked(needs)}, but {cuda_problem()}")
    return Check("GPU driver", OK, found)


def gpus_check(needs: Needs) -> Check:
    import torch

    if not torch.cuda.is_available():
        status = FAILED if needs.cuda else OK
        return Check("GPUs", status, f"none usable; {_asked(needs)}" if needs.cuda
                     else "none; no job asks for one")
    count = torch.cuda.device_count()
    found = ", ".join(f"{torch.cuda.get_device_name(i)} "
                      f"{torch.cuda.get_device_properties(i).total_memory / GiB:.0f} GiB"
                      for i in range(count))
    if count < needs.gpus:
        return Check("GPUs", FAILED, f"{count} visible ({found}); {_asked(needs)}")
    return Check("GPUs", OK, f"{count}: {found}")


def bf16_check(needs: Needs) -> Check:
    import torch

    wanted = [r["setup"] for r in needs.requirements if _needs_cuda(r)
              and r["run"].get("precision", "auto") in ("auto", "bf16")]
    supported = torch.cuda.is_bf16_supported()
    if not wanted:
        return Check("bf16", OK, f"supported: {supported}; no run asks for it")
    return Check("bf16", OK if supported else FAILED,
                 f"supported: {supported}; wanted by {', '.join(wanted)} (precision auto or bf16)")


def collectives_check(needs: Needs, usable: bool) -> Check:
    """The collectives of the widest job: NCCL over its GPUs, or gloo over its processes on
    the CPU (a job that trains in several processes without GPUs: a rehearsal's)."""
    if usable and needs.gpus > 1:
        return collective_check(needs.gpus)
    if not needs.cuda and needs.processes > 1:
        return collective_check(needs.processes, "gloo")
    return Check("NCCL", SKIPPED, "no job uses several GPUs" if needs.gpus <= 1
                 else "no usable GPU")


def collective_check(gpus: int, backend: str = "nccl") -> Check:
    """An all-reduce of 64 MiB over ``gpus`` processes, one per GPU (gloo: on the CPU)."""
    import torch.multiprocessing as mp

    name = f"{backend.upper()}, {gpus} processes"
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with tempfile.TemporaryDirectory() as tmp:
        result = Path(tmp) / "result"
        try:
            mp.spawn(_all_reduce, args=(gpus, port, backend, str(result)), nprocs=gpus)
        except Exception as err:  # a failing process raises here, with its message
            return Check(name, FAILED, _described(err, line=-1))
        return Check(name, OK, result.read_text())


def _all_reduce(rank: int, world: int, port: int, backend: str, result: str) -> None:
    import torch
    import torch.distributed as dist

    device = torch.device("cuda", rank) if backend == "nccl" else torch.device("cpu")
    if device.type == "cuda":
        torch.cuda.set_device(device)
    dist.init_process_group(backend, init_method=f"tcp://127.0.0.1:{port}", rank=rank,
                            world_size=world)
    try:
        tensor = torch.ones(16 * 1024**2, device=device)
        dist.all_reduce(tensor)  # warm-up: the communicators
        tensor.fill_(1.0)
        start = time.perf_counter()
        dist.all_reduce(tensor)
        total = tensor.sum().item()  # waits for the all-reduce
        seconds = time.perf_counter() - start
        if total != world * tensor.numel():
            raise RuntimeError(f"all-reduce summed to {total}, not {world * tensor.numel()}")
        if rank == 0:
            Path(result).write_text(f"all-reduce of 64 MiB in {1e3 * seconds:.1f} ms")
    finally:
        dist.destroy_process_group()


# -- training steps --------------------------------------------------------------------------

def largest(requirements: list[dict]) -> dict:
    """The requirement whose model has the most parameters (built without memory, for a
    CIFAR-shaped input: the ranking, not the count, is what matters)."""
    import torch

    from .models import build_model

    def parameters(requirement: dict) -> int:
        with torch.device("meta"):
            model = build_model(requirement["run"]["model"], 10, (3, 32, 32),
                                requirement["run"].get("width", 1.0))
        return sum(p.numel() for p in model.parameters())
    return max(requirements, key=parameters)


def steps_check(needs: Needs, steps: int, usable: bool, missing: set[str]) -> Check:
    if not needs.requirements:
        return Check("training steps", SKIPPED, "no run in the grid")
    requirement = largest(needs.requirements)
    run = requirement["run"]
    if _needs_cuda(requirement) and not usable:
        return Check("training steps", SKIPPED, f"{run['model']} needs the GPUs above")
    if run["dataset"] in missing:
        return Check("training steps", SKIPPED, f"{run['dataset']} is not here (see its row)")
    try:
        return _time_steps(requirement, steps)
    except Exception as err:  # out of memory, a kernel that fails on this GPU, ...
        return Check("training steps", FAILED,
                     f"{run['model']} ({requirement['setup']}): {_described(err)[:200]}")


def _time_steps(requirement: dict, steps: int) -> Check:
    """``steps`` training steps of the requirement's run (after two warm-up steps) at its
    batch per process, on its device; the epoch and the run they imply."""
    import torch
    from torch import nn

    from .device import synchronize
    from .runtime import set_up
    from .spec import load_run
    from .train.factory import build_optimizer, build_penalty

    run, processes = requirement["run"], requirement["processes"]
    spec = load_run({**run, "batch_size": max(run["batch_size"] // processes, 1),
                     "tensorboard": False})
    rt = set_up(spec, single_process=True)
    optimizer, penalty = build_optimizer(spec.optimizer, rt.model), build_penalty(spec)
    batches = rt.data.train.endless()  # a small dataset may have fewer batches than steps
    if rt.device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(rt.device)

    def step() -> None:
        x, y = next(batches)
        with rt.autocast():
            loss = nn.functional.cross_entropy(rt.forward(x).float(), y)
        if penalty is not None:
            loss = loss + penalty(rt.model)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    for _ in range(2):
        step()
    synchronize(rt.device)
    start = time.perf_counter()
    for _ in range(steps):
        step()
    synchronize(rt.device)
    seconds = (time.perf_counter() - start) / steps
    per_epoch = math.ceil(rt.data.info.train_size / run["batch_size"])
    epoch, total = seconds * per_epoch, seconds * per_epoch * run["epochs"]
    found = (f"{run['model']} ({requirement['setup']}, {run['tags']['method']}): "
             f"{1e3 * seconds:.0f} ms per step of {spec.batch_size} images {rt.start_line()}; "
             f"{per_epoch} steps, ~{_duration(epoch)} per epoch, ~{_duration(total)} for "
             f"{run['epochs']} epochs")
    if rt.device.type == "cuda":
        found += (f"; peak memory {torch.cuda.max_memory_allocated(rt.device) / GiB:.1f} of "
                  f"{torch.cuda.get_device_properties(rt.device).total_memory / GiB:.0f} GiB")
    limit = requirement.get("runtime_minutes")
    if limit is not None and total > 60 * limit:
        return Check("training steps", WARNING, f"{found}, more than the job's "
                     f"{_duration(60 * limit)}: it will resume in its retries, or raise runtime")
    return Check("training steps", OK, found + (f" of the job's {_duration(60 * limit)}"
                                               if limit is not None else ""))


def _described(err: Exception, line: int = 0) -> str:
    """An exception's type and one line of its message (some have none: StopIteration)."""
    lines = str(err).strip().splitlines()
    return f"{type(err).__name__}: {lines[line]}" if lines else type(err).__name__


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.1f} s"
    return f"{seconds / 60:.1f} min" if seconds < 7200 else f"{seconds / 3600:.1f} h"


# -- data, Slurm, TeX ------------------------------------------------------------------------

def data_check(dataset: str, root: str, on_node: bool) -> Check:
    """Whether ``dataset`` is under ``root``: CIFAR is fetched by the pipeline's ``dataset``
    rule on the machine running Snakemake (so on a node it must be there already), ImageNet
    is placed by hand; digits and synthetic data need nothing."""
    from .vocabulary import ON_DISK

    name = f"data {dataset}"
    if dataset not in ON_DISK:
        return Check(name, OK, "needs no files")
    from .data import cifar, imagenet

    if dataset in cifar.VARIANTS:
        variant = cifar.VARIANTS[dataset]
        folder = Path(root) / variant.folder
        present = all((folder / f).is_file() for f in variant.train_files + variant.test_files)
        if present:
            return Check(name, OK, f"under {folder}")
        if on_node:
            return Check(name, FAILED, f"not under {folder} on this node: the data root must be "
                                       "on a filesystem the nodes share with the login node")
        return Check(name, WARNING, f"not yet under {folder}: the pipeline's dataset rule "
                                    "downloads it on this machine")
    folders = [Path(root) / "imagenet" / split for split in ("train", "val")]
    if all(f.is_dir() and any(d.is_dir() for d in f.iterdir()) for f in folders):
        return Check(name, OK, f"under {Path(root) / 'imagenet'}")
    return Check(name, FAILED, f"{imagenet.HOW_TO_GET} (expected under {Path(root) / 'imagenet'})")


def slurm_checks(profile: Path | None) -> list[Check]:
    """With a Slurm profile: sbatch, job states (sacct, or squeue where the profile says so),
    the executor plugin, and the partitions its partition file names."""
    if profile is None:
        return []
    settings = yaml.safe_load((profile / "config.yaml").read_text()) or {}
    if settings.get("executor") != "slurm":
        return []
    checks = [Check("sbatch", OK if shutil.which("sbatch") else FAILED,
                    shutil.which("sbatch") or "not on PATH: run Snakemake where jobs can be "
                                              "submitted (a login node)")]
    if settings.get("slurm-status-command") == "squeue":
        checks.append(Check("job states", OK if shutil.which("squeue") else FAILED,
                            "squeue (slurm-status-command)" if shutil.which("squeue")
                            else "squeue is not on PATH"))
    else:
        checks.append(_sacct_check())
    plugin = importlib.util.find_spec("snakemake_executor_plugin_slurm")
    checks.append(Check("Slurm executor plugin", OK if plugin else FAILED,
                        "installed" if plugin else "missing: pip install -c requirements-lock.txt "
                                                   "-e '.[pipeline]'"))
    if settings.get("slurm-partition-config"):
        checks.append(_partitions_check(profile / settings["slurm-partition-config"]))
    return checks


def _sacct_check() -> Check:
    if shutil.which("sacct") is None:
        return Check("job states", FAILED, "sacct is not on PATH; add slurm-status-command: "
                                           "squeue to the profile")
    done = subprocess.run(["sacct", "-n", "-X", "--starttime", "now"], capture_output=True,
                          text=True, timeout=60)
    if done.returncode != 0:
        why = (done.stderr.strip().splitlines() or ["no message"])[-1][:120]
        return Check("job states", FAILED, f"sacct fails ({why}); add "
                                           "slurm-status-command: squeue to the profile")
    return Check("job states", OK, "sacct answers")


def _partitions_check(path: Path) -> Check:
    named = list((yaml.safe_load(path.read_text()) or {}).get("partitions", {}))
    if shutil.which("sinfo") is None:
        return Check("partitions", FAILED, "sinfo is not on PATH")
    done = subprocess.run(["sinfo", "-h", "-o", "%R"], capture_output=True, text=True,
                          timeout=60)
    known = set(done.stdout.split())
    unknown = [p for p in named if p not in known]
    if unknown:
        return Check("partitions", FAILED, f"{path} names {', '.join(unknown)}, which Slurm "
                                           f"does not know (sinfo: {', '.join(sorted(known))})")
    return Check("partitions", OK, f"{', '.join(named)} ({path})")


def latexmk_check() -> Check:
    found = shutil.which("latexmk")
    return Check("latexmk", OK if found else WARNING, found or "not on PATH: the pipeline "
                 "builds everything but paper/main.pdf (docs/install.md)")


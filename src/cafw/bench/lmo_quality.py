"""How exact the spectral LMOs are along real SFW training trajectories.

Why: the nuclear-norm and spectral-k-support LMOs need the top-k singular subspace of the
direction, and the compute claim rests on not computing it exactly: ``method="subspace"``
refines the previous step's basis with ``constraint.lmo_iterations`` rounds of subspace
iteration.  Too few rounds and SFW no longer solves the subproblem it is analysed with; too
many and its cost advantage over ProxSGD (one full SVD per layer per step) melts.  The default
number of rounds is chosen from this table and ``cafw.bench.lmo_cost``'s (docs/compute.md,
"Spectral LMOs: exact enough, cheap enough").

A trajectory is a real SFW training run of the pipeline config (its setup, its SFW
method, its learning rate and schedule), stepped by the default optimizer.  After every step
each conv layer's momentum buffer, the direction the optimizer's LMO has just seen, is given
to every variant of each spectral family: the exact LMO (full SVD), the warm subspace method
with 1, 2, 3 and 5 rounds (each variant keeps its own basis along the trajectory, in its own
state dict, through the public ``batched_lmo``) and the authors' cold 10-round block power
method ('qrpartial').  Quality q = <v, -d> / <v*, -d> (1 = exact), with <v*, -d> = radius x
dual norm of d from d's singular values in float64 (the float32 SVD vertex is a check: its q
is 1 to ~1e-6).  The first step is left out: every warm variant is seeded by an exact SVD
there.  On timed steps every variant runs in a shuffled order and its time over all conv
layers is divided by the full SVD's of the same step; the stateless cold method runs only on
timed steps (an unbiased subsample), the warm ones on every step.

What the rounds cost is ``cafw.bench.lmo_cost``.
"""

from __future__ import annotations

import itertools
import math
import random
import statistics
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import yaml
from torch import Tensor

from ..constraints import SETS
from ..device import describe
from ..io import write_csv
from ..runtime import set_up
from ..spec import RunSpec, load_run
from ..train.factory import build_optimizer
from ..train.schedules import build_scheduler
from ..train.step import train_step


@dataclass(frozen=True)
class Trajectories:
    """The SFW training runs of one setup of the pipeline config whose steps are measured."""

    setup: str
    methods: tuple[str, ...]  # the config's SFW methods, one trajectory each
    steps: int | None = None  # per trajectory; None: the setup's whole training run
    batch_size: int | None = None  # None: the setup's own
    time_every: int = 1  # the LMOs are timed on every this many steps


ITERATIONS = (1, 2, 3, 5)
POWER_ITERATIONS = 10  # the authors' 'qrpartial'


def power_lmo(constraint, g: Tensor, radius: Tensor, iterations: int = POWER_ITERATIONS,
              generator: torch.Generator | None = None) -> Tensor:
    """The authors' 'qrpartial' LMO of a spectral set on a batch g (B, *shape): from a fresh
    Gaussian block V (n x k) each call, ``iterations`` rounds of U <- Q of qr(W V),
    V <- Q of qr(W^T U); the singular values are |diag R| of the last QR and U's columns take
    the sign of diag R.  The nuclear ball (k = 1) is the same with one column."""
    m = g.reshape(g.shape[0], g.shape[1], -1)
    k = constraint.k_for(g.shape[1:])
    v = torch.randn(m.shape[0], m.shape[2], k, generator=generator).to(m)
    for _ in range(iterations):
        u = torch.linalg.qr(m @ v).Q
        v, r = torch.linalg.qr(m.mT @ u)
    s = r.diagonal(dim1=-2, dim2=-1)
    u = u * torch.where(s < 0, -1.0, 1.0).to(u)[:, None, :]
    return constraint._vertex_from_svd(u, s.abs(), v.mT, radius).reshape(g.shape)


def singular_values(d: Tensor) -> Tensor:
    """All singular values of d reshaped to (C_out, -1), descending, in float64: the square
    roots of the eigenvalues of the short side's Gram matrix (much cheaper than an SVD)."""
    m = d.reshape(d.shape[0], -1).double()
    gram = m @ m.mT if m.shape[0] <= m.shape[1] else m.mT @ m
    return torch.linalg.eigvalsh(gram).flip(-1).clamp_min(0).sqrt()


def exact_value(family: str, s: Tensor, k: int) -> float:
    """<v*, -d> of the exact LMO of a unit-radius set, from d's singular values s."""
    if family == "nuclear":
        return float(s[0])
    if family == "spectral_k_support":
        return float(s[:k].square().sum().sqrt())
    if family == "spectral_k_sparse":
        return float(s[:k].sum())
    raise ValueError(f"not a spectral family: {family!r}")


def quality(v: Tensor, d: Tensor, exact: float) -> float:
    """q = <v, -d> / <v*, -d>; 1 is exact (NaN for a zero direction)."""
    value = -float(torch.dot(v.reshape(-1).double(), d.reshape(-1).double()))
    return value / exact if exact > 0 else math.nan


def pipeline_runs(config: dict, setup: str, methods: Sequence[str], **overrides) -> dict:
    """The pipeline's run config of each method on ``setup`` (first seed, its default
    schedule), as the compute comparison builds them, with ``overrides`` on top."""
    from ..pipeline.grid import compute_runs

    comparison = compute_runs({**config, "compute": {**config.get("compute", {}),
                                               "methods": list(methods)}}, setup)
    runs = {}
    for name, method in comparison["methods"].items():
        run = {**method["run"], **overrides}
        run.pop("tags", None)
        runs[name] = load_run(run)
    return runs


def _variants(config: dict, family_methods: Mapping[str, str], iterations: Sequence[int]
              ) -> dict:
    """family -> method name -> (set, iterations, start): unit-radius sets with the k of the
    family's pipeline method (``family_methods``: family -> the config's method)."""
    out = {}
    for family, method in family_methods.items():
        c = config["methods"][method]["optimizer"]["constraint"]
        cls = SETS[family]
        kwargs = {"k": c["k"], "k_min": c.get("k_min", 1)} if cls.has_k else {}
        out[family] = {"svd": (cls(radius=1.0, method="svd", **kwargs), None, "exact")}
        for i in iterations:
            out[family][f"subspace-{i}"] = (cls(radius=1.0, iterations=i, **kwargs), i, "warm")
        out[family][f"power-{POWER_ITERATIONS}"] = (
            cls(radius=1.0, method="svd", **kwargs), POWER_ITERATIONS, "cold")
    return out


def trajectory(spec: RunSpec, steps: int | None, variants: dict, time_every: int = 1,
               seed: int = 0, device: str | None = None,
               log: Callable[[str], None] = lambda line: None) -> tuple[list[dict], dict, dict]:
    """Train ``spec`` with its SFW optimizer for ``steps`` steps and run every variant on each
    conv layer's direction after every step.  Returns the samples (one per step, layer,
    family and variant), the per-step times (family -> variant -> [(step, seconds)]) and
    facts about the run."""
    rt = set_up(spec, device=device)
    model, per_epoch = rt.model, len(rt.data.train)
    steps = steps or spec.epochs * per_epoch
    optimizer = build_optimizer(spec.optimizer, model)
    scheduler = build_scheduler(optimizer, spec.schedule, math.ceil(steps / per_epoch), per_epoch)
    train = partial(train_step, model, optimizer, autocast=rt.autocast, forward=rt.forward)
    layers = [p for g in optimizer.param_groups for p in g["params"] if p.ndim == 4]
    measurements = _Measurements(variants, len(layers), rt.device, seed)
    batches = rt.data.train.endless()
    started = time.perf_counter()
    for step, (x, y) in enumerate(itertools.islice(batches, steps)):
        model.train()
        loss, _ = train(x, y)
        scheduler.step()
        # the direction the optimizer's LMO has just seen
        directions = [optimizer.state[p]["momentum_buffer"] for p in layers]
        if step == 0:  # the warm variants seed their bases with an exact SVD
            measurements.seed_bases(directions)
            continue
        measurements.measure(step, directions, timed=step % time_every == 0)
        if step % 50 == 0:
            log(f"  step {step}/{steps}: loss {float(loss.detach()):.3f}, "
                f"{time.perf_counter() - started:.0f} s")
    info = {"steps": steps, "layers": len(layers), "per_epoch": per_epoch,
            "device": describe(rt.device)}
    return measurements.samples, measurements.times, info


class _Measurements:
    """Every variant's state (its basis, per layer) along one trajectory, and what it
    measured: the quality samples and the times of the timed steps."""

    def __init__(self, variants: dict, layers: int, device: torch.device, seed: int):
        self.variants, self.device = variants, device
        self.one = torch.ones(1, device=device)  # the unit radius
        self.states = {f: {name: [{} for _ in range(layers)] for name in v}
                       for f, v in variants.items()}
        self.generator = torch.Generator().manual_seed(seed)  # the cold method's start
        self.order_rng = random.Random(seed)  # the order of the timed variants
        self.samples: list[dict] = []
        self.times = {f: {name: [] for name in v} for f, v in variants.items()}

    @torch.no_grad()
    def seed_bases(self, directions: list[Tensor]) -> None:
        for family, methods in self.variants.items():
            for name, (c, iterations, start) in methods.items():
                if start == "warm":
                    for i, d in enumerate(directions):
                        self._lmo(c, iterations, start, d, self.states[family][name][i])

    @torch.no_grad()
    def measure(self, step: int, directions: list[Tensor], timed: bool) -> None:
        """Every variant's vertices and their quality; on a timed step every variant, in a
        shuffled order, else the warm ones only (which must follow the whole trajectory)."""
        spectra = [singular_values(d) for d in directions]
        for family, methods in self.variants.items():
            names = [n for n, (_, _, start) in methods.items() if timed or start == "warm"]
            if timed:
                self.order_rng.shuffle(names)
            for name in names:
                c, iterations, start = methods[name]
                tick = time.perf_counter()
                vertices = [self._lmo(c, iterations, start, d, self.states[family][name][i])
                            for i, d in enumerate(directions)]
                if self.device.type == "cuda":
                    torch.cuda.synchronize(self.device)
                if timed:
                    self.times[family][name].append((step, time.perf_counter() - tick))
                for i, (v, d, s) in enumerate(zip(vertices, directions, spectra)):
                    k = c.k_for(d.shape)
                    self.samples.append({"family": family, "method": name, "step": step,
                                         "layer": i, "k": k,
                                         "q": quality(v, d, exact_value(family, s, k))})

    def _lmo(self, c, iterations: int | None, start: str, d: Tensor, state: dict) -> Tensor:
        if start == "cold":
            return power_lmo(c, d[None], self.one, iterations, self.generator)[0]
        return c.batched_lmo(d[None], self.one, state if start == "warm" else None)[0]


def summarize(samples: list[dict], times: dict, variants: dict) -> pd.DataFrame:
    """One row per family and variant: quality statistics and time relative to the SVD."""
    table = pd.DataFrame(samples)
    rows = []
    for family, methods in variants.items():
        svd = dict(times[family]["svd"])
        for name, (_, iterations, start) in methods.items():
            q = table.loc[(table["family"] == family) & (table["method"] == name), "q"]
            q = q.to_numpy(dtype=float)
            q = q[np.isfinite(q)]
            timed = times[family][name]
            ratios = [t / svd[step] for step, t in timed if step in svd]
            rows.append({
                "family": family, "method": name.split("-")[0], "iterations": iterations,
                "start": start, "q_mean": q.mean() if len(q) else math.nan,
                "q_p5": np.percentile(q, 5) if len(q) else math.nan,
                "q_min": q.min() if len(q) else math.nan, "samples": len(q),
                "time_vs_svd": statistics.median(ratios) if ratios else math.nan,
                "ms_per_step": 1e3 * statistics.median(t for _, t in timed) if timed else math.nan,
                "timed_steps": len(timed)})
    return pd.DataFrame(rows)


def run(pipeline_config: Path, trajectories: Sequence[Trajectories],
        family_methods: Mapping[str, str], steps: int | None = None,
        iterations: Sequence[int] = ITERATIONS, seed: int = 0, device: str | None = None,
        out: Path | None = None, log: Callable[[str], None] = print) -> pd.DataFrame:
    """The quality table: one row per trajectory (setup and SFW method), family and variant.
    ``family_methods``: spectral family -> the config's method whose constraint gives its k;
    ``steps`` overrides every trajectory's length."""
    config = yaml.safe_load(Path(pipeline_config).read_text())
    variants = _variants(config, family_methods, iterations)
    tables = []
    for setup in trajectories:
        overrides = {"threads": 1, "seed": seed}
        if setup.batch_size is not None:
            overrides["batch_size"] = setup.batch_size
        runs = pipeline_runs(config, setup.setup, setup.methods, **overrides)
        for method, spec in runs.items():
            log(f"{setup.setup} / {method}")
            samples, times, info = trajectory(spec, steps or setup.steps, variants,
                                              time_every=setup.time_every, seed=seed,
                                              device=device, log=log)
            table = summarize(samples, times, variants)
            table.insert(0, "trajectory", method)
            table.insert(0, "setup", setup.setup)
            constraint = spec.optimizer.constraint
            table["lmo_iterations"] = constraint.lmo_iterations  # of the optimizer itself
            table["steps"], table["conv_layers"] = info["steps"], info["layers"]
            table["batch_size"], table["model"] = spec.batch_size, spec.model
            table["device"] = info["device"]
            tables.append(table)
    table = pd.concat(tables, ignore_index=True)
    if out is not None:
        write_csv(table, out)
    return table

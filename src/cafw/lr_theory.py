"""The theoretical learning-rate study: SFW step-size rules on a problem whose smoothness L
and diameter D are known exactly.

The paper says that the gradient rescaling of SFW's learning rate (``rescale="gradient"``)
has a theoretical foundation in the non-convex stochastic setting; its theorem was not
available to us (only the abstracts were).  This study checks the classical statement it would
extend (Lacoste-Julien 2016, "Convergence Rate of Frank-Wolfe for Non-Convex Objectives",
Thm 1): for an L-smooth f over a compact convex C of diameter D, Frank-Wolfe with the constant
step gamma = 1/sqrt(T+1) satisfies

    min_{0 <= t <= T} g_t  <=  max(2 h_0, L D^2) / sqrt(T+1),

with g_t = max_{v in C} <grad f(x_t), x_t - v> the Frank-Wolfe gap and h_0 = f(x_0) - min_C f,
and asks whether the gradient- and diameter-rescaled steps reach the same O(1/sqrt(T)) rate at
the same learning rate alpha_T = 1/sqrt(T+1).

Problem (one per seed, drawn from ``torch.Generator().manual_seed(seed)``):

* f(x) = 1/2 x^T Q x + b^T x, Q = U diag(lam) U^T with U orthogonal (QR of a Gaussian matrix,
  signs fixed by diag R), lam uniform in [-mu, 1] with lam_1 = -mu and lam_2 = +1 (mu = 0.1),
  so Q is indefinite, f non-convex and L = ||Q||_2 = 1; b Gaussian scaled to ||b||_2 = 1.
  The negative curvature is mild on purpose: with lam down to -1 most instances have their
  stationary point at a vertex of the L1 ball, which every rule reaches at a linear rate, so
  they say nothing about the O(1/sqrt(T)) regime; with mu = 0.1 every seed tried has its
  stationary point inside a face and shows that regime.
* C = {||x||_1 <= r}, r = 1 (``L1Ball(radius=1.0)``), Euclidean diameter D = 2r = 2.
* x_0 = 0, the centre of C (the same start for every rule and horizon; f(x_0) = 0).
* Stochastic gradient: grad f(x_t) + noise * xi_t / sqrt(n), xi_t ~ N(0, I_n), so
  E||noise term||^2 = noise^2 (E||noise term|| ~ noise).  One xi_t per seed and iteration,
  shared by every rule and horizon of that seed (common random numbers: the rules are compared
  on the same noise), drawn in fixed-size chunks so that the sequence does not depend on
  ``iterations``.

Rules (``cafw.optim.SFW`` with momentum 0, learning rate alpha_T = 1/sqrt(T+1)):
``constant`` = rescale "none" (eta_t = alpha_T, the classical prescription), ``diameter`` =
rescale "diameter" (eta_t = alpha_T / D), ``gradient`` = rescale "gradient"
(eta_t = min(alpha_T ||g_t|| / ||x_t - v_t||, 1), g_t the stochastic gradient).

Bound.  h_0 is bounded exactly, without solving the non-convex problem: for x in C,
||x||_2 <= ||x||_1 <= r, and lam_min(Q) >= -L, so

    f(x) >= -(L/2) ||x||_2^2 - ||b||_inf ||x||_1 >= -(L r^2 / 2 + r ||b||_inf),

hence h_0 <= h0_bound = f(x_0) + L r^2 / 2 + r ||b||_inf (tighter than the generic G D with
G = max_C ||grad f||_2 <= L r + ||b||_2; with x_0 = 0 it is about 0.8, so 2 h0_bound < L D^2
and the bound is L D^2 / sqrt(T+1) = 4 / sqrt(T+1)).  The ``bound`` column is
max(2 h0_bound, L D^2) / sqrt(T+1).  The theorem covers the ``constant`` rule with exact
gradients (noise = 0); with a fixed noise level (no growing minibatch) SFW's guarantee has an
extra term that does not vanish with T, and for the other rules the bound is a reference line.

The recorded gap is the *true* Frank-Wolfe gap, from the exact gradient and the exact LMO of
the L1 ball: g_t = <grad f(x_t), x_t> + r ||grad f(x_t)||_inf.

What to expect.  With the stationary point inside a face, Frank-Wolfe zig-zags between the
face's vertices and the best gap decays like 1/sqrt(T); a single seed's best gap need not be
monotone in T.  With stronger negative curvature (mu = 1) most instances have a vertex
solution that every rule reaches linearly (the gradient rule exactly, as its eta clips to 1),
and the instances with a face solution showed the constant and diameter rules stalling at a
noise floor while the gradient rule kept improving.  ``slopes`` fits the seed-mean best gap.

All rule x seed x horizon runs are param groups of one SFW optimizer (each a 1-d tensor of
size ``dimension``, a row of one (seeds, rules * horizons, n) tensor ordered by decreasing
horizon, so the exact gradients of the runs still going are one batched product over a
prefix); a run stops (its grad is set to None, which SFW skips) once it has taken its T
steps.  The loop runs with one torch thread (restored afterwards): the tensors are tiny.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from .constraints import L1Ball
from .io import write_csv
from .optim import SFW
from .vocabulary import LR_THEORY_RULES

LR_THEORY_COLUMNS = ["rule", "seed", "horizon", "best_gap", "bound", "iteration", "step_size"]
RADIUS = 1.0
SMOOTHNESS = 1.0  # L = ||Q||_2, exact by construction
CURVATURE = 0.1  # mu: the most negative eigenvalue of Q is -mu
DIAMETER = 2.0 * RADIUS
NOISE_CHUNK = 1024  # noise is drawn this many iterations at a time (independent of T)
STEP_POINTS = 200  # log-spaced iterations at which the step size is recorded
GAP_FLOOR = 1e-15  # f and its gradient are O(1): gaps below this are rounding


def horizon_grid(iterations: int, horizons: int) -> list[int]:
    """``horizons`` integers log-spaced between 10 and ``iterations`` (unique, ascending)."""
    if iterations < 1 or horizons < 1:
        raise ValueError("iterations and horizons must be positive")
    if horizons == 1:
        return [iterations]
    low = min(10, iterations)
    grid = np.unique(np.round(np.geomspace(low, iterations, horizons)).astype(int))
    return [int(t) for t in grid]


def log_iterations(last: int, points: int) -> list[int]:
    """min(points, last) distinct integers in [1, last], log-spaced (dense at the start)."""
    target = min(points, last)
    m = target
    while True:
        grid = np.unique(np.round(np.geomspace(1, last, m)).astype(int))
        if len(grid) >= target:
            return [int(i) for i in grid[np.round(np.linspace(0, len(grid) - 1, target))
                                          .astype(int)]]
        m += max(1, target - len(grid))


def make_problem(dimension: int, generator: torch.Generator,
                 dtype: torch.dtype = torch.float64) -> tuple[torch.Tensor, torch.Tensor]:
    """Q (symmetric, eigenvalues in [-mu, 1] including both ends) and b (unit norm)."""
    if dimension < 2:
        raise ValueError("dimension must be at least 2 (Q needs the eigenvalues -mu and +1)")
    gauss = torch.randn(dimension, dimension, generator=generator, dtype=dtype)
    u, r = torch.linalg.qr(gauss)
    u = u * torch.sign(torch.diagonal(r))  # Haar-distributed orthogonal matrix
    lam = torch.rand(dimension, generator=generator, dtype=dtype) * (1 + CURVATURE) - CURVATURE
    lam[0], lam[1] = -CURVATURE, 1.0
    q = (u * lam) @ u.T
    q = (q + q.T) / 2
    b = torch.randn(dimension, generator=generator, dtype=dtype)
    return q, b / torch.linalg.vector_norm(b)


def h0_upper_bound(b: torch.Tensor, f_x0: float = 0.0) -> float:
    """f(x_0) - min_C f <= f(x_0) + L r^2 / 2 + r ||b||_inf (see the module docstring)."""
    return f_x0 + SMOOTHNESS * RADIUS ** 2 / 2 + RADIUS * float(b.abs().max())


@dataclass(frozen=True)
class _Problem:
    """One seed's problem, and the generator that draws its gradient noise."""

    q: torch.Tensor
    b: torch.Tensor
    h0_bound: float
    noise: torch.Generator


def _problem(dimension: int, seed: int) -> _Problem:
    generator = torch.Generator().manual_seed(seed)
    q, b = make_problem(dimension, generator, torch.float64)
    return _Problem(q, b, h0_upper_bound(b), generator)


@dataclass(frozen=True)
class _Runs:
    """Every rule x seed x horizon run, a param group of one SFW optimizer.  The runs of a
    seed are ordered by decreasing horizon, so that those still stepping at iteration t are a
    prefix: run h * len(rules) + j has horizon grid[-1 - h] and rule j."""

    order: list[tuple[str, int]]  # (rule, horizon) of each run of a seed
    x: torch.Tensor  # (seeds, runs, n): the iterates, x_0 = 0
    grad: torch.Tensor  # the stochastic gradients; the params' grads are its rows
    params: list[torch.Tensor]  # param group s * runs + i is run i of seed s
    optimizer: SFW


def _runs(seeds: int, dimension: int, grid: list[int], rules: list[str]) -> _Runs:
    order = [(rule, t) for t in reversed(grid) for rule in rules]
    x = torch.zeros(seeds, len(order), dimension, dtype=torch.float64)
    grad = torch.zeros_like(x)
    groups, params = [], []
    for s in range(seeds):
        for i, (rule, t) in enumerate(order):
            p = x[s, i]
            p.grad = grad[s, i]
            params.append(p)
            groups.append({"params": [p], "lr": 1.0 / math.sqrt(t + 1),
                           "rescale": LR_THEORY_RULES[rule],
                           "constraint": L1Ball(radius=RADIUS)})
    return _Runs(order, x, grad, params, SFW(groups, momentum=0.0))


def run(dimension: int = 100, iterations: int = 20000, seeds: int = 3, noise: float = 0.1,
        horizons: int = 8, out: Path | None = None) -> pd.DataFrame:
    """Run every rule, seed and horizon; return (and write to ``out``) the tidy table.

    Rows with ``horizon`` set: ``best_gap`` = min_{0<=t<=T} g_t of the run with horizon T (T
    steps at lr 1/sqrt(T+1), gaps of x_0 ... x_T) and its ``bound``.  Rows with ``iteration``
    set: ``step_size`` = eta of the ``iteration``-th step (1-based, x_{k-1} -> x_k) of the
    longest-horizon run, at ~``STEP_POINTS`` log-spaced iterations.
    """
    grid, rules = horizon_grid(iterations, horizons), list(LR_THEORY_RULES)
    problems = [_problem(dimension, seed) for seed in range(seeds)]
    runs = _runs(seeds, dimension, grid, rules)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # the tensors are tiny: extra threads only add synchronization
    try:
        best, steps = _iterate(problems, runs, len(rules), noise)
    finally:
        torch.set_num_threads(threads)

    rows = []
    for seed, problem in enumerate(problems):
        bound_num = max(2 * problem.h0_bound, SMOOTHNESS * DIAMETER ** 2)
        for rule in rules:
            for t in grid:
                rows.append({"rule": rule, "seed": seed, "horizon": t,
                             "best_gap": float(best[seed, runs.order.index((rule, t))]),
                             "bound": bound_num / math.sqrt(t + 1)})
    for it, eta in steps:
        values = eta.tolist()
        for seed in range(seeds):
            for j, rule in enumerate(rules):
                rows.append({"rule": rule, "seed": seed, "iteration": it,
                             "step_size": values[seed * len(rules) + j]})
    table = pd.DataFrame(rows, columns=LR_THEORY_COLUMNS)
    table["seed"] = table["seed"].astype(int)
    if out is not None:
        write_csv(table, out)
    return table


@torch.no_grad()
def _iterate(problems: list[_Problem], runs: _Runs, rules: int, noise: float
             ) -> tuple[torch.Tensor, list[tuple[int, torch.Tensor]]]:
    """Step every run to its horizon.  Returns each run's best gap (seeds, runs) and the
    step sizes of the longest-horizon run of each rule and seed at log-spaced iterations."""
    seeds, n_runs, dimension = runs.x.shape
    q_all = torch.stack([p.q for p in problems])  # (S, n, n)
    b_all = torch.stack([p.b for p in problems])[:, None, :]  # (S, 1, n)
    t_max = runs.order[0][1]
    record = set(log_iterations(t_max, STEP_POINTS))
    longest = [s * n_runs + j for s in range(seeds) for j in range(rules)]
    steps: list[tuple[int, torch.Tensor]] = []
    best = torch.full((seeds, n_runs), math.inf, dtype=torch.float64)
    scale = noise / math.sqrt(dimension)
    noise_chunk = torch.empty(0)
    live = n_runs  # runs[:live] have not reached their horizon
    for t in range(t_max + 1):
        xs = runs.x[:, :live]
        exact = torch.baddbmm(b_all, xs, q_all)  # grad f(x_t) = Q x_t + b, Q symmetric
        gap = (exact * xs).sum(-1) + RADIUS * exact.abs().amax(-1)
        best[:, :live] = torch.minimum(best[:, :live], gap)  # over x_0 ... x_T
        if t == t_max:
            break
        if runs.order[live - 1][1] <= t:  # these runs have taken their T steps
            while live and runs.order[live - 1][1] <= t:
                live -= 1
                for s in range(seeds):  # SFW skips groups without gradient
                    runs.params[s * n_runs + live].grad = None
            exact = exact[:, :live]
        if noise > 0:
            k = t % NOISE_CHUNK
            if k == 0:
                noise_chunk = torch.stack([
                    torch.randn(NOISE_CHUNK, dimension, generator=p.noise, dtype=torch.float64)
                    for p in problems]).mul_(scale)  # (S, chunk, n)
            torch.add(exact, noise_chunk[:, k, None, :], out=runs.grad[:, :live])
        else:
            runs.grad[:, :live] = exact
        runs.optimizer.step()
        if t + 1 in record:
            steps.append((t + 1, runs.optimizer.step_statistics().step_size[longest].clone()))
    return best, steps


def slopes(table: pd.DataFrame, floor: float = GAP_FLOOR) -> pd.Series:
    """Per rule, the log-log slope (``numpy.polyfit``) of the seed-mean best gap against the
    horizon; means below ``floor`` (gaps at rounding level, or exactly 0 when a run lands on
    a vertex that is a stationary point) count as ``floor``."""
    gaps = table.dropna(subset=["horizon"]).groupby(["rule", "horizon"])["best_gap"].mean()
    out = {}
    for rule, series in gaps.groupby(level="rule"):
        h = series.index.get_level_values("horizon").to_numpy(float)
        y = np.log(np.maximum(series.to_numpy(), floor))
        out[rule] = float(np.polyfit(np.log(h), y, 1)[0])
    return pd.Series(out, name="slope")

"""The theoretical learning-rate study (cafw.lr_theory): table layout, the classical
Frank-Wolfe bound for the constant step, O(1/sqrt(T)) or faster decay of the best gap,
determinism, and the recorded step sizes."""

import math

import numpy as np
import pandas as pd
import pytest
import torch

from cafw import lr_theory

SMALL = dict(dimension=20, iterations=2000, seeds=2, horizons=4)


@pytest.fixture(scope="module")
def exact():
    """Exact gradients: the setting of Lacoste-Julien (2016), Thm 1."""
    return lr_theory.run(noise=0.0, **SMALL)


@pytest.fixture(scope="module")
def noisy():
    return lr_theory.run(noise=0.1, **SMALL)


def _gaps(table):
    return table.dropna(subset=["horizon"])


def test_columns_and_row_kinds(noisy, tmp_path):
    assert list(noisy.columns) == lr_theory.LR_THEORY_COLUMNS
    assert set(noisy["rule"]) == {"constant", "diameter", "gradient"}
    assert set(noisy["seed"]) == {0, 1}
    gaps = _gaps(noisy)
    assert gaps[["best_gap", "bound"]].notna().all().all()
    assert gaps[["iteration", "step_size"]].isna().all().all()
    assert sorted(gaps["horizon"].unique()) == lr_theory.horizon_grid(2000, 4)
    assert len(gaps) == 3 * 2 * 4
    steps = noisy[noisy["horizon"].isna()]
    assert steps[["best_gap", "bound"]].isna().all().all()
    assert steps[["iteration", "step_size"]].notna().all().all()
    assert steps["iteration"].between(1, 2000).all()
    assert len(steps) == len(noisy) - len(gaps)
    assert (gaps["best_gap"] >= 0).all()
    # written atomically as CSV and read back the same
    lr_theory.run(noise=0.1, out=tmp_path / "t.csv", **SMALL)
    back = pd.read_csv(tmp_path / "t.csv")
    assert list(back.columns) == lr_theory.LR_THEORY_COLUMNS
    pd.testing.assert_frame_equal(back, noisy, check_dtype=False)


def test_horizon_grid():
    grid = lr_theory.horizon_grid(20000, 8)
    assert grid[0] == 10 and grid[-1] == 20000 and len(grid) == 8
    assert grid == sorted(set(grid))
    assert lr_theory.horizon_grid(12, 8) == sorted(set(lr_theory.horizon_grid(12, 8)))
    assert lr_theory.horizon_grid(500, 1) == [500]


def test_log_iterations():
    for last, points in [(20000, 200), (2000, 200), (150, 200), (1, 200), (10, 3)]:
        its = lr_theory.log_iterations(last, points)
        assert len(its) == min(points, last) == len(set(its))
        assert its == sorted(its) and its[0] == 1 and its[-1] == last


def test_problem_has_known_smoothness():
    q, b = lr_theory.make_problem(20, torch.Generator().manual_seed(0))
    eig = torch.linalg.eigvalsh(q)
    assert eig[0].item() == pytest.approx(-0.1, abs=1e-12)  # indefinite: non-convex
    assert eig[-1].item() == pytest.approx(1.0, abs=1e-12)  # L = ||Q||_2 = 1
    assert torch.linalg.vector_norm(b).item() == pytest.approx(1.0)
    # the h0 bound is a true lower bound of f over the L1 ball: check it at every vertex
    # and at random feasible points
    h0 = lr_theory.h0_upper_bound(b)
    vertices = torch.cat([torch.eye(20), -torch.eye(20)]).double()
    points = torch.randn(500, 20, generator=torch.Generator().manual_seed(1), dtype=q.dtype)
    points = torch.cat([vertices, points / points.abs().sum(1, keepdim=True)])
    f = 0.5 * ((points @ q) * points).sum(1) + points @ b
    assert (0.0 - f <= h0).all()


def test_best_gap_decreases_with_horizon(exact):
    means = _gaps(exact).groupby(["rule", "horizon"])["best_gap"].mean()
    for rule, series in means.groupby(level="rule"):
        values = series.to_numpy()
        assert (np.diff(values) <= 1e-12).all(), (rule, values)
        assert values[-1] < values[0] / 10, (rule, values)


def test_constant_step_meets_the_frank_wolfe_bound(exact):
    gaps = _gaps(exact)
    const = gaps[gaps["rule"] == "constant"]
    assert (const["best_gap"] <= const["bound"]).all()
    # the bound is max(2 h0, L D^2) / sqrt(T + 1) with L D^2 = 4
    assert (const["bound"] * np.sqrt(const["horizon"] + 1) >= 4.0 - 1e-12).all()


@pytest.mark.parametrize("rule", ["constant", "gradient"])
def test_rate_at_least_inverse_sqrt_exact_gradients(exact, rule):
    assert lr_theory.slopes(exact)[rule] <= -0.4


def test_gradient_rule_rate_with_noise(noisy):
    assert lr_theory.slopes(noisy)["gradient"] <= -0.4


def test_deterministic(noisy):
    again = lr_theory.run(noise=0.1, **SMALL)
    pd.testing.assert_frame_equal(again, noisy)


def test_step_sizes(noisy):
    steps = noisy[noisy["horizon"].isna()]
    alpha = 1.0 / math.sqrt(2000 + 1)
    const = steps[steps["rule"] == "constant"]["step_size"]
    np.testing.assert_allclose(const.to_numpy(), alpha, rtol=1e-12)
    diam = steps[steps["rule"] == "diameter"]["step_size"]
    np.testing.assert_allclose(diam.to_numpy(), alpha / 2.0, rtol=1e-12)  # D = 2
    grad = steps[steps["rule"] == "gradient"]["step_size"]
    assert grad.between(0.0, 1.0).all()
    assert grad.std() > 0  # adapts to ||g|| / ||x - v||
    for _, group in steps.groupby(["rule", "seed"]):
        assert len(group) == lr_theory.STEP_POINTS
        assert group["iteration"].is_monotonic_increasing


def _literal(rule, horizon, seed, noise, dimension):
    """Frank-Wolfe over the L1 ball written out by hand, on the study's problem and noise."""
    gen = torch.Generator().manual_seed(seed)
    q, b = lr_theory.make_problem(dimension, gen)
    x = torch.zeros(dimension, dtype=torch.float64)
    alpha = 1.0 / math.sqrt(horizon + 1)
    best = math.inf
    for t in range(horizon + 1):
        g = q @ x + b
        best = min(best, float(g @ x + g.abs().max()))  # true gap, exact LMO
        if t == horizon:
            break
        if t % lr_theory.NOISE_CHUNK == 0:
            chunk = torch.randn(lr_theory.NOISE_CHUNK, dimension, generator=gen,
                                dtype=torch.float64)
        g = g + noise / math.sqrt(dimension) * chunk[t % lr_theory.NOISE_CHUNK]
        i = int(g.abs().argmax())
        v = torch.zeros_like(x)
        v[i] = -torch.sign(g[i])
        eta = {"constant": alpha, "diameter": alpha / 2,
               "gradient": alpha * float(g.norm() / (x - v).norm())}[rule]
        eta = min(max(eta, 0.0), 1.0)
        x = (1 - eta) * x + eta * v
    return best


@pytest.mark.parametrize("rule", ["constant", "diameter", "gradient"])
def test_matches_a_literal_frank_wolfe_loop(noisy, rule):
    gaps = _gaps(noisy)
    for seed in (0, 1):
        for horizon in lr_theory.horizon_grid(2000, 4)[:3]:
            row = gaps[(gaps["rule"] == rule) & (gaps["seed"] == seed)
                       & (gaps["horizon"] == horizon)]
            expected = _literal(rule, horizon, seed, 0.1, SMALL["dimension"])
            assert row["best_gap"].item() == pytest.approx(expected, rel=1e-6, abs=1e-12)

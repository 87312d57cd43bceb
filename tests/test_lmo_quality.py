"""The spectral-LMO quality benchmark: its measure, the authors' cold power method, the CLI."""

from pathlib import Path

import pandas as pd
import pytest
import torch

from cafw.bench.lmo_quality import exact_value, power_lmo, quality, singular_values
from cafw.cli import main
from cafw.constraints import NuclearNormBall, SpectralKSparsePolytope, SpectralKSupportNormBall

ROOT = Path(__file__).resolve().parents[1]
FAMILIES = {"nuclear": (NuclearNormBall, {}),
            "spectral_k_support": (SpectralKSupportNormBall, {"k": 4}),
            "spectral_k_sparse": (SpectralKSparsePolytope, {"k": 4})}


def _with_spectrum(s: list[float], shape=(12, 5, 3, 3), seed=0) -> torch.Tensor:
    """A conv-shaped tensor whose (C_out, -1) reshape has singular values s."""
    g = torch.Generator().manual_seed(seed)
    m, n = shape[0], shape[1] * shape[2] * shape[3]
    u = torch.linalg.qr(torch.randn(m, len(s), generator=g)).Q
    v = torch.linalg.qr(torch.randn(n, len(s), generator=g)).Q
    return ((u * torch.tensor(s)) @ v.T).reshape(shape)


@pytest.mark.parametrize("family", FAMILIES)
def test_the_exact_lmo_has_quality_one_and_the_reference_is_the_dual_norm(family):
    cls, kwargs = FAMILIES[family]
    c = cls(radius=1.0, method="svd", **kwargs)
    d = torch.randn(12, 5, 3, 3, generator=torch.Generator().manual_seed(1))
    s = singular_values(d)
    assert torch.allclose(s.float(), torch.linalg.svdvals(d.reshape(12, -1)), rtol=1e-5)
    k = c.k_for(d.shape)
    assert exact_value(family, s, k) == pytest.approx(float(c.dual_norm(d)), rel=1e-5)
    assert quality(c.lmo(d), d, exact_value(family, s, k)) == pytest.approx(1.0, abs=1e-5)
    # a vertex built from the wrong subspace is measurably worse
    wrong = torch.zeros_like(d).reshape(12, -1)
    wrong[0, 0] = -1.0
    assert quality(wrong.reshape(d.shape), d, exact_value(family, s, k)) < 0.5


@pytest.mark.parametrize("family", ["nuclear", "spectral_k_support"])
def test_warm_subspace_quality_is_at_most_one_and_rises_to_one_with_iterations(family):
    cls, kwargs = FAMILIES[family]
    spectrum = [10.0, 9.0, 8.5, 8.0, 7.5, 7.0, 6.0, 5.0, 4.0, 3.0, 2.0, 1.0]
    d = _with_spectrum(spectrum)
    exact = exact_value(family, singular_values(d), cls(radius=1.0, **kwargs).k_for(d.shape))
    start = torch.linalg.qr(torch.randn(1, 45, 1 if family == "nuclear" else 4,
                                        generator=torch.Generator().manual_seed(2))).Q
    q = {}
    for iterations in (1, 2, 5, 100):
        c = cls(radius=1.0, iterations=iterations, **kwargs)
        state = {"basis": start.clone()}  # a poor warm start: a random subspace
        q[iterations] = quality(c.batched_lmo(d[None], torch.ones(1), state)[0], d, exact)
    assert all(value <= 1.0 + 1e-6 for value in q.values())
    assert q[1] < 0.99
    assert q[1] <= q[5] + 1e-9
    assert q[100] == pytest.approx(1.0, abs=1e-4)


@pytest.mark.parametrize("family", FAMILIES)
def test_the_authors_cold_power_method_finds_the_top_k_subspace(family):
    cls, kwargs = FAMILIES[family]
    c = cls(radius=2.0, method="svd", **kwargs)
    d = _with_spectrum([10.0, 5.0, 2.5, 1.2, 0.3, 0.1, 0.05])  # well separated
    radius = torch.full((1,), 2.0)
    v = power_lmo(c, d[None], radius, generator=torch.Generator().manual_seed(3))[0]
    assert torch.allclose(v, c.lmo(d), atol=1e-4)
    # its subspace is the SVD's: the projector onto v's row space is that of the top-k
    k = c.k_for(d.shape)
    top = torch.linalg.svd(d.reshape(12, -1), full_matrices=False).Vh[:k]
    rows = torch.linalg.svd(v.reshape(12, -1), full_matrices=False).Vh[:k]
    assert torch.allclose(rows.T @ rows, top.T @ top, atol=1e-4)


def test_one_iteration_of_the_power_method_is_not_exact():
    c = SpectralKSupportNormBall(radius=1.0, k=4, method="svd")
    d = _with_spectrum([10.0, 9.5, 9.0, 8.5, 8.0, 7.5, 7.0, 6.5, 6.0, 5.5, 5.0, 4.5])
    v = power_lmo(c, d[None], torch.ones(1), iterations=1,
                  generator=torch.Generator().manual_seed(4))[0]
    q = quality(v, d, exact_value("spectral_k_support", singular_values(d), 4))
    assert 0.5 < q < 0.999


def test_the_command_measures_digits_trajectories_and_writes_the_table(tmp_path, capsys,
                                                                       monkeypatch):
    monkeypatch.chdir(ROOT)  # the config's data_root
    out = tmp_path / "quality.csv"
    code = main(["bench", "lmo-quality", "--setups", "digits-cnn", "--steps", "3",
                 "--iterations", "1", "3", "--device", "cpu", "--pipeline-config",
                 str(ROOT / "config" / "config.yaml"), "--out", str(out)])
    assert code == 0
    table = pd.read_csv(out)
    expected = {"setup", "trajectory", "family", "method", "iterations", "start", "q_mean",
                "q_p5", "q_min", "samples", "time_vs_svd", "ms_per_step", "timed_steps",
                "lmo_iterations", "steps", "conv_layers", "batch_size", "model", "device"}
    assert expected <= set(table.columns)
    # two trajectories x two families x (svd, 2 warm, 1 cold)
    assert len(table) == 16
    assert set(table["trajectory"]) == {"sfw-nuclear", "sfw-spectral-k-support"}
    assert set(table["method"]) == {"svd", "subspace", "power"}
    assert (table["samples"] == 2 * 3).all()  # steps 1 and 2 (the first seeds), 3 conv layers
    exact = table[table["method"] == "svd"]
    assert exact["q_min"].min() == pytest.approx(1.0, abs=1e-5)
    assert (exact["time_vs_svd"] == 1.0).all()
    assert (table["q_min"] > 0).all() and (table["q_mean"] <= 1.0 + 1e-6).all()
    assert (table["q_p5"] <= table["q_mean"] + 1e-12).all()
    assert "subspace" in capsys.readouterr().out


def test_the_run_config_default_is_the_constraints_default():
    from cafw.conventions import LMO_ITERATIONS
    from cafw.spec import ConstraintSpec

    assert ConstraintSpec.model_fields["lmo_iterations"].default == LMO_ITERATIONS
    assert NuclearNormBall(radius=1.0).iterations == LMO_ITERATIONS
    assert SpectralKSupportNormBall(radius=1.0, k=2).iterations == LMO_ITERATIONS


def test_a_config_without_the_study_is_refused_in_one_line(tmp_path, capsys):
    code = main(["bench", "lmo-cost", "--pipeline-config", str(ROOT / "config" / "ci.yaml"),
                 "--out", str(tmp_path / "cost.csv")])
    assert code == 2 and "has no lmo_quality section" in capsys.readouterr().err
    code = main(["bench", "lmo-quality", "--setups", "nowhere", "--pipeline-config",
                 str(ROOT / "config" / "config.yaml"), "--out", str(tmp_path / "q.csv")])
    assert code == 2 and "not in lmo_quality.trajectories" in capsys.readouterr().err

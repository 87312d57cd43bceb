"""Figures: every chart draws a readable, byte-stable PDF and PNG from small fixed tables, with
its title, labels and legend inside the canvas at one panel and at several."""

from __future__ import annotations

import itertools

import matplotlib.image
import numpy as np
import pandas as pd
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg

from cafw.pipeline.figures import draw, figure

COMPRESSION = ["study", "kind", "setup", "dataset", "model", "method", "label", "schedule",
               "variant", "family", "rescale", "k", "value", "replicate", "seed", "run", "ratio",
               "test_accuracy", "test_top5", "test_loss", "dense_test_accuracy", "params_ratio",
               "flops_ratio", "params", "macs", "flops", "eval_seconds"]
HISTORY = ["epoch", "train_loss", "train_accuracy", "lr", "step_size", "fw_gap", "train_seconds",
           "images", "test_loss", "test_accuracy", "test_top5", "eval_seconds", "run", "setup",
           "dataset", "model", "method", "label", "schedule", "variant", "family", "rescale", "k",
           "value", "replicate", "seed"]
MANIFEST = ["study", "kind", "run", "setup", "dataset", "model", "method", "label", "schedule",
            "variant", "replicate", "seed", "family", "rescale", "k", "value"]
COMPUTE = ["setup", "dataset", "model", "method", "label", "batch_size", "step_ms", "step_ms_min",
           "steps_per_epoch", "epoch_s", "ratio_to_sgd", "device"]
LR_THEORY = ["rule", "seed", "horizon", "best_gap", "bound", "iteration", "step_size"]

# (chart, study, setup) of every figure drawn from the tables below
FIGURES = [("compression", "filter-pruning", "x"), ("lr_ablation", "lr-ablation", "x"),
           ("dynamics", "lr-ablation", "x"), ("lr_grid", "lr-ablation", "x"),
           ("sensitivity", "sensitivity", "x"), ("compute", None, None),
           ("lr_theory", None, None)]


def _run(study, method, seed, schedule="linear", rescale=None, k=None, value=None):
    """The manifest row of one run (replicate ``seed``, its evaluation seed ``2 seed + 1``):
    SGD when ``rescale`` is None, else SFW."""
    sfw = rescale is not None
    name = f"{method}-{schedule}-{rescale}-{k}-{value}-{seed}"
    return {"study": study, "kind": "filter", "run": name, "setup": "x", "dataset": "digits",
            "model": "cnn_small", "method": method, "label": "SFW" if sfw else "SGD",
            "schedule": schedule, "variant": rescale or "", "replicate": seed,
            "seed": 2 * seed + 1,
            "family": "group_k_support" if sfw else None, "rescale": rescale,
            "k": k if sfw else None, "value": value if sfw else None}


def _manifest(schedules: list[str]) -> pd.DataFrame:
    """The runs of a comparison, a learning-rate ablation over ``schedules`` (one panel each)
    and a sensitivity study."""
    runs = [_run("filter-pruning", m, seed, rescale=r) for (m, r), seed in
            itertools.product([("sgd", None), ("sfw", "gradient")], [0, 1])]
    runs += [_run("lr-ablation", "sgd", seed, schedule) for schedule in schedules
             for seed in [0, 1]]
    runs += [_run("lr-ablation", "sfw", seed, schedule, rescale) for schedule, rescale, seed in
             itertools.product(schedules, ["none", "gradient"], [0, 1])]
    runs += [_run("sensitivity", "sfw", seed, rescale="gradient", k=k, value=v)
             for k, v, seed in itertools.product([0.1, 0.3], [5.0, 10.0], [0, 1])]
    return pd.DataFrame(runs)[MANIFEST]


def _accuracy(run: dict, ratio: float) -> float:
    drop = {"gradient": 0.2, "none": 0.5}.get(run["rescale"], 0.8)
    return 0.95 - ratio * drop - 0.01 * run["replicate"] - 0.1 * np.nan_to_num(run["k"])


def _compression(manifest: pd.DataFrame) -> pd.DataFrame:
    rows = [{**run, "ratio": ratio, "test_accuracy": _accuracy(run, ratio),
             "test_top5": 1.0, "test_loss": 1 - _accuracy(run, ratio),
             "dense_test_accuracy": _accuracy(run, 0.0), "params_ratio": 1 - ratio,
             "flops_ratio": 1 - ratio, "params": 1000, "macs": 500, "flops": 1000,
             "eval_seconds": 0.1}
            for run in manifest.to_dict("records") for ratio in [0.0, 0.45, 0.9]]
    return pd.DataFrame(rows)[COMPRESSION]


def _history(manifest: pd.DataFrame) -> pd.DataFrame:
    rows = []
    for run in manifest[manifest["study"] == "lr-ablation"].to_dict("records"):
        sfw = isinstance(run["rescale"], str)
        scale = (3.0 if run["rescale"] == "gradient" else 1.0) + (run["schedule"] == "linear")
        for epoch in range(1, 4):
            rows.append({**run, "epoch": epoch, "train_loss": 1 / epoch, "train_accuracy": 0.9,
                         "lr": 0.1, "step_size": 0.1 * scale / epoch if sfw else None,
                         "fw_gap": scale / epoch ** (1 + run["replicate"]) if sfw else None,
                         "train_seconds": 1.0, "images": 100, "test_loss": 1 / epoch,
                         "test_accuracy": 0.9, "test_top5": 1.0, "eval_seconds": 0.1})
    return pd.DataFrame(rows)[HISTORY]


def _compute() -> pd.DataFrame:
    rows = [{"setup": setup, "dataset": "digits", "model": "cnn_small", "method": method,
             "label": label, "batch_size": 64, "step_ms": ms * scale, "step_ms_min": ms * scale,
             "steps_per_epoch": 20, "epoch_s": ms * scale * 0.02, "ratio_to_sgd": ms / 2.0,
             "device": "cpu"}
            for setup, scale in [("a", 1.0), ("b", 3.0)]
            for method, label, ms in [("sgd", "SGD", 2.0), ("prox-sgd", "ProxSGD", 9.0),
                                      ("sfw", "SFW spectral-k-support", 4.0)]]
    return pd.DataFrame(rows)[COMPUTE]


def _lr_theory() -> pd.DataFrame:
    gaps = [{"rule": rule, "seed": seed, "horizon": horizon,
             "best_gap": scale * (1 + 0.1 * seed) / np.sqrt(horizon), "bound": 5 / np.sqrt(horizon)}
            for rule, scale in [("constant", 2.0), ("gradient", 1.0)]
            for seed in [0, 1] for horizon in [100, 1000]]
    steps = [{"rule": rule, "seed": seed, "iteration": t, "step_size": scale / np.sqrt(t)}
             for rule, scale in [("constant", 0.1), ("gradient", 0.3)]
             for seed in [0, 1] for t in [1, 10, 100, 1000]]
    return pd.DataFrame(gaps + steps).reindex(columns=LR_THEORY)


def _tuning(compression: pd.DataFrame) -> pd.DataFrame:
    """The ablation's learning-rate grid in two replicates: each curve at three learning
    rates, the middle one chosen in replicate 0, the first in replicate 1."""
    curves = compression[compression["study"] == "lr-ablation"]
    grid = curves.groupby(["method", "rescale", "schedule"], dropna=False,
                          as_index=False).first()
    rows = []
    for replicate, (lr, factor) in itertools.product([0, 1], [(0.3, 0.9), (1.0, 1.0),
                                                               (3.0, 0.8)]):
        rows.append(grid.assign(
            curve=grid["method"] + grid["rescale"].fillna("") + grid["schedule"],
            replicate=replicate, point=f'{{"lr": {lr}}}', lr=lr, seeds=1,
            selected=lr == (1.0 if replicate == 0 else 0.3), score=0.8 * factor,
            test_area=0.7 * factor, flags="", pooled_flags=""))
    return pd.concat(rows, ignore_index=True)


def _write_tables(root, schedules: list[str]) -> list:
    manifest = _manifest(schedules)
    compression = _compression(manifest)
    for name, table in {"manifest": manifest, "compression": compression,
                        "history": _history(manifest), "tuning": _tuning(compression),
                        "compute": _compute(), "lr_theory": _lr_theory()}.items():
        table.to_csv(root / f"{name}.csv", index=False)
    return sorted(root.iterdir())


@pytest.fixture(scope="module")
def tables(tmp_path_factory):
    return _write_tables(tmp_path_factory.mktemp("tables"), ["linear", "constant"])


@pytest.fixture(scope="module")
def one_schedule(tmp_path_factory):
    """The tables with a single schedule in the ablation: its figure has one panel."""
    return _write_tables(tmp_path_factory.mktemp("one_schedule"), ["linear"])


@pytest.mark.parametrize("chart, study, setup", FIGURES)
def test_draws_pdf_and_png_deterministically(tables, tmp_path, chart, study, setup):
    out = tmp_path / f"{chart}.pdf"
    draw(chart, tables, out, study=study, setup=setup)
    first = out.read_bytes()
    assert first.startswith(b"%PDF")
    rgb = matplotlib.image.imread(out.with_suffix(".png"))[..., :3]
    assert rgb.shape[0] > 300 and rgb.shape[1] > 500
    coloured = (rgb.max(axis=-1) - rgb.min(axis=-1) > 0.2).mean()
    assert 0.003 < coloured < 0.9  # data drawn in colour on white and grey: not blank or one colour
    draw(chart, tables, out, study=study, setup=setup)
    assert out.read_bytes() == first
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"{chart}.pdf", f"{chart}.png"]


@pytest.mark.parametrize("chart, study, setup, message", [
    ("compression", "nope", "x",
     r"no study 'nope'; studies: filter-pruning, lr-ablation, sensitivity"),
    ("compression", "filter-pruning", "y",
     r"study 'filter-pruning' and setup 'y'; setups of that study: x"),
    ("dynamics", "nope", "x", r"manifest.csv has no study 'nope'"),
    ("dynamics", "sensitivity", "x", r"no SFW epochs .* study 'sensitivity' and setup 'x'"),
    ("sensitivity", None, None, r"'sensitivity' needs a study and a setup"),
    ("histogram", None, None, r"unknown chart 'histogram'"),
])
def test_missing_data_is_an_error(tables, tmp_path, chart, study, setup, message):
    out = tmp_path / "figure.pdf"
    with pytest.raises(ValueError, match=message):
        draw(chart, tables, out, study=study, setup=setup)
    assert not any(tmp_path.iterdir())


def test_a_table_the_figure_needs_must_be_passed(tables, tmp_path):
    with pytest.raises(ValueError, match="reads compute.csv; pass it with --tables"):
        draw("compute", [t for t in tables if t.name != "compute.csv"], tmp_path / "c.pdf")


def test_cli(tables, tmp_path):
    from cafw.cli import main

    out = tmp_path / "figures" / "filter-pruning__x.pdf"
    assert main(["figure", "compression", "--tables", *map(str, tables), "--study",
                 "filter-pruning",
                 "--setup", "x", "--out", str(out)]) == 0
    assert out.exists() and out.with_suffix(".png").exists()


@pytest.mark.parametrize("panels", ["one", "several"])
@pytest.mark.parametrize("chart, study, setup", FIGURES)
def test_everything_drawn_lies_inside_the_canvas(tables, one_schedule, chart, study, setup,
                                                 panels):
    """Title, labels and legends: nothing is clipped at the figure's edges."""
    with matplotlib.rc_context():
        fig = figure(chart, one_schedule if panels == "one" else tables, study, setup)
        canvas = FigureCanvasAgg(fig)
        canvas.draw()  # the constrained layout is made when drawing
        drawn = fig.get_tightbbox(canvas.get_renderer())
    width, height = fig.get_size_inches()
    assert (drawn.x0 >= 0 and drawn.y0 >= 0 and drawn.x1 <= width and drawn.y1 <= height), \
        f"{chart}: drawn over {drawn.bounds}, the canvas is {width:.2f} x {height:.2f} inches"

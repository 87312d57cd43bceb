"""Figures from the aggregated tables (results/tables/*.csv): one drawing function per chart,
the type of a figure (``cafw.vocabulary.CHARTS``), registered in ``DRAWERS`` by ``@drawer``.

Every chart returns a matplotlib ``Figure`` whose title, labels and legends lie inside its
canvas at any number of panels (constrained layout; the title wrapped to the figure's width);
``draw`` styles it, then writes the PDF and a PNG beside it, each atomically and byte-stable
across reruns.  Figures are built as ``Figure`` objects rather than through pyplot, so no
interactive backend is ever involved (the Agg canvas renders the PNG and measures the text).
"""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import matplotlib
import matplotlib.patches
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import LogFormatter, MaxNLocator

from ..io import atomic_open
from ..registry import Registry
from ..vocabulary import CHARTS, KINDS, LR_THEORY_RULES, RESCALES, SCHEDULES, ChartEntry

PANEL = (4.2, 3.2)  # inches per panel
PNG_DPI = 150


@dataclass(frozen=True)
class Chart:
    """A type of figure: what it is drawn from, and the function that draws it."""

    #: the tables it reads, and whether it is drawn per study and setup
    needs: ChartEntry
    #: (each table of ``needs.tables``, read, in order[, study, setup]) -> the figure
    draw: Callable[..., Figure]

    def figure(self, tables: dict[str, Path], study: str | None, setup: str | None
               ) -> Figure:
        frames = [_read(tables, name) for name in self.needs.tables]
        return self.draw(*frames, study, setup) if self.needs.per_study else self.draw(*frames)


#: chart name -> its Chart
DRAWERS: Registry[Chart] = Registry("chart")


def drawer(name: str) -> Callable[[Callable[..., Figure]], Callable[..., Figure]]:
    """Register the decorated function as the drawer of chart ``name``."""
    def register(draw: Callable[..., Figure]) -> Callable[..., Figure]:
        DRAWERS.add(name, Chart(CHARTS[name], draw))
        return draw
    return register


def draw(chart: str, tables: list[Path], out: Path, study: str | None = None,
         setup: str | None = None) -> None:
    """Draw a figure of ``chart`` from the aggregated ``tables`` (CSV files, found by file name)
    into ``out`` (PDF) and its PNG."""
    out = Path(out)
    with matplotlib.rc_context():
        fig = figure(chart, tables, study, setup)
        with atomic_open(out, "wb") as handle:
            fig.savefig(handle, format="pdf", metadata={"CreationDate": None})
        with atomic_open(out.with_suffix(".png"), "wb") as handle:
            fig.savefig(handle, format="png", dpi=PNG_DPI, metadata={"Software": None})


def figure(chart: str, tables: list[Path], study: str | None = None,
           setup: str | None = None) -> Figure:
    """A figure of ``chart``, styled, from the aggregated ``tables``; call it inside
    ``matplotlib.rc_context()``, as ``draw`` does, to keep the style to it."""
    if chart not in DRAWERS:
        raise ValueError(f"unknown chart {chart!r}; charts: {', '.join(DRAWERS)}")
    found = DRAWERS[chart]
    if found.needs.per_study and (study is None or setup is None):
        raise ValueError(f"chart {chart!r} needs a study and a setup (--study, --setup)")
    sns.set_theme(context="paper", style="whitegrid")
    return found.figure({Path(t).name: Path(t) for t in tables}, study, setup)


# -- one function per chart -------------------------------------------------------------------

@drawer("compression")
def compression(compressed: pd.DataFrame, study: str, setup: str) -> Figure:
    """Test accuracy against compression ratio, one line per method, ±1 sd over the runs."""
    rows = _select(compressed, "compression.csv", study, setup)
    fig, (ax,) = _panels(1, width=1.6)  # room for the legend beside the axes
    sns.lineplot(rows, x="ratio", y="test_accuracy", hue="label", errorbar="sd", marker="o",
                 ax=ax)
    _accuracy_axes(ax, rows)
    _legend_outside(ax, "method")
    _suptitle(fig, _title(study, rows))
    return fig


@drawer("lr_ablation")
def lr_ablation(compressed: pd.DataFrame, study: str, setup: str) -> Figure:
    """One panel per schedule: accuracy under compression per rescaling mode (and SGD)."""
    rows = _select(compressed, "compression.csv", study, setup)
    rows = rows.assign(rescaling=rows["rescale"].fillna(rows["label"]))
    schedules = _order(rows["schedule"], SCHEDULES)
    modes = _order(rows["rescaling"], RESCALES)
    fig, axes = _panels(len(schedules), sharey=True)
    for ax, schedule in zip(axes, schedules):
        sns.lineplot(rows[rows["schedule"] == schedule], x="ratio", y="test_accuracy",
                     hue="rescaling", hue_order=modes, errorbar="sd", marker="o", ax=ax,
                     legend=ax is axes[-1])
        _accuracy_axes(ax, rows)
        ax.set_title(f"{schedule} schedule")
    _legend_outside(axes[-1], "rescaling")
    _suptitle(fig, _title(f"{study}: learning-rate rescaling", rows))
    return fig


@drawer("dynamics")
def dynamics(history: pd.DataFrame, manifest: pd.DataFrame, study: str, setup: str) -> Figure:
    """SFW's effective step size and Frank-Wolfe gap per epoch, mean over the runs."""
    runs = _select(manifest, "manifest.csv", study, setup)["run"]
    rows = history[history["run"].isin(runs)].dropna(subset=["step_size", "fw_gap"])
    if rows.empty:
        raise ValueError(f"history.csv has no SFW epochs (step size and Frank-Wolfe gap) for "
                         f"the {runs.nunique()} runs of study {study!r} and setup {setup!r}")
    modes = _order(rows["rescale"], RESCALES)
    schedules = _order(rows["schedule"], SCHEDULES)
    fig, axes = _panels(2)
    for ax, column, label in zip(axes, ["step_size", "fw_gap"],
                                 ["effective step size $\\eta$", "Frank-Wolfe gap"]):
        sns.lineplot(rows, x="epoch", y=column, hue="rescale", hue_order=modes, style="schedule",
                     style_order=schedules, errorbar=None, ax=ax, legend=ax is axes[-1])
        ax.set(xlabel="epoch", ylabel=label, title=label)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        _log(ax)
    _legend_outside(axes[-1])
    _suptitle(fig, _title(f"{study}: SFW dynamics", rows))
    return fig


@drawer("sensitivity")
def sensitivity(compressed: pd.DataFrame, study: str, setup: str) -> Figure:
    """Heatmaps over (k, value): dense accuracy and accuracy at the ratio closest to 0.5."""
    rows = _select(compressed, "compression.csv", study, setup)
    ratio = min(rows["ratio"].unique(), key=lambda r: abs(r - 0.5))
    compressed = f"{_kind(rows)} compression, ratio {ratio:g} (closest to 0.5)"
    grids = {"dense (uncompressed)": _grid(rows.drop_duplicates("run"), "dense_test_accuracy"),
             compressed: _grid(rows[rows["ratio"] == ratio], "test_accuracy")}
    low = min(g.min().min() for g in grids.values())
    high = max(g.max().max() for g in grids.values())
    fig, axes = _panels(2)
    for ax, (name, grid) in zip(axes, grids.items()):
        sns.heatmap(grid, annot=True, fmt=".2f", vmin=low, vmax=high, cmap="viridis",
                    cbar_kws={"label": "test accuracy"}, ax=ax)
        ax.set(title=name, xlabel="constraint value", ylabel="k")
    _suptitle(fig, _title(f"{study}: test accuracy over k and constraint value", rows))
    return fig


@drawer("lr_grid")
def lr_grid(tuning: pd.DataFrame, study: str, setup: str) -> Figure:
    """The learning-rate grid of an ablation: per rescaling rule and learning rate, the
    validation score tuning chose by and the test accuracy averaged over the study's ratios,
    each the mean over the replicates' tuning runs; a cell says how many replicates chose it,
    and the rule's best point by the mean score is framed."""
    rows = _select(tuning, "tuning.csv", study, setup)
    if "lr" not in rows.columns or rows["lr"].isna().all():
        raise ValueError(f"tuning.csv has no learning-rate grid for study {study!r} and setup "
                         f"{setup!r}")
    rows = rows.assign(rescale=rows["rescale"].fillna(rows["label"]),
                       chosen=rows["selected"].astype(str) == "True")
    modes = _order(rows["rescale"], RESCALES)
    replicates = rows["replicate"].nunique()
    chosen = rows.pivot_table(index="rescale", columns="lr", values="chosen",
                              aggfunc="sum").reindex(modes)
    panels = {"validation score (tuning chooses by it)": "score",
              f"test accuracy averaged over the {_kind(rows)} ratios": "test_area"}
    # each rule has its own grid, so the columns are their union: widen with their number
    fig, axes = _panels(2, width=max(1.0, rows["lr"].nunique() / 6))
    for ax, (title, column) in zip(axes, panels.items()):
        grid = rows.pivot_table(index="rescale", columns="lr", values=column,
                                aggfunc="mean").reindex(modes)
        text = grid.map(lambda v: "" if pd.isna(v) else f"{v:.2f}") + chosen.map(
            lambda n: f"\n{n:.0f}/{replicates}" if n and not pd.isna(n) else "")
        sns.heatmap(grid.rename(columns="{:g}".format), annot=text.to_numpy(), fmt="",
                    vmin=0, vmax=1, cmap="viridis", cbar_kws={"label": "accuracy"},
                    annot_kws={"fontsize": "x-small"}, ax=ax)
        score = rows.pivot_table(index="rescale", columns="lr", values="score",
                                 aggfunc="mean").reindex(modes)
        for row, mode in enumerate(modes):
            ax.add_patch(matplotlib.patches.Rectangle(
                (int(np.nanargmax(score.loc[mode].to_numpy())), row), 1, 1, fill=False,
                edgecolor="red", linewidth=2))
        ax.set(title=title, xlabel="learning rate", ylabel="rescaling")
    _suptitle(fig, f"{study}: learning rate x rescaling — {_title_where(rows)} ({replicates} "
                   f"replicate{'s' if replicates != 1 else ''}; n/{replicates}: replicates that "
                   "chose a cell; framed: the best mean validation score)")
    return fig


@drawer("compute")
def compute(rows: pd.DataFrame) -> Figure:
    """Milliseconds per training step per method and setup, with the ratio to the baseline
    (the method at ratio 1: the config's ``baseline``)."""
    methods = _order(rows["label"], [])
    setups = _order(rows["setup"], [])
    fig, (ax,) = _panels(1, width=max(1.6, len(methods) * len(setups) / 3))
    sns.barplot(rows, x="label", y="step_ms", hue="setup", order=methods, hue_order=setups,
                errorbar=None, ax=ax)
    _log(ax)
    for container, setup in zip(ax.containers, setups):
        ratios = rows[rows["setup"] == setup].set_index("label")["ratio_to_sgd"]
        ax.bar_label(container, labels=[f"x{ratios[m]:.1f}" for m in methods if m in ratios],
                     padding=2, fontsize="small")
    ax.margins(y=0.15)
    ax.set_xticks(ax.get_xticks(), ax.get_xticklabels(), rotation=20, ha="right")
    ax.set(xlabel="", ylabel="time per training step (ms)")
    _legend_outside(ax, "setup")
    baseline = ", ".join(_order(rows.loc[rows["ratio_to_sgd"] == 1, "label"], []))
    ax.set_title(f"bar labels: time relative to {baseline}", fontsize="small")
    _suptitle(fig, f"time per training step — {', '.join(_order(rows['device'], []))}")
    return fig


@drawer("lr_theory")
def lr_theory(table: pd.DataFrame) -> Figure:
    """Best Frank-Wolfe gap against horizon per step-size rule; the rules' step sizes."""
    gaps, steps = table.dropna(subset=["horizon"]), table.dropna(subset=["iteration"])
    if gaps.empty or steps.empty:
        raise ValueError(f"lr_theory.csv needs rows with horizon ({len(gaps)} found) and rows "
                         f"with iteration ({len(steps)} found)")
    rules = _order(table["rule"], list(LR_THEORY_RULES))
    fig, (left, right) = _panels(2)
    sns.lineplot(gaps, x="horizon", y="best_gap", hue="rule", hue_order=rules, errorbar="sd",
                 marker="o", ax=left)
    bound = gaps.groupby("horizon")["bound"].mean()
    left.plot(bound.index, bound.to_numpy(), "k--", label="classical bound")
    # the slope -1/2 reference starts at the first point of the first rule (constant if present)
    anchor = gaps[gaps["rule"] == rules[0]].groupby("horizon")["best_gap"].mean()
    horizons = np.asarray(bound.index, dtype=float)
    left.plot(horizons, anchor.iloc[0] * np.sqrt(anchor.index[0] / horizons), "k:",
              label="O(1/sqrt(T))")
    left.set(xlabel="horizon T (iterations)", ylabel="best Frank-Wolfe gap within T",
             title="convergence")
    fig.legend(*left.get_legend_handles_labels(), loc="outside right upper", frameon=False,
               title="step-size rule")
    left.get_legend().remove()
    sns.lineplot(steps, x="iteration", y="step_size", hue="rule", hue_order=rules,
                 errorbar=None, ax=right, legend=False)
    right.set(xlabel="iteration t", ylabel="effective step size $\\eta_t$", title="step sizes")
    _log(left, "xy")
    _log(right, "xy")
    _suptitle(fig, f"step-size rules on a smooth problem ({gaps['seed'].nunique()} seeds)")
    return fig


# -- shared helpers ---------------------------------------------------------------------------

def _read(tables: dict[str, Path], name: str) -> pd.DataFrame:
    if name not in tables:
        raise ValueError(f"this figure reads {name}; pass it with --tables")
    frame = pd.read_csv(tables[name])
    if frame.empty:
        raise ValueError(f"{tables[name]} has no rows")
    return frame


def _select(frame: pd.DataFrame, name: str, study: str, setup: str) -> pd.DataFrame:
    """The rows of one study and setup, or a ValueError saying what is there instead."""
    studies = _order(frame["study"], [])
    if study not in studies:
        raise ValueError(f"{name} has no study {study!r}; studies: {', '.join(studies)}")
    of_study = frame[frame["study"] == study]
    rows = of_study[of_study["setup"] == setup]
    if rows.empty:
        raise ValueError(f"{name} has no rows for study {study!r} and setup {setup!r}; "
                         f"setups of that study: {', '.join(_order(of_study['setup'], []))}")
    return rows


def _order(values: pd.Series, preferred: list[str]) -> list:
    """The distinct values, those in ``preferred`` first in its order, then by appearance."""
    present = list(dict.fromkeys(values.dropna()))
    return [v for v in preferred if v in present] + [v for v in present if v not in preferred]


def _panels(n: int, sharey: bool = False, width: float = 1.0) -> tuple[Figure, list]:
    fig = Figure(figsize=(PANEL[0] * n * width, PANEL[1]), layout="constrained")
    FigureCanvasAgg(fig)  # measures the text (``_suptitle``) as the PNG renders it
    return fig, list(fig.subplots(1, n, sharey=sharey, squeeze=False)[0])


def _suptitle(fig: Figure, text: str) -> None:
    """The title over all panels, wrapped onto as many lines as the figure's width needs: a
    long study or setup name on a single panel would otherwise run past both edges."""
    title = fig.suptitle(text)
    width = title.get_window_extent(fig.canvas.get_renderer()).width
    room = 0.96 * fig.bbox.width
    if width > room:
        title.set_text(textwrap.fill(text, int(len(text) * room / width)))


def _kind(rows: pd.DataFrame) -> str:
    return "/".join(_order(rows["kind"], []))


def _title(head: str, rows: pd.DataFrame) -> str:
    return f"{head} — {_title_where(rows)} ({_runs(rows)})"


def _runs(rows: pd.DataFrame) -> str:
    """'8 replicates', or '4 replicates x 2 seeds' with several evaluation seeds each."""
    replicates, seeds = rows["replicate"].nunique(), rows["seed"].nunique()
    text = f"{replicates} replicate{'s' if replicates != 1 else ''}"
    return text if seeds == replicates else f"{text} x {seeds // replicates} seeds"


def _title_where(rows: pd.DataFrame) -> str:
    return ", ".join(f"{d} / {m}" for d, m in
                     rows[["dataset", "model"]].drop_duplicates().itertuples(index=False))


def _accuracy_axes(ax, rows: pd.DataFrame) -> None:
    kind = _kind(rows)
    xlabel = KINDS[kind].ratio if kind in KINDS else "compression ratio"
    ax.set(xlabel=xlabel, ylabel="test accuracy", ylim=(0, 1.02))


def _log(ax, which: str = "y") -> None:
    """Log scale on the axes ``which`` ("x", "y", "xy") with plainly written ticks."""
    for name in which:
        getattr(ax, f"set_{name}scale")("log")
        axis = getattr(ax, f"{name}axis")
        axis.set_major_formatter(_PlainLogFormatter())
        axis.set_minor_formatter(_PlainLogFormatter(labelOnlyBase=False))


class _PlainLogFormatter(LogFormatter):
    """Labels the ticks LogFormatter would label, as plain numbers (0.03, 20, 1e-05)."""

    def _num_to_string(self, x, vmin, vmax):
        return f"{x:g}"


def _legend_outside(ax, title: str | None = None) -> None:
    sns.move_legend(ax, "upper left", bbox_to_anchor=(1.02, 1), frameon=False, title=title)


def _grid(rows: pd.DataFrame, column: str) -> pd.DataFrame:
    """Mean of ``column`` over seeds, rows k and columns value, labelled compactly."""
    grid = rows.pivot_table(index="k", columns="value", values=column, aggfunc="mean")
    return grid.rename(index="{:g}".format, columns="{:g}".format)

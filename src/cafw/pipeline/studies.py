"""What each study of a config is, decided once from its ``chart`` key (default compression,
one of ``cafw.vocabulary.STUDY_CHARTS``), for the workflow, the figures and the paper alike.

A study's chart says how it is drawn per setup (``figures/<study>__<setup>.pdf``), which
section of the paper reports it, and which charts are drawn beside it per setup: a
learning-rate ablation (``chart: lr_ablation``) also gets its SFW dynamics
(``figures/dynamics__<study>__<setup>.pdf``) and, where a variant tunes its learning rate, its
learning-rate grid (``figures/lr-grid__<study>__<setup>.pdf``).  The paper learns the
classification from the studies table (``results/tables/studies.csv``, written from the
config), never from what the results happen to vary.

    for figure in figures(config): ...     # FigureFile(chart, study, setup, stem)
    rows = table(config)                   # the studies table

Torch-free, like the grid: Snakemake evaluates it while planning.
"""

from __future__ import annotations

from typing import NamedTuple

from ..vocabulary import CHARTS


class FigureFile(NamedTuple):
    """A figure file, ``figures/<stem>.pdf``, and what ``cafw figure`` draws it from."""

    chart: str  # cafw.vocabulary.CHARTS
    study: str | None  # None: a figure across studies
    setup: str | None
    stem: str


#: the figures across studies
GLOBAL_FIGURES = tuple(FigureFile(name, None, None, chart.stem)
                       for name, chart in CHARTS.items() if not chart.per_study)


def study_chart(definition: dict) -> str:
    """The chart a study's ``definition`` (its entry in the config's ``studies``) names, its
    one classification."""
    return definition.get("chart", "compression")


def study_setups(config: dict, study: str) -> list[str]:
    chosen = config["studies"][study].get("setups", "all")
    return list(config["setups"]) if chosen == "all" else list(chosen)


def study_figures(config: dict, study: str) -> list[FigureFile]:
    """The figures of one study, per setup: its own chart's, and those of the charts drawn
    beside it."""
    definition = config["studies"][study]
    chart = study_chart(definition)
    tuned = any("tune" in variant for variant in definition.get("variants", []))
    beside = [name for name in CHARTS[chart].beside if tuned or not CHARTS[name].tuned_only]
    out = []
    for setup in study_setups(config, study):
        out.append(FigureFile(chart, study, setup, f"{study}__{setup}"))
        out += [FigureFile(name, study, setup, f"{CHARTS[name].stem}__{study}__{setup}")
                for name in beside]
    return out


def figures(config: dict) -> list[FigureFile]:
    """Every figure of the config: each study's, then those across studies."""
    return [*(f for study in config["studies"] for f in study_figures(config, study)),
            *GLOBAL_FIGURES]


def table(config: dict) -> list[dict]:
    """The studies table: per study its compression kind, its chart (which also says the
    paper's section type that reports it: ``CHARTS``) and the baseline its comparison sets the
    other methods against."""
    return [{"study": study, "kind": definition["kind"], "chart": study_chart(definition),
             "baseline": config["baseline"]} for study, definition in config["studies"].items()]

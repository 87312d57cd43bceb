"""What each study of a config is, decided once from its ``figure`` key (default compression,
one of ``cafw.vocabulary.STUDY_FIGURES``), for the workflow, the figures and the paper alike.

A study's figure says how it is drawn per setup (``figures/<study>__<setup>.pdf``) and which
section of the paper reports it.  A learning-rate ablation (``figure: lr_ablation``) also gets,
per setup, its SFW dynamics (``figures/dynamics__<study>__<setup>.pdf``) and, where a variant
tunes its learning rate, its learning-rate grid (``figures/lr-grid__<study>__<setup>.pdf``).
The paper learns the classification from the studies table (``results/tables/studies.csv``,
written from the config), never from what the results happen to vary.

    for figure in figures(config): ...     # FigureFile(kind, study, setup, stem)
    rows = table(config)                   # the studies table

Torch-free, like the grid: Snakemake evaluates it while planning.
"""

from __future__ import annotations

from typing import NamedTuple


class FigureFile(NamedTuple):
    """A figure file, ``figures/<stem>.pdf``, and what ``cafw figure`` draws it from."""

    kind: str  # cafw.vocabulary.FIGURES
    study: str | None  # None: a figure across studies
    setup: str | None
    stem: str


#: the figures across studies
GLOBAL_FIGURES = (FigureFile("compute", None, None, "compute"),
                  FigureFile("lr_theory", None, None, "lr-theory"))


def study_figure(spec: dict) -> str:
    """The figure a study's ``spec`` names, its one classification."""
    return spec.get("figure", "compression")


def study_setups(config: dict, study: str) -> list[str]:
    chosen = config["studies"][study].get("setups", "all")
    return list(config["setups"]) if chosen == "all" else list(chosen)


def study_figures(config: dict, study: str) -> list[FigureFile]:
    """The figures of one study, per setup: its own, and a learning-rate ablation's dynamics
    and learning-rate grid."""
    spec = config["studies"][study]
    kind = study_figure(spec)
    out = []
    for setup in study_setups(config, study):
        out.append(FigureFile(kind, study, setup, f"{study}__{setup}"))
        if kind == "lr_ablation":
            out.append(FigureFile("dynamics", study, setup, f"dynamics__{study}__{setup}"))
            if any("tune" in variant for variant in spec.get("variants", [])):
                out.append(FigureFile("lr_grid", study, setup, f"lr-grid__{study}__{setup}"))
    return out


def figures(config: dict) -> list[FigureFile]:
    """Every figure of the config: each study's, then those across studies."""
    return [*(f for study in config["studies"] for f in study_figures(config, study)),
            *GLOBAL_FIGURES]


def table(config: dict) -> list[dict]:
    """The studies table: per study its compression kind, its figure (which also says the
    paper's section type that reports it: ``STUDY_FIGURES``) and the baseline its comparison
    sets the other methods against."""
    return [{"study": study, "kind": spec["kind"], "figure": study_figure(spec),
             "baseline": config["baseline"]} for study, spec in config["studies"].items()]

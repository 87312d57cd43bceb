"""The README's results section, rendered from the paper's facts (facts.json) of one or more
configs, side by side, so that the README quotes the same numbers as each config's paper, and
only numbers the pipeline computed; with each config's checks of its verdicts where it has them
(stability.csv and rounding.csv, from ``cafw stability`` and ``cafw stability --rounding``).

    update([Path("."), Path("outputs/mnist")], readme)   # each a config's output_dir
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
from jinja2 import Environment, PackageLoader, StrictUndefined

from ...io import write_section
from ...vocabulary import DATASET_NAMES, KIND_NAMES, MEASURE_NAMES, MODEL_NAMES
from ..stability import ROUNDING, STABILITY

START = "<!-- results:start -->"
END = "<!-- results:end -->"
FACTS = "paper/generated/facts.json"  # under a config's output_dir


def _effect(measure: str, x: float | None) -> str:
    """An effect in its measure's units: accuracy in percentage points, a ratio of times."""
    if x is None or x != x:
        return "–"
    if measure == "step_ratio":
        return f"{x:.2f}×"
    if measure == "train_loss":
        return f"{'+' if x >= 0 else '−'}{abs(x):.3g}"
    return f"{'+' if x >= 0 else '−'}{abs(100 * x):.1f}"


ENV = Environment(loader=PackageLoader("cafw.pipeline.paper"), undefined=StrictUndefined,
                  trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True)
ENV.filters.update(
    pct=lambda s: "–" if s is None else f"{100 * s['mean']:.1f}" + (
        f" ± {100 * s['std']:.1f}" if s["std"] is not None else ""),
    pp=lambda x: f"{'+' if x >= 0 else '−'}{abs(100 * x):.1f}",
    num=lambda x: "–" if x is None else f"{x:g}",
    effect=lambda x, measure: _effect(measure, x))
ENV.globals.update(dataset_names=DATASET_NAMES, model_names=MODEL_NAMES,
                   kind_names=KIND_NAMES, measure_names=MEASURE_NAMES)


def render(configs: list[dict]) -> str:
    """``configs``: per config its ``dir``, ``facts`` and, where it has them, its ``stability``
    and ``rounding`` rows."""
    return ENV.get_template("readme.md.j2").render(configs=configs, claims=_claim_rows(configs))


def update(outputs: list[Path], readme: Path) -> None:
    write_section(readme, "results", START, END, render([_config(Path(out)) for out in outputs]))


def _config(out: Path) -> dict:
    facts = out / FACTS
    if not facts.is_file():
        raise ValueError(f"{facts} does not exist: run that config's pipeline first "
                         "(snakemake --configfile ...)")
    checks = {name: pd.read_csv(out / table).to_dict("records")
              for name, table in (("stability", STABILITY), ("rounding", ROUNDING))
              if (out / table).is_file()}
    facts = json.loads(facts.read_text())
    datasets = dict.fromkeys(DATASET_NAMES[s["dataset"]] for s in facts["setups"])
    return {"dir": str(out), "where": ", ".join(datasets), "facts": facts, **checks}


def _claim_rows(configs: list[dict]) -> list[dict]:
    """The claims of every config aligned by (claim, pair, measure): a row per claim (its
    verdicts) and per measure, with each config's entries, one per setup the claim is checked
    on."""
    rows: dict[tuple, dict] = {}

    def row(claim: dict, measure: str | None, pair: str = "") -> dict:
        return rows.setdefault((claim["claim"], pair, measure), {
            "claim": claim["claim"], "statement": claim["statement"], "measure": measure,
            "cells": [[] for _ in configs]})

    for i, config in enumerate(configs):
        for section in config["facts"]["sections"]:
            for claim in section["claims"] if section["type"] == "claims" else []:
                row(claim, None)["cells"][i].append(claim)
                for m in claim["measures"]:
                    row(claim, m["measure"], m["pair"])["cells"][i].append(
                        {**m, **{k: claim[k] for k in ("up_to", "setup", "method", "versus")}})
    for found in rows.values():  # what the configs share: the measure, the methods compared
        found["first"] = next(entry for cell in found["cells"] for entry in cell)
    return list(rows.values())

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

from ...io import write_section
from ...vocabulary import DATASET_NAMES
from ..stability import ROUNDING, STABILITY
from . import compute
from .render import render_markdown
from .sections import STUDY_SECTIONS

#: the README's results section lies between these lines
RESULTS_MARKERS = ("<!-- results:start -->", "<!-- results:end -->")
FACTS = "paper/generated/facts.json"  # under a config's output_dir


def render(configs: list[dict]) -> str:
    """``configs``: per config its ``dir``, ``facts`` and, where it has them, its ``stability``
    and ``rounding`` rows."""
    return render_markdown("readme.md", configs=configs, claims=_claim_rows(configs),
                           study_sections=STUDY_SECTIONS, compute_section=compute.SECTION)


def update(outputs: list[Path], readme: Path) -> None:
    write_section(readme, "results", *RESULTS_MARKERS,
                  render([_config(Path(out)) for out in outputs]))


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

"""The README's results section, rendered from the paper's facts (facts.json) so that the
README quotes the same numbers as the paper, and only numbers the pipeline computed.

    update(facts_json, readme)   # rewrites the text between the two markers of ``readme``
"""

from __future__ import annotations

import json
from pathlib import Path

from jinja2 import Environment, PackageLoader, StrictUndefined

from ...io import write_section
from ...vocabulary import DATASET_NAMES, KIND_NAMES, MODEL_NAMES

START = "<!-- results:start -->"
END = "<!-- results:end -->"

ENV = Environment(loader=PackageLoader("cafw.pipeline.paper"), undefined=StrictUndefined,
                  trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True)
ENV.filters.update(
    pct=lambda s: "–" if s is None else f"{100 * s['mean']:.1f}" + (
        f" ± {100 * s['std']:.1f}" if s["std"] is not None else ""),
    pp=lambda x: f"{'+' if x >= 0 else '−'}{abs(100 * x):.1f}",
    num=lambda x: "–" if x is None else f"{x:g}")
ENV.globals.update(dataset_names=DATASET_NAMES, model_names=MODEL_NAMES,
                   kind_names=KIND_NAMES)


def render(facts: dict) -> str:
    return ENV.get_template("readme.md.j2").render(facts=facts)


def update(facts_json: Path, readme: Path) -> None:
    write_section(readme, START, END, render(json.loads(Path(facts_json).read_text())))

"""The generated part of paper/main.tex: facts computed from the aggregated tables, then LaTeX
rendered from the facts.

    paths = generate(tables, figures, out_dir)

reads the tables (``tables``: CSV files, found by name) and writes into ``out_dir``
(paper/generated/):

    facts.json    every number and verdict the paper states, as plain data (``facts``)
    numbers.tex   the counts main.tex quotes, as macros
    setup.tex     what was run: setups, seeds, studies, methods and their constraints
    findings.tex  one paragraph per section, stating its verdicts with their numbers
    tables.tex    one table per section
    figures.tex   one figure per file in ``figures``, captioned from the facts

Facts are computed first and completely (``facts``), so the templates (``render``) only format
them: main.tex is hand-written and number-free, and every number in the PDF is in facts.json.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from ...io import write_text
from ...vocabulary import PAPER_FILES
from .facts import facts as compute_facts
from .render import ref_key, render
from .tables import InputError, read

__all__ = ["InputError", "generate"]


def generate(tables: list[Path], figures: list[Path], out_dir: Path) -> list[Path]:
    """Write PAPER_FILES into ``out_dir``; return their paths."""
    out_dir = Path(out_dir)
    missing = [str(f) for f in figures if not Path(f).is_file()]
    if missing:
        raise InputError(f"figure not found: {', '.join(missing)}")
    facts = compute_facts(read(tables))
    paper_dir = out_dir.absolute().parent  # main.tex, whose \includegraphics paths are relative
    figures = [{"path": Path(os.path.relpath(Path(f).absolute(), paper_dir)).as_posix(),
                "id": Path(f).stem, "label": ref_key(f"fig:{Path(f).stem}")} for f in figures]
    texts = {"facts.json": json.dumps(facts, indent=2, allow_nan=False) + "\n"}
    texts |= {name: render(name, facts, figures) for name in PAPER_FILES if name.endswith(".tex")}
    for name in PAPER_FILES:
        write_text(out_dir / name, texts[name])
    return [out_dir / name for name in PAPER_FILES]

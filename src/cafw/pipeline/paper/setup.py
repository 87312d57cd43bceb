"""setup.tex: what was run.  One paragraph on the runs, setups and seeds, a description list
with each study's kind, role, methods, schedules, SFW variants and ratios, and the table of
methods with their constraints.  All of it is read from the manifest (compression_summary.csv
when there is none), so the text describes the runs that were made, not the config.
"""

from __future__ import annotations

import pandas as pd

from .context import ABLATION, COMPARISON, SENSITIVITY, Context, Study
from .latex import booktabs, fmt_num, tex_escape
from .prose import FAMILIES, kind_title, pretty

ROLE_TEXT = {COMPARISON: "method comparison", ABLATION: "learning-rate ablation",
             SENSITIVITY: "sensitivity to k and the constraint value"}


def render(ctx: Context) -> str:
    if not ctx.studies:
        return "% no manifest.csv or compression_summary.csv: nothing to describe\n"
    source = ctx.runs
    setups = list(dict.fromkeys(source["setup"]))
    seeds = sorted(source["seed"].unique()) if "seed" in source.columns else []
    out = []
    runs = f"{source['run'].nunique()} runs" if "run" in source.columns else "its runs"
    seed_text = (f" with seeds {', '.join(str(s) for s in seeds)} ({len(seeds)} per "
                 f"configuration)" if seeds else "")
    out.append(f"The pipeline trained {runs} on {len(setups)} "
               f"setup{'s' if len(setups) != 1 else ''} "
               f"({'; '.join(ctx.setup_name(s) for s in setups)}){seed_text}. "
               "A run shared by several studies was trained once. Every run was trained once "
               "from scratch and compressed afterwards at every ratio listed, without "
               "retraining. Hyperparameters (learning rates, schedules, penalty strengths, "
               "epochs, batch sizes) are those of the pipeline configuration.\n")
    out.append("\\begin{description}")
    out += [_describe(ctx, study) for study in ctx.studies]
    out.append("\\end{description}\n")
    out.append(_methods_table(ctx, source))
    return "\n".join(out) + "\n"


def _describe(ctx: Context, study: Study) -> str:
    """The \\item of one study."""
    methods = list(dict.fromkeys(study.rows["label"])) if "label" in study.rows else []
    text = (f"\\item[\\texttt{{{tex_escape(study.name)}}}] {kind_title(study.kind)}, "
            f"{ROLE_TEXT[study.role]}; "
            f"methods: {', '.join(tex_escape(m) for m in methods)}")
    if "schedule" in study.rows.columns:
        schedules = list(dict.fromkeys(study.rows["schedule"]))
        text += f"; learning-rate schedule{'s' if len(schedules) > 1 else ''}: " + \
            ", ".join(tex_escape(s) for s in schedules)
    variants = [v for v in dict.fromkeys(study.rows.get("variant", [])) if v]
    if variants:
        text += "; SFW variants besides the base settings: " + "; ".join(
            f"\\texttt{{{tex_escape(v.replace(',', ', '))}}}" for v in variants)
    ratios = _study_ratios(ctx, study)
    if ratios:
        text += f"; ratios: {', '.join(f'{r:g}' for r in ratios)}"
    return text + "."


def _study_ratios(ctx: Context, study: Study) -> list[float]:
    if ctx.compression is None or "study" not in ctx.compression.columns:
        return []
    rows = ctx.compression[ctx.compression["study"] == study.name]
    return sorted({round(float(r), 9) for r in rows["ratio"]})


def _methods_table(ctx: Context, source: pd.DataFrame) -> str:
    cols = [c for c in ("method", "label", "family", "rescale", "k", "value")
            if c in source.columns]
    rows = source[cols].drop_duplicates("method") if "method" in cols else source.iloc[:0]
    if rows.empty:
        return "% no methods in the manifest\n"
    body = []
    for _, row in rows.iterrows():
        cells = [tex_escape(row["label"]), f"\\texttt{{{tex_escape(row['method'])}}}"]
        family = row.get("family", "")
        if family:
            cells += ["SFW", pretty(FAMILIES, family), tex_escape(row.get("rescale", "")),
                      fmt_num(row.get("k")), fmt_num(row.get("value"))]
        else:
            cells += ["unconstrained", "--", "--", "--", "--"]
        body.append(cells)
    ctx.table_labels.add("tab:methods")
    caption = ("Methods of the manifest. For SFW: the constraint family (one ball per layer), "
               "the base learning-rate rescaling, k (a fraction of the layer's entries, "
               "filters or rank when at most 1) and the constraint value (the diameter "
               "multiplier of the initialisation norm). Variants in the studies override "
               "these. Baselines are trained without a constraint (penalties as configured).")
    return booktabs("tab:methods", caption,
                    ["Method", "Id", "Optimizer", "Constraint", "Rescaling", "$k$", "Value"],
                    body, "llllllr")

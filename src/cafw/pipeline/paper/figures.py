"""figures.tex: one figure environment per figure file passed to ``cafw paper --figures``,
with a path relative to paper/ (where latexmk runs) and a caption read from the file's stem:
compute, lr-theory, dynamics__<setup> and <study>__<setup> have captions written from the
tables; any other stem is captioned with its own words.  A missing file leaves a comment.
"""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd

from .context import ABLATION, SENSITIVITY, Context, Study
from .curves import curves_of, headline_ratio, rescale_rank, seeds_text
from .latex import fmt_num, paginate, ref_key, tex_escape
from .prose import kind_ratio, kind_title


def figure_label(figure: Path) -> str:
    return f"fig:{ref_key(figure.stem)}"


def render(ctx: Context, figures: list[Path], out_dir: Path) -> str:
    if not figures:
        return "% no figures were passed to `cafw paper --figures`\n"
    paper_dir = out_dir.absolute().parent  # latexmk -cd runs in paper/, next to generated/
    parts = []
    for figure in figures:
        if not figure.exists():
            parts.append(f"% {figure.as_posix()}: not found when generated\n")
            continue
        path = Path(os.path.relpath(figure.absolute(), paper_dir)).as_posix()
        parts.append("\n".join([
            "\\begin{figure}[tbp]", "\\centering",
            f"\\includegraphics[width=\\linewidth]{{{path}}}",
            f"\\caption{{{_caption(ctx, figure.stem)}}}",
            f"\\label{{{figure_label(figure)}}}", "\\end{figure}", ""]))
    return paginate(parts)


def _caption(ctx: Context, stem: str) -> str:
    if stem == "compute":
        devices = (", ".join(dict.fromkeys(ctx.compute["device"]))
                   if ctx.compute is not None and "device" in ctx.compute.columns else "")
        return ("Time per training step (log scale) per method and setup"
                + (f", measured on {tex_escape(devices)}" if devices else "")
                + "; the bar labels give the ratio to SGD." + ctx.see("tab:compute"))
    if stem == "lr-theory":
        seeds = (ctx.lr_theory["seed"].nunique()
                 if ctx.lr_theory is not None and "seed" in ctx.lr_theory.columns else None)
        over = f" over {seeds} seed{'s' if seeds != 1 else ''}" if seeds else ""
        return ("Step-size rules of SFW on a smooth non-convex quadratic over an L1 ball "
                "(\\cref{sec:lr-theory}). Left: best Frank--Wolfe gap within $T$ iterations "
                f"against the horizon $T$ (mean $\\pm$ standard deviation{over}), with the "
                "classical bound and an $O(1/\\sqrt{T})$ reference line. Right: the effective "
                "step size $\\eta_t$ of the longest run." + ctx.see("tab:lr-theory"))
    if stem.startswith("dynamics__"):
        setup = stem.split("__", 1)[1]
        studies = [s for s in ctx.studies if s.role == ABLATION and setup in s.setups]
        names = ", ".join(f"\\texttt{{{tex_escape(s.name)}}}" for s in studies)
        return (f"SFW training dynamics on {ctx.setup_name(setup)}"
                + (f" (runs of study {names})" if names else "")
                + ": effective step size $\\eta$ and Frank--Wolfe gap per epoch (log scale, "
                "mean over seeds), by rescaling of the learning rate (colour) and schedule "
                "(line style).")
    if "__" in stem:
        name, setup = stem.split("__", 1)
        study = next((s for s in ctx.studies if s.name == name), None)
        if study is not None:
            return _study_caption(ctx, study, setup)
    return tex_escape(stem.replace("__", ", ").replace("-", " ")) + "."


def _study_caption(ctx: Context, study: Study, setup: str) -> str:
    """The caption of the accuracy-against-ratio figure of a study on a setup."""
    curves = curves_of(ctx, study, setup)
    seeds = seeds_text(curves)
    spread = f"mean $\\pm$ standard deviation {seeds}" if seeds else "mean over seeds"
    where = f"on {ctx.setup_name(setup)} (study \\texttt{{{tex_escape(study.name)}}})"
    ratio = kind_ratio(study.kind)
    table = ctx.see(study.table_label(setup))
    if study.role == ABLATION:
        schedules = ", ".join(tex_escape(s) for s in dict.fromkeys(c.schedule for c in curves))
        rescales = ", ".join(tex_escape(r) for r in dict.fromkeys(
            c.rescale for c in sorted(curves, key=rescale_rank) if c.rescale))
        return (f"Learning-rate ablation {where}: top-1 test accuracy against {ratio}, without "
                f"retraining; one panel per learning-rate schedule ({schedules}), one line per "
                f"SFW rescaling ({rescales}) and per baseline; {spread}.{table}")
    labels = ", ".join(tex_escape(x) for x in dict.fromkeys(c.label for c in curves))
    if study.role == SENSITIVITY:
        ks = ", ".join(fmt_num(k) for k in sorted({c.keys.get("k") for c in curves
                                                   if pd.notna(c.keys.get("k"))}))
        values = ", ".join(fmt_num(v) for v in sorted({c.keys.get("value") for c in curves
                                                       if pd.notna(c.keys.get("value"))}))
        r = headline_ratio(curves)
        at = f" and after compression at ratio $s={r:g}$ ({ratio})" if r is not None else ""
        return (f"Sensitivity of {labels} to $k \\in \\{{{ks}\\}}$ and the constraint value "
                f"$\\in \\{{{values}\\}}$ {where}: test accuracy (mean over seeds) of the dense "
                f"model{at}.{table}")
    return (f"{kind_title(study.kind)} {where}: top-1 test "
            f"accuracy against $s$, {ratio}, without retraining; methods: {labels}; "
            f"{spread}.{table}")

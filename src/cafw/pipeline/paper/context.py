"""What the paper is generated from: the aggregated tables, read once, and the studies found
in them.  Studies are read from the manifest, not from the config: a study in which some method
runs under more than one schedule or SFW rescaling is an *ablation*, one in which some method
runs with more than one (k, value) is a *sensitivity* study, and any other is a *method
comparison*.  The context also records which table and figure labels exist, so that text only
cross-references what was generated.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import pandas as pd

from .latex import ref_key, tex_escape
from .prose import DATASETS, MODELS, pretty

COMPARISON, ABLATION, SENSITIVITY = "comparison", "ablation", "sensitivity"
TEXT_COLUMNS = ("study", "kind", "run", "setup", "dataset", "model", "method", "label",
                "schedule", "variant", "family", "rescale", "device", "rule")


def _read(tables_dir: Path, name: str) -> pd.DataFrame | None:
    """The table, or None when it is missing or has no rows.  Text columns: NaN -> ''."""
    try:
        frame = pd.read_csv(tables_dir / f"{name}.csv", keep_default_na=False, na_values=[""])
    except (FileNotFoundError, pd.errors.EmptyDataError):
        return None
    if frame.empty:
        return None
    for column in TEXT_COLUMNS:
        if column in frame.columns:
            frame[column] = frame[column].fillna("").astype(str)
    return frame


@dataclass
class Study:
    name: str
    kind: str
    role: str
    rows: pd.DataFrame  # its manifest rows (compression_summary rows without a manifest)

    @property
    def setups(self) -> list[str]:
        return list(dict.fromkeys(self.rows["setup"]))

    def table_label(self, setup: str) -> str:
        return f"tab:{ref_key(self.name)}-{ref_key(setup)}"

    def figure_label(self, setup: str) -> str:
        """The label of figures/<study>__<setup>.pdf (see ``figures.figure_label``)."""
        return f"fig:{ref_key(self.name)}__{ref_key(setup)}"


@dataclass
class Context:
    manifest: pd.DataFrame | None
    training: pd.DataFrame | None
    compression: pd.DataFrame | None
    compute: pd.DataFrame | None
    lr_theory: pd.DataFrame | None
    studies: list[Study] = field(default_factory=list)
    table_labels: set[str] = field(default_factory=set)
    figure_labels: set[str] = field(default_factory=set)

    @classmethod
    def load(cls, tables_dir: Path) -> Context:
        ctx = cls(*(_read(tables_dir, name) for name in (
            "manifest", "training_summary", "compression_summary", "compute", "lr_theory")))
        if ctx.runs is not None and "study" in ctx.runs.columns:
            for name, rows in ctx.runs.groupby("study", sort=False):
                ctx.studies.append(Study(name, rows["kind"].iloc[0], _role(rows), rows))
        return ctx

    @property
    def runs(self) -> pd.DataFrame | None:
        """The manifest, or compression_summary.csv in its place when there is none."""
        return self.manifest if self.manifest is not None else self.compression

    @cached_property
    def identities(self) -> pd.DataFrame | None:
        """One row per method (manifest first): method, label, family."""
        frames = [f for f in (self.manifest, self.compression, self.training) if f is not None]
        if not frames:
            return None
        cols = ["method", "label", "family"]
        rows = pd.concat([f[[c for c in cols if c in f.columns]] for f in frames])
        rows = rows.reindex(columns=cols).fillna("")
        return rows.drop_duplicates("method").reset_index(drop=True)

    def method_rank(self, method: str) -> int:
        ids = self.identities
        order = list(ids["method"]) if ids is not None else []
        return order.index(method) if method in order else len(order)

    def is_sfw(self, method: str) -> bool:
        ids = self.identities
        if ids is not None and "family" in ids.columns and method in set(ids["method"]):
            return bool(ids.set_index("method").at[method, "family"])
        return method.startswith("sfw")

    def setup_name(self, setup: str) -> str:
        """'digits / small CNN' from the dataset and model of the setup."""
        for frame in (self.manifest, self.compression, self.compute, self.training):
            if frame is not None and {"setup", "dataset", "model"} <= set(frame.columns):
                rows = frame[frame["setup"] == setup]
                if not rows.empty:
                    return (f"{pretty(DATASETS, rows['dataset'].iloc[0])} / "
                            f"{pretty(MODELS, rows['model'].iloc[0])}")
        return tex_escape(setup)

    def see(self, *labels: str) -> str:
        """' See \\Cref{a,b}.' for the labels that exist, else ''."""
        refs = [label for label in labels
                if label in self.table_labels or label in self.figure_labels]
        return f" See \\Cref{{{','.join(refs)}}}." if refs else ""

    def see_study(self, study: Study, setup: str) -> str:
        return self.see(study.table_label(setup), study.figure_label(setup))


def _role(rows: pd.DataFrame) -> str:
    """ablation / sensitivity / comparison, from what varies *within* a method."""
    for _, group in rows.groupby("method", sort=False):
        if any(group[c].nunique() > 1 for c in ("schedule", "rescale") if c in group.columns):
            return ABLATION
    for _, group in rows.groupby("method", sort=False):
        cols = [c for c in ("k", "value") if c in group.columns]
        if cols and len(group[cols].drop_duplicates()) > 1:
            return SENSITIVITY
    return COMPARISON

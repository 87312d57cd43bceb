"""The aggregated tables the paper reads, found by file name among the files passed to
``cafw paper --tables`` (as ``cafw figure`` finds them), each checked once for the columns the
facts use, so that a wrong or stale table fails here with its name rather than deep inside."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from ...errors import InputError
from ...vocabulary import RUN_KEYS, SFW_KEYS

CURVE_COLUMNS = (*RUN_KEYS, *SFW_KEYS)  # what identifies a curve in the tables
READ_COLUMNS = {  # each of PAPER_TABLES -> the columns the facts read
    "studies.csv": ("study", "kind", "chart", "baseline"),
    "manifest.csv": ("study", "kind", "curve", "replicate", "point", "run", "seed",
                     *CURVE_COLUMNS),
    "compression_summary.csv": ("study", "kind", "ratio", "seeds", *CURVE_COLUMNS,
                                "val_accuracy_mean", "val_accuracy_std", "test_accuracy_mean",
                                "test_accuracy_std", "dense_test_accuracy_mean",
                                "dense_test_accuracy_std"),
    "compute.csv": ("setup", "dataset", "model", "method", "label", "batch_size", "step_ms",
                    "step_ms_min", "epoch_s", "ratio_to_sgd", "device"),
    "lr_theory.csv": ("rule", "seed", "horizon", "best_gap", "bound", "iteration", "step_size"),
    "tuning.csv": ("curve", "study", "setup", "replicate", "point", "label", "rescale",
                   "selected", "score", "test_area", "seeds", "flags", "pooled_flags"),
    "claims.csv": ("claim", "statement", "study", "setup", "schedule", "pair", "part",
                   "measure", "better", "method", "versus", "up_to", "ratio", "method_value",
                   "versus_value", "effect", "ci_low", "ci_high", "ci_low_holm", "ci_high_holm",
                   "p_improvement", "p_improvement_low", "p_improvement_high", "samples",
                   "unit", "evaluation_seeds", "min_effect", "samples_needed", "threshold",
                   "effect_at_ratio", "ci_low_at_ratio", "ci_high_at_ratio", "verdict",
                   "part_verdict", "claim_verdict", "protocol"),
}
# tables that may have no rows: a config without tuning grids or claims
MAY_BE_EMPTY = ("tuning.csv", "claims.csv")
# read as text, an empty cell as "": a baseline has no family, a base run no variant
TEXT = ("study", "kind", "chart", "baseline", "run", *RUN_KEYS, "family", "rescale", "device",
        "rule", "curve", "point", "claim", "statement", "versus", "pair", "part", "measure",
        "better", "unit", "evaluation_seeds", "verdict", "part_verdict", "claim_verdict",
        "protocol", "flags", "pooled_flags")


def read(files: list[Path]) -> dict[str, pd.DataFrame]:
    """{'studies': frame, 'manifest': ..., 'compression_summary': ..., ...}."""
    by_name = {Path(f).name: Path(f) for f in files}
    missing = [name for name in READ_COLUMNS if name not in by_name]
    if missing:
        raise InputError(f"the paper reads {', '.join(READ_COLUMNS)}; --tables lacks "
                         f"{', '.join(missing)}")
    return {name.removesuffix(".csv"): _read(by_name[name], columns)
            for name, columns in READ_COLUMNS.items()}


def _read(path: Path, columns: tuple[str, ...]) -> pd.DataFrame:
    try:
        frame = pd.read_csv(path, keep_default_na=False, na_values=[""],
                            dtype=dict.fromkeys(TEXT, str))
    except FileNotFoundError:
        raise InputError(f"{path}: not found") from None
    except pd.errors.EmptyDataError:
        raise InputError(f"{path}: empty") from None
    if frame.empty and path.name in MAY_BE_EMPTY:
        return frame
    absent = [c for c in columns if c not in frame.columns]
    if absent or frame.empty:
        raise InputError(f"{path}: " + (f"no column {', '.join(absent)}" if absent else "no rows"))
    return frame.fillna({column: "" for column in TEXT if column in frame.columns})

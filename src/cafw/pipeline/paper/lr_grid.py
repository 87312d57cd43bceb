"""The learning-rate grid of a learning-rate ablation on one setup, from tuning.csv: per
rescaling of SFW's learning rate, the learning rates tried, how many replicates chose each,
and the best by the validation score averaged over the replicates.  It captions the figure
``lr-grid__<study>__<setup>`` (``cafw figure lr_grid``), which shows the same grid's scores
and test accuracies; the tuning table lists the scores."""

from __future__ import annotations

import pandas as pd

from ...vocabulary import RESCALES
from .sections import BESIDE_SECTIONS


@BESIDE_SECTIONS.register("lr_grid")
def facts(ablation: dict, tuning: pd.DataFrame) -> dict | None:
    """The grid of the ablation section ``ablation`` (its study and setup), or None when none
    of its curves was tuned over learning rates."""
    if tuning.empty:  # a config without tuning grids
        return None
    study, setup = ablation["study"], ablation["setup"]
    rows = tuning[(tuning["study"] == study) & (tuning["setup"] == setup)]
    if rows.empty or "lr" not in rows or rows["lr"].isna().all():
        return None
    rows = rows.dropna(subset=["lr"])
    rows = rows.assign(rescale=rows["rescale"].mask(rows["rescale"] == "", rows["label"]))
    order = [r for r in RESCALES if r in set(rows["rescale"])]
    rules = []
    for rescale in [*order, *(r for r in dict.fromkeys(rows["rescale"]) if r not in order)]:
        of_rule = rows[rows["rescale"] == rescale]
        chosen = of_rule.loc[of_rule["selected"].astype(str) == "True", "lr"].value_counts()
        pooled = of_rule.groupby("lr")["score"].mean()
        rules.append({"rescale": rescale,
                      "lrs": sorted(float(lr) for lr in of_rule["lr"].unique()),
                      "chosen": [{"lr": float(lr), "replicates": int(n)}
                                 for lr, n in sorted(chosen.items())],
                      "best": float(pooled.idxmax())})
    return {"type": "lr_grid", "id": f"lr-grid__{study}__{setup}", "study": study,
            "setup": setup, "dataset": ablation["dataset"], "model": ablation["model"],
            "kind": ablation["kind"], "replicates": int(rows["replicate"].nunique()),
            "rules": rules}

"""The cost of a training step, from compute.csv: per setup, each method's step time (in the
manifest's order of methods), and each SFW method's step time set against every baseline's.
A method counts as SFW when the manifest gives it a constraint family.  The ratios of the
table are to the config's ``baseline`` (``cafw bench compute --baseline``): the method at ratio
1.
"""

from __future__ import annotations

import pandas as pd

#: the type of the compute section
SECTION = "compute"


def facts(frame: pd.DataFrame, families: dict[str, str]) -> dict:
    order = list(families)
    setups = []
    for setup, rows in frame.groupby("setup", sort=False):
        rows = rows.sort_values("method", key=lambda m: m.map(
            lambda method: order.index(method) if method in order else len(order)), kind="stable")
        methods = [{"method": r.method, "label": r.label, "batch_size": int(r.batch_size),
                    "step_ms": float(r.step_ms), "step_ms_min": float(r.step_ms_min),
                    "epoch_s": float(r.epoch_s), "device": r.device,
                    "ratio_to_sgd": None if pd.isna(r.ratio_to_sgd) else float(r.ratio_to_sgd),
                    "sfw": bool(families.get(r.method))} for r in rows.itertuples()]
        baselines = [m for m in methods if not m["sfw"]]
        setups.append({
            "setup": setup, "dataset": rows["dataset"].iloc[0], "model": rows["model"].iloc[0],
            "devices": list(dict.fromkeys(rows["device"])), "methods": methods,
            "comparisons": [{"label": m["label"], "step_ms": m["step_ms"], "baselines": [
                {"label": b["label"], "step_ms": b["step_ms"], "ratio": b["step_ms"] / m["step_ms"]}
                for b in baselines]} for m in methods if m["sfw"]]})
    return {"type": SECTION, "id": "compute", "devices": list(dict.fromkeys(frame["device"])),
            "baseline": ", ".join(dict.fromkeys(frame.loc[frame["ratio_to_sgd"] == 1, "label"])),
            "setups": setups}

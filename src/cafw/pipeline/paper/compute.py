"""The cost of a training step, from compute.csv: a table of the step time per setup and
method (with the device when more than one was used), and a finding that sets each SFW
method's step time against every baseline's.
"""

from __future__ import annotations

from collections.abc import Iterator

import pandas as pd

from .context import Context
from .latex import Macros, booktabs, fmt_int, fmt_ratio, fmt_time, tex_escape


def _by_setup(ctx: Context) -> Iterator[tuple[str, pd.DataFrame]]:
    """(setup, its rows in the manifest's order of methods) for each setup of compute.csv."""
    for setup, rows in ctx.compute.groupby("setup", sort=False):
        yield setup, rows.sort_values("method", key=lambda m: m.map(ctx.method_rank),
                                      kind="stable")


def table(ctx: Context) -> str:
    frame = ctx.compute
    if frame is None:
        return "% no compute.csv: no compute table\n"
    devices = list(dict.fromkeys(frame["device"])) if "device" in frame.columns else []
    multi = len(devices) > 1
    body: list = []
    for setup, rows in _by_setup(ctx):
        if body:
            body.append("\\midrule")
        for i, (_, row) in enumerate(rows.iterrows()):
            cells = [ctx.setup_name(setup) if i == 0 else "", tex_escape(row["label"]),
                     fmt_int(row.get("batch_size")), fmt_time(row.get("step_ms")),
                     fmt_time(row.get("step_ms_min")), fmt_time(row.get("epoch_s")),
                     fmt_ratio(row.get("ratio_to_sgd"))]
            if multi:
                cells.insert(2, tex_escape(row["device"]))
            body.append(cells)
    ctx.table_labels.add("tab:compute")
    on = f" on {', '.join(tex_escape(d) for d in devices)}" if devices else ""
    caption = (f"Time per training step (forward, backward and optimizer step) measured{on} "
               "by the pipeline, per method: the typical and the fastest of the timed steps, "
               "the implied time per epoch, and the ratio of the step time to that of SGD.")
    header = ["Setup", "Method", "Batch", "ms/step", "min ms/step", "s/epoch", "$\\times$ SGD"]
    if multi:
        header.insert(2, "Device")
    return booktabs("tab:compute", caption, header, body,
                    "ll" + ("l" if multi else "") + "rrrrr")


def finding(ctx: Context, macros: Macros) -> str:
    if ctx.compute is None:
        return "% no compute.csv: no compute finding\n"
    out = []
    for setup, rows in _by_setup(ctx):
        for _, row in rows.iterrows():
            where = f"compute.csv setup={setup}, method={row['method']}"
            macros.define(["Compute", setup, row["method"], "StepMs"], fmt_time(row["step_ms"]),
                          f"{where}: step_ms")
            if pd.notna(row.get("ratio_to_sgd")):
                macros.define(["Compute", setup, row["method"], "RatioToSgd"],
                              fmt_ratio(row["ratio_to_sgd"]), f"{where}: ratio_to_sgd")
        sfw = rows[rows["method"].map(ctx.is_sfw)]
        others = rows[~rows["method"].map(ctx.is_sfw)]
        device = ", ".join(dict.fromkeys(rows["device"])) if "device" in rows.columns else ""
        on = f" ({tex_escape(device)})" if device else ""
        for _, f in sfw.iterrows():
            clauses = []
            for _, b in others.iterrows():
                ratio = float(b["step_ms"]) / float(f["step_ms"])
                macros.define(["Compute", setup, b["method"], "Over", f["method"]],
                              fmt_ratio(ratio), f"compute.csv setup={setup}: step_ms of "
                              f"{b['method']} / step_ms of {f['method']}")
                clauses.append(f"{tex_escape(b['label'])} {fmt_time(b['step_ms'])}\\,ms "
                               f"({fmt_ratio(ratio)}$\\times$ the SFW step)")
            text = (f"On {ctx.setup_name(setup)}{on}, one training step of "
                    f"{tex_escape(f['label'])} took {fmt_time(f['step_ms'])}\\,ms")
            text += ("; " + "; ".join(clauses) + "." if clauses else ".")
            out.append(text)
    if not out:
        return "% compute.csv has no SFW method: no compute finding\n"
    return ("\\paragraph{Compute.} " + " ".join(out) + ctx.see("tab:compute", "fig:compute")
            + "\n")

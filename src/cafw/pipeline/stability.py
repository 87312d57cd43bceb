"""The claims with two disjoint sets of seeds, side by side: does a verdict survive a rerun?

``cafw stability`` runs a config's pipeline as far as its claims twice, once with its own seeds
and once with every seed (the tuning seeds included) shifted by ``seed_offset`` into a
disjoint set, the second under ``<output_dir>/seed-offset-<offset>/``, and writes
``results/tables/stability.csv`` of the first: one row per claim, setup and measure with each
set's effect, interval and verdicts, and whether they agree.

    table = compare(claims_a, claims_b, seeds_a="0-4", seeds_b="1000-1004")
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pandas as pd
import yaml

from ..errors import ConfigError, StepFailed
from ..io import write_csv

CLAIMS = "results/tables/claims.csv"  # of each seed set, under its output_dir
STABILITY = "results/tables/stability.csv"  # under the config's own output_dir
KEY = ["claim", "setup", "pair", "part", "measure"]
PER_SET = ["effect", "ci_low", "ci_high", "p_improvement", "samples", "verdict", "claim_verdict"]


def compare(a: pd.DataFrame, b: pd.DataFrame, *, seeds_a: str, seeds_b: str) -> pd.DataFrame:
    """One row per claim, setup and measure of ``a`` and ``b`` (two claims.csv tables)."""
    # A claim compared best against best has no pair label: read back from CSV that is NaN,
    # which equals nothing, not even itself.
    a, b = (frame.assign(pair=frame["pair"].astype(object).fillna("")) for frame in (a, b))
    if set(map(tuple, a[KEY].to_numpy())) != set(map(tuple, b[KEY].to_numpy())):
        raise ValueError("the two claims tables check different claims, setups or measures; "
                         "run both seed sets with the same config")
    table = a[KEY + ["statement", "unit"] + PER_SET].merge(
        b[KEY + PER_SET], on=KEY, suffixes=("_a", "_b"), validate="one_to_one")
    table.insert(4, "seeds_a", seeds_a)
    table.insert(5, "seeds_b", seeds_b)
    table["same_verdict"] = table["verdict_a"] == table["verdict_b"]
    table["same_claim_verdict"] = table["claim_verdict_a"] == table["claim_verdict_b"]
    return table


def seed_range(seeds: list[int]) -> str:
    """'0-4' for consecutive seeds, else '0, 2, 7'."""
    seeds = sorted(seeds)
    if seeds == list(range(seeds[0], seeds[-1] + 1)) and len(seeds) > 2:
        return f"{seeds[0]}-{seeds[-1]}"
    return ", ".join(map(str, seeds))


def run(configfile: Path, offset: int, snakemake_args: list[str]) -> pd.DataFrame:
    """Both seed sets' claims (Snakemake reruns only what is missing), compared and written to
    the config's ``results/tables/stability.csv``."""
    config = yaml.safe_load(Path(configfile).read_text())
    out, base = Path(config.get("output_dir", ".")), config.get("seed_offset", 0)
    seeds = {*config["seeds"], *config.get("tuning", {}).get("seeds", []),
             *(s for study in config["studies"].values() for s in study.get("seeds", []))}
    if offset <= max(seeds) - min(seeds):
        raise ConfigError(f"--seed-offset {offset} does not move the seeds {min(seeds)}-"
                          f"{max(seeds)} clear of themselves; choose at least "
                          f"{max(seeds) - min(seeds) + 1}")
    other = out / f"seed-offset-{offset}"
    runs = {out: [], other: ["--config", f"seed_offset={base + offset}", f"output_dir={other}"]}
    for directory, overrides in runs.items():
        command = [sys.executable, "-m", "snakemake", CLAIMS, "--configfile", str(configfile),
                   *overrides, *snakemake_args]
        print("$", " ".join(command), flush=True)
        if subprocess.run(command).returncode:
            raise StepFailed(f"snakemake failed for the seeds of {directory} (its output is "
                               "above); fix that, then rerun: what finished is kept")
    studied = {*config["seeds"], *(s for study in config["studies"].values()
                                   for s in study.get("seeds", []))}
    table = compare(pd.read_csv(out / CLAIMS), pd.read_csv(other / CLAIMS),
                    seeds_a=seed_range([s + base for s in studied]),
                    seeds_b=seed_range([s + base + offset for s in studied]))
    write_csv(table, out / STABILITY)
    return table

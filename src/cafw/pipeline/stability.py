"""The claims rerun, side by side: does a verdict survive a second replicate set, or other
rounding?

``cafw stability`` runs a config's pipeline as far as its claims twice, once with its own seeds
and once with every seed (the tuning seeds included, so every tuning choice is made anew, on
other validation splits) shifted by ``seed_offset`` into a disjoint set of replicates, the
second under ``<output_dir>/seed-offset-<offset>/``, and writes
``results/tables/stability.csv`` of the first: one row per claim, setup and measure with each
set's effect, interval and verdicts, whether they agree, and whether the two intervals overlap.
Two valid 95% intervals of one quantity fail to overlap rarely (well under 1% for intervals of
equal width), so a share of non-overlapping measures much above that says the intervals are
too narrow for what the protocol varies (``overlap_share``).

``cafw stability --rounding`` reruns the same seeds with the CPU kernels of a lower instruction
set (AVX2 on an AVX-512 machine, scalar code on an AVX2 one), under
``<output_dir>/rounding-<kernels>/``, and writes ``results/tables/rounding.csv``: other vector
widths split every sum differently, which is the rounding that separates two machines' BLAS
and kernels.  With a tuning lock both use the lock's choices, so this checks the evaluation
runs against rounding; the replicates check the choices.

    table = compare(claims_a, claims_b)       # each set's seeds read from its claims.csv
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from ..errors import ConfigError
from ..io import write_csv
from .cost import load
from .grid import replicates
from .invoke import run_snakemake

CLAIMS = "results/tables/claims.csv"  # of each seed set, under its output_dir
STABILITY = "results/tables/stability.csv"  # under the config's own output_dir
ROUNDING = "results/tables/rounding.csv"  # likewise
# The machine's widest kernels (torch's CPU capability) -> a lower set's name and the variables
# that select it in ATen, oneDNN (convolutions) and MKL (BLAS).
LOWER_KERNELS = {
    "AVX512": ("avx2", {"ATEN_CPU_CAPABILITY": "avx2", "ONEDNN_MAX_CPU_ISA": "AVX2",
                        "MKL_CBWR": "AVX2"}),
    "AVX2": ("scalar", {"ATEN_CPU_CAPABILITY": "default", "ONEDNN_MAX_CPU_ISA": "SSE41",
                        "MKL_CBWR": "COMPATIBLE"}),
}
KEY = ["claim", "setup", "pair", "part", "measure"]
PER_SET = ["evaluation_seeds", "effect", "ci_low", "ci_high", "p_improvement", "samples",
           "verdict", "claim_verdict", "protocol"]


def compare(a: pd.DataFrame, b: pd.DataFrame) -> pd.DataFrame:
    """One row per claim, setup and measure of ``a`` and ``b`` (two claims.csv tables), with
    each set's evaluation seeds as each claim read them."""
    # A claim compared best against best has no pair label, and a step ratio no seeds: read
    # back from CSV they are NaN, which equals nothing, not even itself.
    a, b = (frame.assign(**{c: frame[c].astype(object).fillna("")
                            for c in ("pair", "evaluation_seeds")}) for frame in (a, b))
    if set(map(tuple, a[KEY].to_numpy())) != set(map(tuple, b[KEY].to_numpy())):
        raise ValueError("the two claims tables check different claims, setups or measures; "
                         "run both seed sets with the same config")
    table = a[KEY + ["statement", "unit"] + PER_SET].merge(
        b[KEY + PER_SET], on=KEY, suffixes=("_a", "_b"), validate="one_to_one")
    table["same_verdict"] = table["verdict_a"] == table["verdict_b"]
    table["same_claim_verdict"] = table["claim_verdict_a"] == table["claim_verdict_b"]
    table["overlap"] = (table["ci_low_a"] <= table["ci_high_b"]) & \
        (table["ci_low_b"] <= table["ci_high_a"])
    return table


def overlap_share(table: pd.DataFrame) -> float:
    """The share of measures whose two intervals overlap."""
    return float(table["overlap"].mean())


def run(configfiles: list[Path], offset: int, snakemake_args: list[str]) -> pd.DataFrame:
    """Both replicate sets' claims (Snakemake reruns only what is missing), compared and
    written to the config's ``results/tables/stability.csv``."""
    config = load(configfiles)
    out, base = Path(config.get("output_dir", ".")), config.get("seed_offset", 0)
    seeds = [s for r in replicates(config) for s in (*r.tuning_seeds, *r.evaluation_seeds)]
    if offset <= max(seeds) - min(seeds):
        raise ConfigError(f"--seed-offset {offset} does not move the seeds {min(seeds)}-"
                          f"{max(seeds)} clear of themselves; choose at least "
                          f"{max(seeds) - min(seeds) + 1}")
    other = out / f"seed-offset-{offset}"
    run_snakemake([CLAIMS], configfiles, snakemake_args, what="the claims of the config")
    run_snakemake([CLAIMS], configfiles, snakemake_args, what=f"the claims of {other}",
                  overrides=(f"seed_offset={base + offset}", f"output_dir={other}"))
    table = compare(pd.read_csv(out / CLAIMS), pd.read_csv(other / CLAIMS))
    write_csv(table, out / STABILITY)
    return table


def run_rounding(configfiles: list[Path], snakemake_args: list[str], capability: str
                 ) -> pd.DataFrame:
    """The claims with this CPU's kernels (torch's ``capability``, e.g. ``"AVX512"``) and
    with a lower instruction set's, compared and written to the config's
    ``results/tables/rounding.csv``."""
    if capability not in LOWER_KERNELS:
        raise ConfigError(f"no lower kernels are known for this CPU's {capability!r}: the "
                          "rounding check needs an x86 CPU with AVX2 or AVX-512")
    name, variables = LOWER_KERNELS[capability]
    out = Path(load(configfiles).get("output_dir", "."))
    other = out / f"rounding-{name}"
    run_snakemake([CLAIMS], configfiles, snakemake_args, what="the claims of the config")
    run_snakemake([CLAIMS], configfiles, snakemake_args, what=f"the claims of {other}",
                  overrides=(f"output_dir={other}",), variables=variables)
    table = compare(pd.read_csv(out / CLAIMS), pd.read_csv(other / CLAIMS))
    table.insert(5, "kernels_a", capability.lower())
    table.insert(6, "kernels_b", name)
    write_csv(table, out / ROUNDING)
    return table

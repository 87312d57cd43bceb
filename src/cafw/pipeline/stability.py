"""The claims rerun, side by side: does a verdict survive another seed set or other rounding?

``cafw stability`` runs a config's pipeline as far as its claims twice, once with its own seeds
and once with every seed (the tuning seeds included) shifted by ``seed_offset`` into a
disjoint set, the second under ``<output_dir>/seed-offset-<offset>/``, and writes
``results/tables/stability.csv`` of the first: one row per claim, setup and measure with each
set's effect, interval and verdicts, and whether they agree.

``cafw stability --rounding`` reruns the same seeds with the CPU kernels of a lower instruction
set (AVX2 on an AVX-512 machine, scalar code on an AVX2 one), under
``<output_dir>/rounding-<kernels>/``, and writes ``results/tables/rounding.csv``: other vector
widths split every sum differently, which is the rounding that separates two machines' BLAS
and kernels. A verdict that changes there would change from one CPU to the next.

    table = compare(claims_a, claims_b, seeds_a="0-4", seeds_b="1000-1004")
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import yaml

from ..errors import ConfigError, StepFailed
from ..io import write_csv

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
    _claims_of(configfile, snakemake_args)
    _claims_of(configfile, snakemake_args, into=other,
               overrides=(f"seed_offset={base + offset}",))
    studied = _studied(config)
    table = compare(pd.read_csv(out / CLAIMS), pd.read_csv(other / CLAIMS),
                    seeds_a=seed_range([s + base for s in studied]),
                    seeds_b=seed_range([s + base + offset for s in studied]))
    write_csv(table, out / STABILITY)
    return table


def run_rounding(configfile: Path, snakemake_args: list[str]) -> pd.DataFrame:
    """The claims with this CPU's kernels and with a lower instruction set's, compared and
    written to the config's ``results/tables/rounding.csv``."""
    import torch

    capability = torch.backends.cpu.get_cpu_capability()
    if capability not in LOWER_KERNELS:
        raise ConfigError(f"no lower kernels are known for this CPU's {capability!r}: the "
                          "rounding check needs an x86 CPU with AVX2 or AVX-512")
    name, variables = LOWER_KERNELS[capability]
    config = yaml.safe_load(Path(configfile).read_text())
    out = Path(config.get("output_dir", "."))
    other = out / f"rounding-{name}"
    _claims_of(configfile, snakemake_args)
    _claims_of(configfile, snakemake_args, into=other, variables=variables)
    seeds = seed_range([s + config.get("seed_offset", 0) for s in _studied(config)])
    table = compare(pd.read_csv(out / CLAIMS), pd.read_csv(other / CLAIMS),
                    seeds_a=seeds, seeds_b=seeds)
    table.insert(6, "kernels_a", capability.lower())
    table.insert(7, "kernels_b", name)
    write_csv(table, out / ROUNDING)
    return table


def _studied(config: dict) -> list[int]:
    """The seeds of the runs the claims read (the tuning seeds are among them)."""
    return sorted({*config["seeds"], *(s for study in config["studies"].values()
                                       for s in study.get("seeds", []))})


def _claims_of(configfile: Path, snakemake_args: list[str], *, into: Path | None = None,
               overrides: tuple[str, ...] = (), variables: dict[str, str] | None = None) -> None:
    """Snakemake as far as the claims: into the config's own output_dir, or with ``overrides``
    into the directory ``into``; ``variables`` are added to the environment."""
    config = [] if into is None else ["--config", *overrides, f"output_dir={into}"]
    command = [sys.executable, "-m", "snakemake", CLAIMS, "--configfile", str(configfile),
               *config, *snakemake_args]
    variables = variables or {}
    print("$", *(f"{k}={v}" for k, v in variables.items()), " ".join(command), flush=True)
    if subprocess.run(command, env={**os.environ, **variables}).returncode:
        raise StepFailed(f"snakemake failed for the claims of {into or 'the config'} (its "
                         "output is above); fix that, then rerun: what finished is kept")

"""The stability check: both seed sets' claims side by side, and the guard on the offset."""

import subprocess
from pathlib import Path

import pandas as pd
import pytest
import yaml

from cafw.errors import ConfigError
from cafw.pipeline import invoke, stability
from cafw.pipeline.grid import seed_range
from cafw.pipeline.stability import compare, overlap_share, run, run_rounding


def _claims(verdicts, effect=0.1, seeds="1, 3, 5"):
    return pd.DataFrame([
        {"claim": claim, "statement": "s", "setup": "x", "pair": "", "part": "robustness",
         "measure": "area", "unit": "replicates", "evaluation_seeds": seeds, "effect": effect,
         "ci_low": effect - 0.05, "ci_high": effect + 0.05, "p_improvement": 1.0,
         "samples": 3, "verdict": verdict, "claim_verdict": verdict, "protocol": "abc"}
        for claim, verdict in verdicts.items()])


def test_compare_puts_the_two_replicate_sets_side_by_side():
    a = _claims({"C1": "holds", "C2": "inconclusive"})
    b = _claims({"C1": "holds", "C2": "holds"}, effect=0.2, seeds="1001, 1003, 1005")
    table = compare(a, b).set_index("claim")
    assert table.loc["C1", "same_verdict"] and not table.loc["C2", "same_verdict"]
    assert table.loc["C2", "effect_a"] == 0.1 and table.loc["C2", "effect_b"] == 0.2
    assert set(table["evaluation_seeds_b"]) == {"1001, 1003, 1005"}  # as each claim read them
    assert table["overlap"].all()  # [0.05, 0.15] and [0.15, 0.25] touch


def test_the_share_of_measures_whose_intervals_overlap():
    a = _claims({"C1": "holds", "C2": "holds", "C3": "holds", "C4": "holds"})
    b = a.assign(effect=[0.1, 0.2, 0.3, -0.1], ci_low=[0.05, 0.15, 0.25, -0.15],
                 ci_high=[0.15, 0.25, 0.35, -0.05])
    table = compare(a, b)
    assert list(table["overlap"]) == [True, True, False, False]
    assert overlap_share(table) == 0.5


def test_compare_reads_claims_without_pair_labels_back_from_csv(tmp_path):
    # every claim compared best against best: the pair column is empty, read back as NaN
    tables = []
    for name, effect in (("a.csv", 0.1), ("b.csv", 0.2)):
        _claims({"C1": "holds", "C2": "holds"}, effect).to_csv(tmp_path / name, index=False)
        tables.append(pd.read_csv(tmp_path / name))
    assert tables[0]["pair"].isna().all()
    table = compare(*tables)
    assert list(table["claim"]) == ["C1", "C2"] and table["same_verdict"].all()


def test_compare_refuses_tables_of_different_claims():
    with pytest.raises(ValueError, match="different claims"):
        compare(_claims({"C1": "holds"}), _claims({"C2": "holds"}))


def test_seed_ranges_read_as_ranges():
    assert seed_range([4, 0, 1, 2, 3]) == "0-4" and seed_range([0, 2, 7]) == "0, 2, 7"
    assert seed_range([0, 1]) == "0, 1" and seed_range([7, 1, 3, 5]) == "1, 3, ..., 7"


def test_an_offset_that_overlaps_the_seeds_is_refused_before_anything_runs(tmp_path):
    config = {"replicates": {"count": 4, "tuning_seeds": 1, "evaluation_seeds": 1},
              "studies": {}}
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(config))
    with pytest.raises(ConfigError, match="choose at least 8"):
        run([tmp_path / "c.yaml"], 5, [])


def _fake_snakemake(monkeypatch, effects):
    """subprocess.run as the stability check calls it: writes each output_dir's claims.csv
    (with effects[i] for the i-th call) and records the environment it was given."""
    calls = []

    def fake(command, env):
        out = next((a.split("=", 1)[1] for a in command if a.startswith("output_dir=")), ".")
        path = stability.Path(out) / stability.CLAIMS
        path.parent.mkdir(parents=True, exist_ok=True)
        _claims({"C1": "holds"}, effects[len(calls)]).to_csv(path, index=False)
        calls.append((command, env))
        return subprocess.CompletedProcess(command, 0)

    monkeypatch.setattr(invoke.subprocess, "run", fake)
    return calls


def test_the_rounding_check_reruns_the_same_seeds_with_lower_kernels(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    Path("c.yaml").write_text(yaml.safe_dump({"studies": {}}))
    calls = _fake_snakemake(monkeypatch, [0.1, 0.2])
    table = run_rounding([Path("c.yaml")], ["--cores", "1"], "AVX512")
    (own, own_env), (other, other_env) = calls
    assert "--config" not in own and own_env.get("ATEN_CPU_CAPABILITY") is None
    assert "output_dir=rounding-avx2" in other and "seed_offset" not in " ".join(other)
    assert other_env["ATEN_CPU_CAPABILITY"] == "avx2" and other_env["MKL_CBWR"] == "AVX2"
    row = table.iloc[0]
    assert (row["kernels_a"], row["kernels_b"]) == ("avx512", "avx2")
    assert row["evaluation_seeds_a"] == row["evaluation_seeds_b"] == "1, 3, 5"
    assert (row["effect_a"], row["effect_b"]) == (0.1, 0.2)
    assert Path(stability.ROUNDING).is_file()


def test_the_rounding_check_refuses_a_cpu_without_lower_kernels(tmp_path, monkeypatch):
    (tmp_path / "c.yaml").write_text(yaml.safe_dump({"studies": {}}))
    calls = _fake_snakemake(monkeypatch, [])
    with pytest.raises(ConfigError, match="AVX2 or AVX-512"):
        run_rounding([tmp_path / "c.yaml"], [], "SVE256")
    assert not calls


def test_the_second_replicate_set_moves_every_seed_and_tunes_anew(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    config = {"replicates": {"count": 4, "tuning_seeds": 1, "evaluation_seeds": 1},
              "studies": {}}
    Path("c.yaml").write_text(yaml.safe_dump(config))
    calls = _fake_snakemake(monkeypatch, [0.1, 0.12])
    table = run([Path("c.yaml")], 1000, ["--cores", "1"])
    (own, _), (other, _) = calls
    assert "--config" not in own
    assert "seed_offset=1000" in other and "output_dir=seed-offset-1000" in other
    assert table["same_claim_verdict"].all() and table["overlap"].all()
    assert Path(stability.STABILITY).is_file()


def test_snakemake_arguments_follow_the_separator():
    from cafw.cli.common import snakemake_arguments

    assert snakemake_arguments("2", ["--", "--rerun-triggers", "mtime"]) == [
        "--cores", "2", "--rerun-triggers", "mtime"]
    assert snakemake_arguments("all", []) == ["--cores", "all"]

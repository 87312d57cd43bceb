"""The stability check: both seed sets' claims side by side, and the guard on the offset."""

import pandas as pd
import pytest
import yaml

from cafw.errors import ConfigError
from cafw.pipeline.stability import compare, run, seed_range


def _claims(verdicts, effect=0.1):
    return pd.DataFrame([
        {"claim": claim, "statement": "s", "setup": "x", "pair": "", "part": "robustness",
         "measure": "area",
         "unit": "seeds", "effect": effect, "ci_low": effect - 0.05, "ci_high": effect + 0.05,
         "p_improvement": 1.0, "samples": 5, "verdict": verdict, "claim_verdict": verdict}
        for claim, verdict in verdicts.items()])


def test_compare_puts_the_two_seed_sets_side_by_side():
    a = _claims({"C1": "holds", "C2": "inconclusive"})
    b = _claims({"C1": "holds", "C2": "holds"}, effect=0.2)
    table = compare(a, b, seeds_a="0-4", seeds_b="1000-1004").set_index("claim")
    assert table.loc["C1", "same_verdict"] and not table.loc["C2", "same_verdict"]
    assert table.loc["C2", "effect_a"] == 0.1 and table.loc["C2", "effect_b"] == 0.2
    assert set(table["seeds_b"]) == {"1000-1004"}


def test_compare_reads_claims_without_pair_labels_back_from_csv(tmp_path):
    # every claim compared best against best: the pair column is empty, read back as NaN
    tables = []
    for name, effect in (("a.csv", 0.1), ("b.csv", 0.2)):
        _claims({"C1": "holds", "C2": "holds"}, effect).to_csv(tmp_path / name, index=False)
        tables.append(pd.read_csv(tmp_path / name))
    assert tables[0]["pair"].isna().all()
    table = compare(*tables, seeds_a="0-4", seeds_b="1000-1004")
    assert list(table["claim"]) == ["C1", "C2"] and table["same_verdict"].all()


def test_compare_refuses_tables_of_different_claims():
    with pytest.raises(ValueError, match="different claims"):
        compare(_claims({"C1": "holds"}), _claims({"C2": "holds"}), seeds_a="0", seeds_b="9")


def test_seed_ranges_read_as_ranges():
    assert seed_range([4, 0, 1, 2, 3]) == "0-4" and seed_range([0, 2, 7]) == "0, 2, 7"
    assert seed_range([0, 1]) == "0, 1"


def test_an_offset_that_overlaps_the_seeds_is_refused_before_anything_runs(tmp_path):
    config = {"seeds": [0, 1, 2, 3, 4], "tuning": {"seeds": [0, 1]},
              "studies": {"s": {"seeds": [7]}}}
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(config))
    with pytest.raises(ConfigError, match="choose at least 8"):
        run(tmp_path / "c.yaml", 5, [])

"""The protocol hash (cafw.pipeline.protocol): it moves with everything that decides a verdict
and with nothing else, so that two replicate sets of one protocol share it and any change of
grid, claim, seed count or epoch count shows."""

import copy
from pathlib import Path

import pytest
import yaml

from cafw.pipeline.protocol import protocol_hash

ROOT = Path(__file__).resolve().parents[1]


def _config() -> dict:
    return yaml.safe_load((ROOT / "config" / "config.yaml").read_text())


def _changed(edit) -> dict:
    config = copy.deepcopy(_config())
    edit(config)
    return config


@pytest.mark.parametrize("edit", [
    lambda c: c["methods"]["sgd"]["tune"]["lr"].append(100.0),
    lambda c: c["claims"]["C1"]["measures"].update(area=0.05),
    lambda c: c["replicates"].update(count=c["replicates"]["count"] + 1),
    lambda c: c["setups"]["digits-cnn"].update(epochs=c["setups"]["digits-cnn"]["epochs"] + 1),
    lambda c: c["ratios"]["filter"].pop(),
], ids=["grid", "min effect", "replicates", "epochs", "ratios"])
def test_what_decides_a_verdict_moves_the_hash(edit):
    assert protocol_hash(_changed(edit)) != protocol_hash(_config())


@pytest.mark.parametrize("edit", [
    lambda c: c.update(seed_offset=1000, output_dir="elsewhere"),
    lambda c: c.update(tuning={"lock": "config/other.lock.csv"}),
    lambda c: c["claims"]["C1"].update(statement="reworded"),
    lambda c: c["studies"]["sensitivity"].pop("chart"),
    lambda c: c["defaults"].update(threads=2, device="cpu"),
], ids=["seed set and outputs", "lock", "statement", "how a study is drawn", "how runs run"])
def test_what_decides_none_leaves_it(edit):
    assert protocol_hash(_changed(edit)) == protocol_hash(_config())

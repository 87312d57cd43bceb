"""Compressed models as artifacts, for every architecture of the paper: a filter-pruning sweep
on synthetic data fills the physical columns (parameters, FLOPs, bytes, accuracy, latency),
and the saved physically pruned model reloads with the accuracy of its row."""

from pathlib import Path

import pandas as pd
import pytest
import yaml

from architectures import ARCHITECTURES, SMALL_INPUTS
from cafw.compress import load_compressed
from cafw.compress.sweep import physical_columns, sweep
from cafw.evaluation import evaluate
from cafw.models.resnet_cifar import PrunedPadShortcut
from cafw.runtime import set_up
from cafw.spec import load_run
from cafw.train import train

ROOT = Path(__file__).resolve().parents[1]
LATENCY_BATCHES = (1, 4)


def test_every_model_of_the_paper_is_tested():
    paper = yaml.safe_load((ROOT / "config" / "paper.yaml").read_text())
    assert {setup["model"] for setup in paper["setups"].values()} <= set(SMALL_INPUTS)


@pytest.mark.parametrize("name", ARCHITECTURES)
def test_physical_columns_and_saved_model_of_every_architecture(name, tmp_path):
    pytest.importorskip("torch_pruning")
    channels, side = SMALL_INPUTS[name]
    config = load_run({
        "dataset": "synthetic", "model": name, "epochs": 1, "batch_size": 8, "device": "cpu",
        "dataset_options": {"shape": [channels, side, side], "train_size": 16, "test_size": 32},
        "optimizer": {"name": "sgd", "lr": 0.01}})
    metrics = train(config, tmp_path / "run", progress=False, log=lambda line: None)

    frame = pd.DataFrame(sweep(tmp_path / "run", "filter", [0.5], tmp_path / "filter.csv",
                               physical=True, save_dir=tmp_path / "saved",
                               latency_batches=LATENCY_BATCHES, device="cpu"))
    assert frame[physical_columns(LATENCY_BATCHES)].notna().all().all()
    half = frame.iloc[0]
    # Half the filters of every conv: about a quarter of the weights and FLOPs are left (about
    # half in mnist_cnn, whose first linear layer, most of its weights, loses half its inputs).
    bound = 0.55 if name == "mnist_cnn" else 0.3
    assert half["physical_params"] < bound * metrics["parameters"]
    assert half["physical_flops"] < bound * half["dense_flops"]
    assert half["physical_bytes"] < bound * half["dense_bytes"]

    model = load_compressed(half["saved_to"])
    data = set_up(config, device="cpu").data
    assert evaluate(model, data.test)["accuracy"] == half["physical_test_accuracy"]
    assert sum(p.numel() for p in model.parameters()) == half["physical_params"]
    if name == "resnet56":  # the option-A shortcuts are rebuilt from the spec
        assert sum(isinstance(m, PrunedPadShortcut) for m in model.modules()) == 2

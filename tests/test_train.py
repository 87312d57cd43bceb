"""The training engine: end-to-end runs, resumption, signals, divergence, bad configs."""

import json
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import torch
import yaml

from cafw.cli import main
from cafw.runtime import set_up
from cafw.spec import ScheduleSpec, load_run
from cafw.train import CheckpointError, Interrupted, TrainingDiverged, train
from cafw.train.schedules import lr_factor

SMALL = {"shape": [3, 8, 8], "train_size": 192, "test_size": 64}


def config(**overrides):
    base = {"dataset": "synthetic", "dataset_options": SMALL, "model": "cnn_small", "epochs": 3,
            "batch_size": 64, "seed": 1,
            "optimizer": {"name": "sfw", "lr": 0.5,
                          "constraint": {"family": "group_k_support", "k": 0.5, "value": 10,
                                         "init_samples": 5}}}
    base.update(overrides)
    return load_run(base)


def _weights(run: Path) -> dict:
    return torch.load(run / "model.pt", weights_only=True)


def test_training_on_digits_writes_a_complete_run(tmp_path):
    cfg = config(dataset="digits", dataset_options={}, epochs=2, tags={"study": "smoke"})
    metrics = train(cfg, tmp_path / "run")
    files = {p.name for p in (tmp_path / "run").iterdir()}
    assert files == {"run.yaml", "model.pt", "history.csv", "metrics.json"}
    assert 0.5 < metrics["test_accuracy"] <= 1.0  # two epochs already learn digits
    assert metrics["study"] == "smoke" and metrics["method"] == "SFW group_k_support"
    for key in ("val_accuracy", "val_loss", "test_loss", "test_top5", "train_loss",
                "wall_time_s", "seconds_per_epoch", "images_per_second", "device"):
        assert key in metrics
    history = pd.read_csv(tmp_path / "run" / "history.csv")
    assert list(history["epoch"]) == [1, 2]
    assert set(history.columns) >= {"train_loss", "val_loss", "val_accuracy", "lr",
                                    "step_size", "fw_gap"}
    # the test set is evaluated once, at the end: it is only ever reported
    assert not any(c.startswith("test_") for c in history.columns)
    assert metrics["val_accuracy"] == history["val_accuracy"].iloc[-1]
    assert (history["step_size"] > 0).all() and (history["fw_gap"] >= 0).all()
    assert load_run(tmp_path / "run" / "run.yaml") == cfg  # the resolved config round-trips
    assert set(_weights(tmp_path / "run")) == set(torch.nn.Module.state_dict(
        __import__("cafw.models", fromlist=["x"]).build_model("cnn_small", 10, (1, 8, 8))))


@pytest.mark.parametrize("optimizer", [
    {"name": "sgd", "lr": 0.05, "penalty": {"type": "group_lasso", "strength": 1e-3}},
    {"name": "sgd", "lr": 0.05, "penalty": {"type": "nuclear", "strength": 1e-3}},
    {"name": "prox_sgd", "lr": 0.05, "threshold": 1e-3},
    {"name": "sfw", "lr": 0.5, "rescale": "diameter",
     "constraint": {"family": "spectral_k_support", "k": 0.5, "init_samples": 5}},
], ids=["group-lasso", "nuclear-penalty", "prox-sgd", "sfw-spectral"])
def test_every_method_trains_and_lowers_the_loss(tmp_path, optimizer):
    train(config(optimizer=optimizer, epochs=4), tmp_path)
    history = pd.read_csv(tmp_path / "history.csv")
    assert history["train_loss"].iloc[-1] < history["train_loss"].iloc[0]


@pytest.mark.parametrize("family", ["group_k_support", "spectral_k_support"])
def test_resume_mid_epoch_equals_an_uninterrupted_run(tmp_path, family):
    cfg = config(optimizer={"name": "sfw", "lr": 0.5,
                            "constraint": {"family": family, "k": 0.5, "init_samples": 5}},
                 schedule={"name": "cosine", "warmup_epochs": 1})
    train(cfg, tmp_path / "full")
    with pytest.raises(Interrupted):
        train(cfg, tmp_path / "cut", stop_at=(1, 2))  # epoch 2, after its second batch
    assert (tmp_path / "cut" / "checkpoint.pt").exists()
    assert not (tmp_path / "cut" / "metrics.json").exists()
    train(cfg, tmp_path / "cut", resume=True)
    full, cut = _weights(tmp_path / "full"), _weights(tmp_path / "cut")
    assert all(torch.equal(full[k], cut[k]) for k in full)
    a, b = (pd.read_csv(tmp_path / d / "history.csv") for d in ("full", "cut"))
    pd.testing.assert_frame_equal(a.drop(columns=["train_seconds", "eval_seconds"]),
                                  b.drop(columns=["train_seconds", "eval_seconds"]))
    assert not (tmp_path / "cut" / "checkpoint.pt").exists()


def test_sigterm_checkpoints_and_the_cli_resumes(tmp_path):
    # the same thread count in this process and the CLI's, so reductions run in one order
    cfg = config(dataset="digits", dataset_options={}, epochs=6, batch_size=32, threads=1)
    (tmp_path / "run.yaml").write_text(yaml.safe_dump(cfg.to_dict()))
    command = [sys.executable, "-m", "cafw.cli", "train", "--config", str(tmp_path / "run.yaml"),
               "--out", str(tmp_path / "run"), "--resume"]
    proc = subprocess.Popen(command, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    while not (tmp_path / "run" / "checkpoint.pt").exists() and time.time() < deadline:
        time.sleep(0.05)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 128 + signal.SIGTERM, err
    assert "checkpoint saved, rerun with --resume" in err
    assert (tmp_path / "run" / "checkpoint.pt").exists()
    done = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "resuming" in done.stderr
    train(cfg, tmp_path / "uninterrupted")
    a, b = _weights(tmp_path / "run"), _weights(tmp_path / "uninterrupted")
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_history_has_a_row_for_every_finished_epoch_while_training(tmp_path):
    cfg = config(epochs=3)
    with pytest.raises(Interrupted):
        train(cfg, tmp_path, stop_at=(1, 2))  # in epoch 2
    assert list(pd.read_csv(tmp_path / "history.csv")["epoch"]) == [1]
    train(cfg, tmp_path, resume=True)
    assert list(pd.read_csv(tmp_path / "history.csv")["epoch"]) == [1, 2, 3]


def test_tensorboard_gets_every_epochs_scalars(tmp_path):
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    cfg = config(tensorboard=True)
    with pytest.raises(Interrupted):
        train(cfg, tmp_path, stop_at=(1, 2))
    train(cfg, tmp_path, resume=True)
    events = EventAccumulator(str(tmp_path))
    events.Reload()
    assert set(events.Tags()["scalars"]) == {"loss/train", "loss/val", "accuracy/train",
                                             "accuracy/val", "lr", "sfw/step_size",
                                             "sfw/fw_gap"}
    history = pd.read_csv(tmp_path / "history.csv")
    val_accuracy = events.Scalars("accuracy/val")
    assert [e.step for e in val_accuracy] == [1, 2, 3]
    assert [e.value for e in val_accuracy] == pytest.approx(list(history["val_accuracy"]))


def test_tensorboard_is_an_optional_extra(tmp_path):
    (tmp_path / "run.yaml").write_text(yaml.safe_dump(config(tensorboard=True).to_dict()))
    code = ("import sys; sys.modules['tensorboard'] = None  # as if not installed\n"
            "import cafw.cli, cafw.train\n"
            "sys.exit(cafw.cli.main(sys.argv[1:]))")
    result = subprocess.run([sys.executable, "-c", code, "train", "--config",
                             str(tmp_path / "run.yaml"), "--out", str(tmp_path / "run")],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 2, result.stderr
    assert "'tensorboard': true needs the tensorboard package; pip install " \
           "'cafw[tensorboard]'" in result.stderr


def test_deterministic_mode_is_a_per_run_setting():
    set_up(config(deterministic=True))
    assert torch.are_deterministic_algorithms_enabled()
    assert os.environ["CUBLAS_WORKSPACE_CONFIG"] == ":4096:8"
    set_up(config())
    assert not torch.are_deterministic_algorithms_enabled()


def test_diverging_loss_stops_with_a_clear_error(tmp_path, capsys):
    cfg = config(optimizer={"name": "sgd", "lr": 1e12, "momentum": 0.9})
    with pytest.raises(TrainingDiverged, match="NaN or infinite in epoch 1"):
        train(cfg, tmp_path)
    assert not (tmp_path / "metrics.json").exists()
    (tmp_path / "bad.yaml").write_text(yaml.safe_dump(cfg.to_dict()))
    code = main(["train", "--config", str(tmp_path / "bad.yaml"), "--out", str(tmp_path / "x")])
    assert code == 1 and "lower the learning rate" in capsys.readouterr().err


def test_a_diverged_run_is_recorded_as_a_model_that_learned_nothing(tmp_path):
    """The pipeline's tuning grids reach learning rates where training diverges: such a run
    finishes as an outcome, scored as chance, and its sweeps score every ratio alike."""
    cfg = config(optimizer={"name": "sgd", "lr": 1e12, "momentum": 0.9})
    (tmp_path / "bad.yaml").write_text(yaml.safe_dump(cfg.to_dict()))
    out = tmp_path / "run"
    code = main(["train", "--config", str(tmp_path / "bad.yaml"), "--out", str(out),
                 "--record-divergence", "--sweep", "filter", "0.0", "0.5", "--sweep-out",
                 str(tmp_path / "sweep.csv")])
    assert code == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["diverged"].startswith("the training loss became NaN or infinite in epoch 1")
    classes = 10
    assert metrics["test_accuracy"] == metrics["val_accuracy"] == 1 / classes
    assert metrics["train_loss"] == pytest.approx(math.log(classes))
    history = pd.read_csv(out / "history.csv")
    assert list(history["epoch"]) == [1] and history["val_accuracy"].iloc[0] == 1 / classes
    assert (out / "model.pt").is_file() and not (out / "checkpoint.pt").exists()
    sweep = pd.read_csv(tmp_path / "sweep.csv")
    assert list(sweep["ratio"]) == [0.0, 0.5] and sweep["diverged"].all()
    assert (sweep["test_accuracy"] == 1 / classes).all()
    # a finished run: resuming returns it as it is
    again = main(["train", "--config", str(tmp_path / "bad.yaml"), "--out", str(out),
                  "--resume", "--record-divergence"])
    assert again == 0


def test_finished_runs_and_foreign_checkpoints_are_never_overwritten(tmp_path):
    cfg = config(epochs=1)
    first = train(cfg, tmp_path)
    with pytest.raises(CheckpointError, match="already holds a finished run"):
        train(cfg, tmp_path)
    assert train(cfg, tmp_path, resume=True) == first  # idempotent: nothing retrained
    with pytest.raises(CheckpointError, match="different configuration"):
        train(config(epochs=1, seed=2), tmp_path, resume=True)
    other = config(epochs=2)
    with pytest.raises(Interrupted):
        train(other, tmp_path / "b", stop_at=(0, 1))
    with pytest.raises(CheckpointError, match="pass --resume"):
        train(other, tmp_path / "b")
    with pytest.raises(CheckpointError, match="belongs to a different configuration"):
        train(config(epochs=2, seed=5), tmp_path / "b", resume=True)


def test_corrupt_checkpoint_is_reported(tmp_path):
    cfg = config(epochs=2)
    with pytest.raises(Interrupted):
        train(cfg, tmp_path, stop_at=(0, 1))
    (tmp_path / "checkpoint.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match=r"checkpoint .*checkpoint.pt is corrupt"):
        train(cfg, tmp_path, resume=True)


BAD = [
    ({"optimiser": {}}, "unknown key 'optimiser' in the run config; allowed: optimizer, dataset"),
    ({"dataset": "mnist"}, "'dataset': 'mnist' is not allowed; allowed: cifar10, cifar100"),
    ({"model": "resnet1000"}, "'model': 'resnet1000' is not allowed"),
    ({"epochs": 0}, "'epochs' must be >= 1, got 0"),
    ({"epochs": "ten"}, "'epochs' must be an integer"),
    ({"device": "tpu"}, "'device': 'tpu' is not allowed; allowed: auto, cpu, cuda"),
    ({"optimizer": {"name": "adam"}},
     "'optimizer.name': 'adam' is not allowed; allowed: sfw, sgd, prox_sgd"),
    ({"optimizer": {"name": "sfw"}}, "missing required key 'optimizer.constraint'"),
    ({"optimizer": {"name": "sfw", "constraint": {"family": "l7"}}},
     "'optimizer.constraint.family': 'l7' is not allowed; allowed: l2, l1, linf"),
    ({"optimizer": {"name": "sfw", "constraint": {"family": "k_support"}}},
     "'optimizer.constraint': k is required for family 'k_support'"),
    ({"optimizer": {"name": "sfw", "constraint": {"family": "k_support", "k": 0}}},
     "'optimizer.constraint.k': k must be an int count >= 1"),
    ({"optimizer": {"name": "sfw", "constraint": {"family": "group_k_support", "k": 1000}}},
     "'optimizer.constraint': k=1000 is larger than the 32 output filters"),
    ({"optimizer": {"name": "sfw", "rescale": "sqrt", "constraint": {"family": "l2"}}},
     "'optimizer.rescale': 'sqrt' is not allowed; "
     "allowed: gradient, fast_gradient, diameter, none"),
    ({"optimizer": {"name": "sfw", "lr": 2.0, "rescale": "none", "constraint": {"family": "l2"}}},
     "step size itself"),
    ({"optimizer": {"name": "sgd", "rescale": "gradient"}},
     "unknown key 'optimizer.rescale' in optimizer; allowed: name, lr, momentum, weight_decay"),
    ({"optimizer": {"name": "sgd", "momentun": 0.8}}, "unknown key 'optimizer.momentun'"),
    ({"optimizer": {"name": "sgd", "lr": -1}}, "'optimizer.lr' must be > 0.0, got -1"),
    ({"optimizer": {"name": "sgd", "penalty": {"type": "l1", "strength": 1}}},
     "'optimizer.penalty.type': 'l1' is not allowed; allowed: group_lasso, nuclear"),
    ({"optimizer": {"name": "sgd", "penalty": {"type": "group_lasso", "strength": -1}}},
     "'optimizer.penalty.strength' must be >= 0.0, got -1"),
    ({"optimizer": {"name": "prox_sgd"}}, "missing required key 'optimizer.threshold'"),
    ({"schedule": {"name": "exponential"}}, "'schedule.name': 'exponential' is not allowed"),
    ({"schedule": {"warmup_epochs": 5}}, "'schedule.warmup_epochs' must lie in [0, epochs"),
    ({"dataset": "synthetic", "dataset_options": {"train_size": 0}},
     "'dataset_options.train_size' must be >= 1, got 0"),
]


@pytest.mark.parametrize("change, message", BAD, ids=[m[:40] for _, m in BAD])
def test_bad_configs_are_rejected_before_any_work(tmp_path, change, message, capsys):
    raw = config().to_dict()
    raw.update(change)
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(raw))
    code = main(["train", "--config", str(path), "--out", str(tmp_path / "run")])
    err = capsys.readouterr().err
    assert code == 2 and message in err, err
    assert not (tmp_path / "run").exists()  # nothing was started


def test_missing_dataset_is_reported_before_training(tmp_path, capsys):
    raw = config().to_dict()
    raw.update(dataset="cifar10", dataset_options={}, data_root=str(tmp_path / "nothing"))
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(raw))
    code = main(["train", "--config", str(tmp_path / "c.yaml"), "--out", str(tmp_path / "run")])
    err = capsys.readouterr().err
    assert code == 1 and "download: true" in err and "cifar-10-batches-py" in err


def test_schedules_step_per_iteration_with_warmup():
    f = lr_factor(ScheduleSpec(name="linear", warmup_epochs=1), epochs=5, per_epoch=10)
    assert [round(f(t), 3) for t in (0, 4, 9)] == [0.1, 0.5, 1.0]
    assert f(10) == 1.0 and f(30) == pytest.approx(0.5) and f(49) == pytest.approx(1 / 40)
    cos = lr_factor(ScheduleSpec(name="cosine"), epochs=4, per_epoch=10)
    assert cos(0) == 1.0 and cos(20) == pytest.approx(0.5) and cos(40) == pytest.approx(0.0)
    multi = lr_factor(ScheduleSpec(name="multistep", milestones=[2, 3]), epochs=4, per_epoch=10)
    assert [multi(t) for t in (19, 20, 30)] == [1.0, pytest.approx(0.1), pytest.approx(0.01)]
    step = lr_factor(ScheduleSpec(name="step", step_size=1, gamma=0.5), epochs=3, per_epoch=10)
    assert [step(t) for t in (9, 10, 25)] == [1.0, 0.5, 0.25]
    assert lr_factor(ScheduleSpec(name="constant"), epochs=3, per_epoch=10)(29) == 1.0


@pytest.mark.parametrize("optimizer", [
    None,  # SFW
    {"name": "sgd", "lr": 0.05, "momentum": 0.9},
    {"name": "prox_sgd", "lr": 0.05, "momentum": 0.9, "threshold": 0.1},
], ids=["sfw", "sgd", "prox_sgd"])
def test_a_training_job_imports_only_what_it_uses(tmp_path, optimizer):
    # each of the pipeline's many jobs pays for its imports: pandas, scikit-learn, torchvision
    # the compiler (torch._dynamo) and ZeRO's FSDP/DTensor stack are not needed to train the
    # digits CNN with SFW or with the baselines
    cfg = config(dataset="digits", dataset_options={}, epochs=1, batch_size=128,
                 **({"optimizer": optimizer} if optimizer else {}))
    (tmp_path / "run.yaml").write_text(yaml.safe_dump(cfg.to_dict()))
    code = ("import sys; from cafw.cli import main; "
            f"assert main(['train', '--config', {str(tmp_path / 'run.yaml')!r}, '--out', "
            f"{str(tmp_path / 'run')!r}]) == 0; "
            "heavy = [m for m in ('pandas', 'sklearn', 'torchvision', 'torch._dynamo', "
            "'torch.distributed.fsdp') "
            "if m in sys.modules]; assert not heavy, heavy")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]


def test_train_then_sweep_in_one_process_keeps_the_training_until_the_sweep_succeeds(
        tmp_path, monkeypatch):
    """`cafw train --sweep`: the pipeline's one process per run.  A failing sweep leaves the
    final checkpoint, so the retry (Snakemake first deletes the job's outputs) resumes the
    finished training instead of repeating it, and gets the same model and rows as a run
    whose sweep succeeded at once."""
    import cafw.compress.sweep as sweeps

    path = tmp_path / "run.yaml"
    path.write_text(yaml.safe_dump(config(epochs=2).to_dict()))
    args = ["train", "--config", str(path), "--resume", "--sweep", "filter", "0", "0.5",
            "--sweep", "unstructured", "0.5", "--physical", "filter"]

    assert main([*args, "--out", str(tmp_path / "once"),
                 "--sweep-out", str(tmp_path / "once.csv")]) == 0
    once = pd.read_csv(tmp_path / "once.csv")
    assert list(zip(once["kind"], once["ratio"])) == [("filter", 0), ("filter", 0.5),
                                                     ("unstructured", 0.5)]
    assert once.loc[once["kind"] == "filter", "physical_params"].notna().all()
    assert once.loc[once["kind"] == "unstructured", "physical_params"].isna().all()
    assert not (tmp_path / "once" / "checkpoint.pt").exists()

    def broken(*args, **kwargs):
        raise RuntimeError("the sweep failed")

    monkeypatch.setattr(sweeps, "sweep", broken)
    out = tmp_path / "retried"
    with pytest.raises(RuntimeError, match="the sweep failed"):
        main([*args, "--out", str(out), "--sweep-out", str(tmp_path / "retried.csv")])
    assert (out / "checkpoint.pt").exists()
    for name in ("metrics.json", "model.pt", "history.csv"):  # what Snakemake removes
        (out / name).unlink()
    monkeypatch.undo()
    trained = []
    monkeypatch.setattr("cafw.train.loop._epoch_row",
                        lambda *a, **k: trained.append(1) or pytest.fail("trained again"))
    assert main([*args, "--out", str(out), "--sweep-out", str(tmp_path / "retried.csv")]) == 0
    assert not trained and not (out / "checkpoint.pt").exists()
    assert all(torch.equal(a, b) for a, b in zip(_weights(out).values(),
                                                 _weights(tmp_path / "once").values()))
    retried = pd.read_csv(tmp_path / "retried.csv")
    accuracy = ["val_accuracy", "test_accuracy"]
    pd.testing.assert_frame_equal(retried[accuracy], once[accuracy])


def test_sweep_arguments_must_come_together(tmp_path, capsys):
    path = tmp_path / "run.yaml"
    path.write_text(yaml.safe_dump(config().to_dict()))
    code = main(["train", "--config", str(path), "--out", str(tmp_path / "run"),
                 "--sweep", "filter", "0.5"])
    assert code == 2 and "--sweep-out" in capsys.readouterr().err
    code = main(["train", "--config", str(path), "--out", str(tmp_path / "run"), "--sweep",
                 "filter", "0.5", "--physical", "lowrank", "--sweep-out", str(tmp_path / "s.csv")])
    assert code == 2 and "--physical lowrank: not swept" in capsys.readouterr().err
    assert not (tmp_path / "run").exists()

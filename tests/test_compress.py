"""Compression after training: filter pruning, low-rank, unstructured, cost counting, the
physically pruned model, and the sweep end to end on a tiny trained digits run."""

import copy
import json
import shutil
import sys
from pathlib import Path

import pandas as pd
import pytest
import torch
import torch.nn.utils.prune as torch_prune
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from architectures import ARCHITECTURES, SMALL_INPUTS
from cafw.cli import main
from cafw.compress import (
    FilterPruner,
    LowRankReconstruction,
    MagnitudePruner,
    count,
    filter_prune,
    filters_to_prune,
    inference_ms,
    kept_rank,
    load_compressed,
    lowrank_decompose,
    model_cost,
    output_positions,
    physically_pruned,
    state_bytes,
    unstructured_prune,
)
from cafw.compress.layers import replace_module
from cafw.compress.lowrank import FactorisedConv
from cafw.compress.sweep import physical_columns, sweep
from cafw.evaluation import evaluate
from cafw.extras import MissingExtra
from cafw.models import build_model
from cafw.models.resnet_cifar import PadShortcut, PrunedPadShortcut
from cafw.models.vgg import VGG
from cafw.runtime import set_up
from cafw.spec import load_run
from cafw.train import CheckpointError, train


def tiny_net() -> nn.Module:
    """Strided, padded, dilated, bias-free and 1x1 convs plus a Linear, on 3x10x10 inputs."""
    torch.manual_seed(0)
    net = nn.Sequential(
        nn.Conv2d(3, 8, 3, stride=2, padding=1), nn.BatchNorm2d(8), nn.ReLU(),
        nn.Conv2d(8, 12, 3, padding=2, dilation=2, bias=False), nn.BatchNorm2d(12), nn.ReLU(),
        nn.Conv2d(12, 5, 1), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(5, 4))
    return _trained_looking(net)


def _trained_looking(net: nn.Module) -> nn.Module:
    """Random BatchNorm affine parameters and statistics, so BN is not the identity."""
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.weight.uniform_(0.5, 1.5)
                m.bias.normal_(0, 0.2)
                m.running_mean.normal_(0, 0.2)
                m.running_var.uniform_(0.5, 2)
    return net.eval()


def small_cnn() -> nn.Module:
    torch.manual_seed(1)
    return _trained_looking(build_model("cnn_small", 10, (1, 8, 8)))


def convs(model):
    return {n: m for n, m in model.named_modules() if isinstance(m, nn.Conv2d)}


def snapshot(model):
    return {k: v.clone() for k, v in model.state_dict().items()}


# -- filter pruning -----------------------------------------------------------------------------

def test_prune_count_rounds_like_torch():
    for channels in (1, 5, 8, 12, 32, 64):
        for ratio in (0.0, 0.05, 0.1, 0.3125, 0.4375, 0.5, 0.9, 0.99):
            assert filters_to_prune(ratio, channels) == \
                torch_prune._compute_nparams_toprune(ratio, channels)
    assert filters_to_prune(0.3125, 8) == 2 and filters_to_prune(0.4375, 8) == 4  # half to even


@pytest.mark.parametrize("ratio", [0.3, 0.5, 0.4375])
def test_filter_pruning_zeros_the_smallest_l1_filters_only(ratio):
    model = small_cnn()
    before = snapshot(model)
    reference = small_cnn()
    filter_prune(model, ratio)
    for name, conv in convs(model).items():
        dense = before[f"{name}.weight"]
        zero = (conv.weight.flatten(1) == 0).all(1)
        assert int(zero.sum()) == round(ratio * conv.out_channels)
        norms = dense.flatten(1).abs().sum(1)
        assert norms[zero].max() <= norms[~zero].min()
        assert torch.equal(conv.weight[~zero], dense[~zero])  # kept filters untouched
        # The same mask as torch's ln_structured, which the authors used.
        ref = torch_prune.ln_structured(convs(reference)[name], "weight", amount=ratio, n=1,
                                        dim=0)
        assert torch.equal(ref.weight_mask.flatten(1).all(1), ~zero)
    for key, value in model.state_dict().items():
        if not (key.endswith(".weight") and key.rsplit(".", 1)[0] in convs(model)):
            assert torch.equal(value, before[key]), key  # BN, biases, classifier unchanged


def test_filter_ratio_zero_changes_nothing_and_pruner_restores():
    model = tiny_net()
    before = snapshot(model)
    filter_prune(model, 0.0)
    assert all(torch.equal(v, before[k]) for k, v in model.state_dict().items())
    pruner = FilterPruner(model)
    pruner.apply(0.6)
    pruner.apply(0.3)  # starts from the trained weights, not from the 0.6 state
    fresh = tiny_net()
    filter_prune(fresh, 0.3)
    assert all(torch.equal(v, fresh.state_dict()[k]) for k, v in model.state_dict().items())
    pruner.restore()
    assert all(torch.equal(v, before[k]) for k, v in model.state_dict().items())


# -- low-rank -----------------------------------------------------------------------------------

def test_rank_formula():
    assert kept_rank(0.0, 8, 27) == 8
    assert kept_rank(0.3, 8, 27) == 5  # floor(0.7 * 8)
    assert kept_rank(0.3, 64, 32 * 9) == 44  # floor(0.7 * 64)
    assert kept_rank(0.5, 12, 8) == 4  # min(C_out, C_in*kh*kw) = 8
    assert kept_rank(0.99, 8, 27) == 1  # never below 1
    ranks = LowRankReconstruction(tiny_net()).ranks(0.5)
    assert ranks == {"0": 4, "3": 6, "6": 2}


def test_full_rank_decomposition_reproduces_the_model():
    model = tiny_net()
    x = torch.randn(4, 3, 10, 10)
    factored = lowrank_decompose(model, 0.0).eval()
    with torch.no_grad():
        assert torch.allclose(factored(x), model(x), atol=1e-4)
    first, second = factored[3]  # the dilated, bias-free conv
    assert (first.stride, first.padding, first.dilation) == ((1, 1), (2, 2), (2, 2))
    assert first.weight.shape == (12, 8, 3, 3) and first.bias is None
    assert second.weight.shape == (12, 12, 1, 1) and second.bias is None
    assert factored[0][0].stride == (2, 2) and factored[0][1].bias is not None
    assert all(isinstance(m, nn.Conv2d) for m in factored[3])
    assert isinstance(factored[9], nn.Linear)  # Linear layers are not decomposed


@pytest.mark.parametrize("make", [tiny_net, small_cnn])
def test_reconstruction_equals_factorised_model(make):
    model = make()
    shape = (4, 3, 10, 10) if make is tiny_net else (4, 1, 8, 8)
    x = torch.randn(shape)
    factored = lowrank_decompose(model, 0.5).eval()
    reconstruction = LowRankReconstruction(model)
    ranks = reconstruction.apply(0.5)
    with torch.no_grad():
        assert torch.allclose(model(x), factored(x), atol=1e-4)
    for name, r in ranks.items():
        assert factored.get_submodule(name)[0].out_channels == r
        assert torch.linalg.matrix_rank(convs(model)[name].weight.flatten(1)) == r
    # The cost counted for the reconstruction is the factorised model's real cost.
    example = torch.zeros(1, *shape[1:])
    assert count(model, output_positions(model, example), ranks) == model_cost(factored, example)


def test_lowrank_ratio_zero_is_the_trained_weights_and_restores():
    model = tiny_net()
    before = snapshot(model)
    reconstruction = LowRankReconstruction(model)
    reconstruction.apply(0.0)
    assert all(torch.equal(v, before[k]) for k, v in model.state_dict().items())
    reconstruction.apply(0.7)
    assert not torch.equal(model[3].weight, before["3.weight"])
    reconstruction.restore()
    assert all(torch.equal(v, before[k]) for k, v in model.state_dict().items())


def test_grouped_convs_are_rejected():
    net = nn.Sequential(nn.Conv2d(4, 4, 3, groups=2))
    with pytest.raises(ValueError, match="groups=2"):
        lowrank_decompose(net, 0.5)


# -- unstructured -------------------------------------------------------------------------------

@pytest.mark.parametrize("ratio", [0.0, 0.3, 0.75])
def test_global_magnitude_pruning(ratio):
    model = tiny_net()
    before = snapshot(model)
    reference = tiny_net()
    unstructured_prune(model, ratio)
    weights = [k for k in before if k.endswith(".weight") and before[k].dim() in (2, 4)]
    total = sum(before[k].numel() for k in weights)
    zeros = sum(int((model.state_dict()[k] == 0).sum()) for k in weights)
    assert zeros == round(ratio * total)
    pruned = torch.cat([before[k][model.state_dict()[k] == 0].abs() for k in weights])
    kept = torch.cat([before[k][model.state_dict()[k] != 0].abs() for k in weights])
    if len(pruned):
        assert pruned.max() <= kept.min()
    for key, value in model.state_dict().items():
        if key not in weights:
            assert torch.equal(value, before[key]), key  # biases and BatchNorm untouched
    # The same mask as torch's global_unstructured with L1Unstructured.
    targets = [(m, "weight") for m in reference.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    torch_prune.global_unstructured(targets, torch_prune.L1Unstructured, amount=ratio)
    for (m, _), key in zip(targets, weights):
        assert torch.equal(m.weight_mask.bool(), model.state_dict()[key] != 0)


def test_magnitude_pruner_reuses_one_order():
    model = tiny_net()
    before = snapshot(model)
    pruner = MagnitudePruner(model)
    assert pruner.apply(0.8) == round(0.8 * pruner.total)
    pruner.apply(0.2)
    fresh = tiny_net()
    unstructured_prune(fresh, 0.2)
    assert all(torch.equal(v, fresh.state_dict()[k]) for k, v in model.state_dict().items())
    pruner.restore()
    assert all(torch.equal(v, before[k]) for k, v in model.state_dict().items())


# -- parameters and FLOPs -----------------------------------------------------------------------

def test_cost_of_a_tiny_net_by_hand():
    model = tiny_net()
    example = torch.zeros(1, 3, 10, 10)
    positions = output_positions(model, example)
    assert positions == {"0": 25, "3": 25, "6": 25, "9": 1}  # 10x10 -> 5x5 (stride 2)
    # conv 3->8 3x3 + bias; conv 8->12 3x3; conv 12->5 1x1 + bias; linear 5->4; BN 2*(8+12)
    params = (8 * 27 + 8) + 12 * 72 + (5 * 12 + 5) + (4 * 5 + 4) + 2 * (8 + 12)
    macs = 8 * 27 * 25 + 12 * 72 * 25 + 5 * 12 * 25 + 4 * 5
    cost = count(model, positions)
    assert (cost.params, cost.macs, cost.flops) == (params, macs, 2 * macs) == (1217, 28520, 57040)
    with torch.no_grad():
        model[3].weight[:6] = 0  # half the filters of the middle conv: half its MACs
    cost = count(model, positions)
    assert (cost.params, cost.macs) == (params - 6 * 72, macs - 6 * 72 * 25)
    # rank 2 of the middle conv: 2*(8*9) + 12*2 weights at 25 positions
    cost = count(tiny_net(), positions, ranks={"3": 2})
    assert (cost.params, cost.macs) == (params - 864 + 168, macs - 864 * 25 + 168 * 25)


def test_cost_counting_runs_in_eval_mode_without_touching_batchnorm():
    model = small_cnn().train()
    before = snapshot(model)
    output_positions(model, torch.randn(2, 1, 8, 8))
    assert model.training
    assert all(torch.equal(v, before[k]) for k, v in model.state_dict().items())


# -- physical filter pruning --------------------------------------------------------------------

def _silence_pruned_channels(model: nn.Module, pruned: dict) -> None:
    """Shift each pruned channel's BatchNorm so relu(BN(conv bias)) = 0, the case in which
    masking and removal compute the same function."""
    layers = list(model.features)
    with torch.no_grad():
        for name, idx in pruned.items():
            i = int(name.split(".")[1])
            conv, bn = layers[i], layers[i + 1]
            bias = conv.bias[idx] if conv.bias is not None else torch.zeros(len(idx))
            scale = bn.weight[idx] / torch.sqrt(bn.running_var[idx] + bn.eps)
            bn.bias[idx] = -scale * (bias - bn.running_mean[idx]) - 1.0


def narrow_vgg() -> nn.Module:
    """vgg16's class (five pools to 1x1, then flatten into the classifier), narrow and fast."""
    return VGG([16, "M", 16, 32, "M", 32, "M", 32, "M", 32, "M"], 10, 3)


@pytest.mark.parametrize("make, shape", [
    (lambda: build_model("cnn_small", 10, (1, 8, 8)), (1, 8, 8)),
    (narrow_vgg, (3, 32, 32)),
], ids=["cnn_small", "vgg"])
def test_physical_model_of_a_sequential_net_is_the_masked_model(make, shape):
    pytest.importorskip("torch_pruning")
    torch.manual_seed(2)
    model = _trained_looking(make())
    pruned = filter_prune(model, 0.5)
    _silence_pruned_channels(model, pruned)
    x = torch.randn(2, *shape)
    small, removed = physically_pruned(model, pruned, x[:1])
    # No conv shares its channels: exactly the masked filters go, and nothing else.
    assert {name: removed[name] for name in pruned} == \
        {name: sorted(idx.tolist()) for name, idx in pruned.items()}
    with torch.no_grad():
        assert torch.allclose(small(x), model(x), atol=1e-5)
    for conv, (cname, idx) in zip(convs(small).values(), pruned.items()):
        assert conv.out_channels == convs(model)[cname].out_channels - len(idx)
    assert not small.training and not any(m.training for m in small.modules())
    times = inference_ms({"dense": model, "small": small}, x, repeats=2)
    assert set(times) == {"dense", "small"} and all(t > 0 for t in times.values())


def test_physical_model_keeps_the_mode_of_the_model():
    pytest.importorskip("torch_pruning")
    model = build_model("cnn_small", 10, (1, 8, 8)).eval()
    small, _ = physically_pruned(model, filter_prune(model, 0.5), torch.zeros(1, 1, 8, 8))
    assert not any(m.training for m in small.modules())


def _zero_channels(model: nn.Module, removed: dict[str, list[int]]) -> list:
    """Forward hooks that zero each layer's removed output channels: the masked model with
    every removed channel silenced wherever it is computed."""
    def hook(indices):
        def zero(module, inputs, output):
            output = output.clone()
            output[:, indices] = 0
            return output
        return zero
    return [model.get_submodule(name).register_forward_hook(hook(torch.tensor(indices)))
            for name, indices in removed.items()]


@pytest.mark.parametrize("name", ARCHITECTURES)
def test_physical_model_of_every_architecture(name):
    """Coupled residual channels go together: the physical model computes exactly what the
    masked model computes with the removed channels silenced, convs that share no channels lose
    exactly their masked filters, and every conv keeps C - round(ratio * C) filters."""
    pytest.importorskip("torch_pruning")
    channels, side = SMALL_INPUTS[name]
    torch.manual_seed(3)
    model = _trained_looking(build_model(name, 10, (channels, side, side)))
    pruned = filter_prune(model, 0.5)
    x = torch.randn(2, channels, side, side)
    small, removed = physically_pruned(model, pruned, x[:1])
    hooks = _zero_channels(model, removed)
    with torch.no_grad():
        assert torch.allclose(small(x), model(x), atol=1e-5)
    for hook in hooks:
        hook.remove()
    matches = {n: removed[n] == sorted(idx.tolist()) for n, idx in pruned.items()}
    assert all(matches.values()) == (name in ("cnn_small", "mnist_cnn", "vgg16"))
    if name != "cnn_small":  # in the residual nets, e.g. the first conv of a block
        assert any(matches.values())
    for cname, conv in convs(small).items():
        assert conv.out_channels == convs(model)[cname].out_channels - len(pruned[cname])
    dense_params = sum(p.numel() for p in model.parameters())
    # half the filters: about a quarter of a conv net's weights; mnist_cnn's are mostly its
    # first linear layer, which loses half its inputs
    bound = 0.55 if name == "mnist_cnn" else 0.3
    assert sum(p.numel() for p in small.parameters()) < bound * dense_params


def test_pruned_pad_shortcut_is_the_option_a_shortcut():
    shortcut = PadShortcut(16, 32)
    x = torch.randn(2, 16, 8, 8)
    explicit = PrunedPadShortcut(shortcut.sources(), 16)
    assert explicit.sources == [-1] * 8 + list(range(16)) + [-1] * 8
    assert torch.equal(explicit(x), shortcut(x))
    # channel 0 carries input 3, channel 1 is zero
    assert torch.equal(PrunedPadShortcut([3, -1], 16)(x)[:, 0], x[:, 3, ::2, ::2])
    assert not PrunedPadShortcut([3, -1], 16)(x)[:, 1].any()


def test_physical_pruning_rejects_empty_layers():
    pytest.importorskip("torch_pruning")
    model = small_cnn()
    pruned = filter_prune(model, 0.99)  # round(0.99 * 32) = 32: nothing left of the first conv
    with pytest.raises(ValueError, match="every filter"):
        physically_pruned(model, pruned, torch.zeros(1, 1, 8, 8))


def test_without_torch_pruning_one_message_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "torch_pruning", None)  # as if not installed
    model = small_cnn()
    with pytest.raises(MissingExtra, match=r"torch_pruning .*\[prune\] extra"):
        physically_pruned(model, filter_prune(model, 0.5), torch.zeros(1, 1, 8, 8))


# -- the FLOP counter against torch's ----------------------------------------------------------

def _factorised_shape(model: nn.Module, ratio: float) -> nn.Module:
    """``lowrank_decompose``'s architecture without its SVDs (seconds per large conv on a
    loaded CPU): FLOPs depend on shapes only."""
    model = copy.deepcopy(model)
    for name, conv in convs(model).items():
        rank = kept_rank(ratio, conv.out_channels, conv.weight[0].numel())
        replace_module(model, name, FactorisedConv.like(conv, rank))
    return model


@pytest.mark.parametrize("name", ARCHITECTURES)
def test_flop_count_equals_torch_flop_counter(name):
    """Our counter (Conv2d and Linear MACs from weights and recorded output sizes, x2) against
    torch.utils.flop_counter, which counts the convolutions and matrix products it runs, on
    the dense model and its rank factorisation.  Neither counts BatchNorm, pooling or adds.
    Small inputs suffice: the count scales with the output positions it records."""
    channels, side = SMALL_INPUTS[name]
    torch.manual_seed(0)
    dense = build_model(name, 10, (channels, side, side)).eval()
    factorised = _factorised_shape(dense, 0.5).eval()
    x = torch.zeros(1, channels, side, side)
    positions = output_positions(dense, x)
    ranks = {n: f[0].out_channels for n, f in factorised.named_modules()
             if isinstance(f, FactorisedConv)}
    for model, ours in [
        (dense, count(dense, positions, nonzero_only=False).flops),
        (factorised, model_cost(factorised, x, nonzero_only=False).flops),
        # the sweep's count: the dense model's positions and the ranks, without the factors
        (factorised, count(dense, positions, ranks, nonzero_only=False).flops),
    ]:
        with FlopCounterMode(display=False) as counter, torch.no_grad():
            model(x)
        assert ours == counter.get_total_flops()


# -- the sweep ----------------------------------------------------------------------------------

RATIOS = [0.0, 0.3, 0.6]


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    out = tmp_path_factory.mktemp("compress") / "run"
    config = load_run({"dataset": "digits", "model": "cnn_small", "epochs": 2,
                          "batch_size": 64, "device": "cpu",
                          "optimizer": {"name": "sgd", "lr": 0.05},
                          "tags": {"study": "compress-test", "grid_lr": 0.05}})
    metrics = train(config, out, progress=False, log=lambda line: None)
    return out, metrics


@pytest.mark.parametrize("kind", ["filter", "lowrank", "unstructured"])
def test_sweep_end_to_end(run, kind, tmp_path):
    run_dir, metrics = run
    csv = tmp_path / f"{kind}.csv"
    frame = pd.DataFrame(sweep(run_dir, kind, RATIOS, csv, device="cpu"))
    assert list(frame["ratio"]) == RATIOS and (frame["kind"] == kind).all()
    expected = {"dataset", "model", "method", "optimizer", "seed", "study", "grid_lr", "kind",
                "ratio", "val_accuracy", "dense_val_accuracy", "test_accuracy", "test_top5",
                "test_loss", "dense_test_accuracy", "params", "params_ratio", "macs", "flops",
                "flops_ratio", "eval_seconds", "run"}
    assert expected <= set(frame.columns)
    first = frame.iloc[0]
    assert first["test_accuracy"] == metrics["test_accuracy"]  # exactly, not approximately
    assert (frame["dense_test_accuracy"] == metrics["test_accuracy"]).all()
    assert first["val_accuracy"] == metrics["val_accuracy"]
    assert first["test_loss"] == pytest.approx(metrics["test_loss"], rel=1e-6)
    assert (frame["study"] == "compress-test").all() and (frame["run"] == str(run_dir)).all()
    assert (frame["flops"] == 2 * frame["macs"]).all()
    assert frame["params"].is_monotonic_decreasing and frame["flops"].is_monotonic_decreasing
    if kind != "lowrank":  # a full-rank factorisation has more parameters than the conv
        assert first["params_ratio"] == 1.0 and first["flops_ratio"] == 1.0
    assert frame.iloc[-1]["params_ratio"] < 0.6
    written = pd.read_csv(csv)
    assert list(written.columns) == list(frame.columns) and len(written) == len(RATIOS)


LATENCY_BATCHES = (1, 4)  # the sweep's default is (1, 256)


def test_sweep_options_add_columns(run, tmp_path):
    run_dir, metrics = run
    frame = pd.DataFrame(sweep(run_dir, "filter", RATIOS, tmp_path / "f.csv",
                               bn_recalibration=True, physical=True,
                               latency_batches=LATENCY_BATCHES, device="cpu"))
    assert frame["test_accuracy_bn_recalibrated"].between(0, 1).all()
    physical = physical_columns(LATENCY_BATCHES)
    assert frame[physical].notna().all().all()
    assert (frame["physical_params"].iloc[1:] < frame["params"].iloc[1:]).all()
    assert frame["physical_params"].iloc[0] == metrics["parameters"]
    assert frame["physical_flops"].is_monotonic_decreasing
    assert (frame["dense_bytes"] == (run_dir / "model.pt").stat().st_size).all()
    assert (frame["physical_bytes"].iloc[1:] < 0.6 * frame["dense_bytes"].iloc[1:]).all()
    assert frame["physical_test_accuracy"].between(0, 1).all()
    assert (frame[[c for c in physical if "_ms_batch" in c]] > 0).all().all()
    # The options add columns; the accuracies are those of the plain sweep.
    plain = sweep(run_dir, "filter", RATIOS, tmp_path / "p.csv", device="cpu")
    assert list(frame["test_accuracy"]) == [row["test_accuracy"] for row in plain]


def test_a_ratio_without_a_physical_model_has_nan_columns(run, tmp_path):
    """At 0.99 every filter of each conv is pruned: no model with zero channels exists."""
    pytest.importorskip("torch_pruning")
    run_dir, _ = run
    with pytest.warns(UserWarning, match="no physical model at ratio 0.99: every filter"):
        frame = pd.DataFrame(sweep(run_dir, "filter", [0.3, 0.99], tmp_path / "f.csv",
                                   physical=True, latency_batches=LATENCY_BATCHES,
                                   device="cpu"))
    columns = physical_columns(LATENCY_BATCHES)
    assert frame[columns].iloc[0].notna().all() and frame[columns].iloc[1].isna().all()


def test_physical_columns_are_nan_without_torch_pruning(run, tmp_path, monkeypatch):
    run_dir, _ = run
    monkeypatch.setitem(sys.modules, "torch_pruning", None)  # as if not installed
    with pytest.warns(UserWarning, match=r"physical columns stay NaN.*\[prune\] extra") as caught:
        frame = pd.DataFrame(sweep(run_dir, "filter", RATIOS, tmp_path / "f.csv", physical=True,
                                   latency_batches=LATENCY_BATCHES, device="cpu"))
    assert len([w for w in caught if "physical" in str(w.message)]) == 1
    assert frame[physical_columns(LATENCY_BATCHES)].isna().all().all()
    assert frame["test_accuracy"].notna().all()
    # Saving a physically pruned model is an explicit request: it fails before any work.
    with pytest.raises(MissingExtra, match=r"\[prune\]"):
        sweep(run_dir, "filter", RATIOS, tmp_path / "s.csv", save_dir=tmp_path / "saved",
              device="cpu")
    assert not (tmp_path / "s.csv").exists()


@pytest.mark.parametrize("kind", ["filter", "lowrank", "unstructured"])
def test_saved_compressed_model_reloads_with_the_accuracy_of_its_row(run, kind, tmp_path):
    """A saved model is the deployable one (physically pruned, factorised, or masked) and
    evaluates to the very accuracy the sweep reported for it."""
    if kind == "filter":
        pytest.importorskip("torch_pruning")
    run_dir, _ = run
    frame = pd.DataFrame(sweep(run_dir, kind, RATIOS, tmp_path / "s.csv",
                               save_dir=tmp_path / "saved", save_ratios=[0.6],
                               latency_batches=LATENCY_BATCHES, device="cpu"))
    saved = frame.set_index("ratio")["saved_to"]
    assert saved.isna().tolist() == [True, True, False]
    directory = Path(saved[0.6])
    assert directory == tmp_path / "saved" / f"{kind}-0.6"
    model = load_compressed(directory)
    data = set_up(load_run(run_dir / "run.yaml"), device="cpu").data
    row = frame.set_index("ratio").loc[0.6]
    expected = row["test_accuracy"] if kind == "unstructured" else row["physical_test_accuracy"]
    assert evaluate(model, data.test)["accuracy"] == expected
    assert state_bytes(model) == (directory / "model.pt").stat().st_size
    spec = json.loads((directory / "spec.json").read_text())
    assert spec["about"]["test_accuracy"] == expected and spec["about"]["ratio"] == 0.6
    if kind == "lowrank":  # factorised, not reconstructed
        factorised = [m for m in model.modules() if isinstance(m, FactorisedConv)]
        assert len(factorised) == 3 and all(f[1].kernel_size == (1, 1) for f in factorised)
        assert spec["ranks"] == {n: f[0].out_channels for n, f in model.named_modules()
                                 if isinstance(f, FactorisedConv)}
    if kind == "filter":
        assert sum(p.numel() for p in model.parameters()) == row["physical_params"]
    else:  # the row counts the masked model's nonzero weights, or the factorised model's
        assert model_cost(model, torch.zeros(1, 1, 8, 8)).params == row["params"]


def test_compress_and_bench_commands_write_compressed_models(run, tmp_path, capsys):
    pytest.importorskip("torch_pruning")
    run_dir, _ = run
    code = main(["compress", "--run", str(run_dir), "--kind", "filter", "--ratios", "0", "0.6",
                 "--out", str(tmp_path / "f.csv"), "--physical", "--latency-batches", "1", "2",
                 "--save", str(tmp_path / "models"), "--save-ratios", "0.6", "--device", "cpu"])
    assert code == 0 and "physical_test_accuracy" in capsys.readouterr().out
    assert {"physical_ms_batch2", "saved_to"} <= set(pd.read_csv(tmp_path / "f.csv").columns)
    assert load_compressed(tmp_path / "models" / "filter-0.6")
    code = main(["bench", "compressed", "--model", "cnn_small", "--latency-batches", "1", "2",
                 "--rounds", "1", "--device", "cpu", "--out", str(tmp_path / "b.csv")])
    table = pd.read_csv(tmp_path / "b.csv").set_index("variant")
    assert code == 0 and table.loc["filter", "params"] < 0.3 * table.loc["dense", "params"]
    assert table.loc["filter", "ms_batch2"] > 0


def test_a_narrow_model_reloads_at_its_width(tmp_path):
    from cafw.compress import save_compressed

    model = build_model("resnet56", 10, (3, 32, 32), 0.25).eval()
    save_compressed(model, tmp_path / "m", name="resnet56", num_classes=10,
                    input_shape=(3, 32, 32), width=0.25)
    loaded = load_compressed(tmp_path / "m")
    assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(),
                                                 loaded.state_dict().values(), strict=True))


def test_load_compressed_reports_a_directory_without_a_model(tmp_path):
    with pytest.raises(CheckpointError, match="no saved compressed model"):
        load_compressed(tmp_path)


def test_sweep_rejects_bad_arguments(run, tmp_path):
    run_dir, _ = run
    with pytest.raises(ValueError, match="unknown compression kind"):
        sweep(run_dir, "prune-everything", RATIOS, tmp_path / "x.csv")
    with pytest.raises(ValueError, match=r"\[0, 1\)"):
        sweep(run_dir, "filter", [0.3, 1.5], tmp_path / "x.csv")
    with pytest.raises(ValueError, match="filter and lowrank"):
        sweep(run_dir, "unstructured", RATIOS, tmp_path / "x.csv", physical=True)
    with pytest.raises(ValueError, match="not among the sweep's ratios"):
        sweep(run_dir, "lowrank", RATIOS, tmp_path / "x.csv", save_dir=tmp_path,
              save_ratios=[0.5])
    with pytest.raises(ValueError, match="no directory"):
        sweep(run_dir, "lowrank", RATIOS, tmp_path / "x.csv", save_ratios=[0.3])
    assert not (tmp_path / "x.csv").exists()


def test_sweep_reports_broken_runs(run, tmp_path):
    run_dir, _ = run
    broken = tmp_path / "broken"
    shutil.copytree(run_dir, broken)
    (broken / "model.pt").write_bytes(b"definitely not a checkpoint")
    with pytest.raises(CheckpointError, match="model.pt"):
        sweep(broken, "filter", RATIOS, tmp_path / "x.csv", device="cpu")
    (broken / "metrics.json").unlink()
    with pytest.raises(CheckpointError, match="not a finished run of `cafw train`"):
        sweep(broken, "filter", RATIOS, tmp_path / "x.csv", device="cpu")
    assert json.loads((run_dir / "metrics.json").read_text())  # the original is intact

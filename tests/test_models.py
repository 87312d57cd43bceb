import subprocess
import sys

import pytest
import torch
from torch import nn

from cafw.compress.filter_prune import filters_to_prune
from cafw.models import build_model
from cafw.vocabulary import MODELS

# name -> (in_channels, side) of the model's natural input
INPUTS = {
    "resnet18": (3, 32),
    "resnet56": (3, 32),
    "vgg16": (3, 32),
    "wrn28_10": (3, 32),
    "resnet50": (3, 64),
    "cnn_small": (1, 8),
    "mnist_cnn": (1, 14),
}

_built: dict[str, nn.Module] = {}


def model(name: str) -> nn.Module:
    """Each model is built once per session: WRN-28-10 and ResNet-50 are not cheap to build."""
    if name not in _built:
        torch.manual_seed(0)
        channels, side = INPUTS[name]
        _built[name] = build_model(name, 7, (channels, side, side)).eval()
    return _built[name]


def n_params(m: nn.Module) -> int:
    return sum(p.numel() for p in m.parameters())


def test_registry_names():
    assert set(MODELS) == set(INPUTS)


@pytest.mark.parametrize("name", sorted(INPUTS))
def test_forward_shape(name):
    channels, side = INPUTS[name]
    batch = 1 if name == "wrn28_10" else 2
    with torch.no_grad():
        out = model(name)(torch.randn(batch, channels, side, side))
    assert out.shape == (batch, 7)
    assert torch.isfinite(out).all()


@pytest.mark.parametrize("name", sorted(INPUTS))
def test_every_parametrised_module_can_reset(name):
    # The constraint code samples each module's default initialisation this way.
    owners = [m for m in model(name).modules()
              if next(m.parameters(recurse=False), None) is not None]
    assert owners
    for m in owners:
        assert callable(getattr(m, "reset_parameters", None)), type(m).__name__


@pytest.mark.parametrize("name, exact", [("resnet18", 11_173_962), ("resnet56", 853_018)])
def test_exact_param_counts(name, exact):
    assert n_params(build_model(name, 10, (3, 32, 32))) == exact


@pytest.mark.parametrize("name, approx", [("vgg16", 14.7e6), ("wrn28_10", 36.5e6)])
def test_approx_param_counts(name, approx):
    # 7 classes instead of 10 changes these counts by far less than 1%.
    assert abs(n_params(model(name)) - approx) / approx < 0.01


@pytest.mark.parametrize("name, first_block", [
    ("resnet18", ["conv1.weight", "bn1.weight", "bn1.bias", "bn1.running_mean"]),
    ("wrn28_10", ["bn1.weight", "bn1.bias", "bn1.running_mean", "bn1.running_var",
                  "bn1.num_batches_tracked", "conv1.weight", "conv1.bias"]),
])
def test_state_dict_keys_of_the_residual_nets(name, first_block):
    """Saved weights load by key: the residual nets share their stage builder
    (cafw.models.stages), which must keep each net's own names."""
    keys = list(model(name).state_dict())
    assert keys[0] == "conv1.weight" and keys[-2:] == ["linear.weight", "linear.bias"]
    block = [k.removeprefix("stages.0.0.") for k in keys if k.startswith("stages.0.0.")]
    assert block[:len(first_block)] == first_block
    assert any(k.startswith("stages.2.") for k in keys)  # three stages at least


@pytest.mark.parametrize("name", sorted(INPUTS))
def test_a_narrower_model_keeps_its_layers_with_fewer_channels(name):
    """A rehearsal's width: the same modules in the same order (the depth, the layer types and
    the names that pruning and saved weights go by), each conv's channels scaled."""
    channels, side = INPUTS[name]
    narrow = build_model(name, 7, (channels, side, side), 0.25).eval()
    full = dict(model(name).named_modules())
    assert [(n, type(m)) for n, m in narrow.named_modules()] == \
        [(n, type(m)) for n, m in full.items()]
    widest = max(m.out_channels for m in full.values() if isinstance(m, nn.Conv2d))
    assert max(m.out_channels for m in narrow.modules() if isinstance(m, nn.Conv2d)) \
        == widest // 4
    with torch.no_grad():
        assert narrow(torch.randn(2, channels, side, side)).shape == (2, 7)


@pytest.mark.parametrize("name", sorted(INPUTS))
def test_a_narrower_model_keeps_a_filter_in_every_conv_at_the_largest_ratio(name):
    """Filter pruning at the paper's largest ratio, 0.9, leaves every conv of a quarter-width
    model a filter, so that the rehearsal's physical sweep has a model at every ratio (a
    quarter of WRN-28-10's 16-channel stem is 4, all of which it would remove)."""
    channels, side = INPUTS[name]
    narrow = build_model(name, 7, (channels, side, side), 0.25)
    convs = [m.out_channels for m in narrow.modules() if isinstance(m, nn.Conv2d)]
    assert all(filters_to_prune(0.9, c) < c for c in convs)


def test_full_width_resnet50_is_torchvisions():
    from torchvision.models import resnet50

    torch.manual_seed(0)
    ours = build_model("resnet50", 10, (3, 64, 64))
    torch.manual_seed(0)
    theirs = resnet50(weights=None, num_classes=10)
    assert all(torch.equal(a, b) for a, b in zip(ours.state_dict().values(),
                                                 theirs.state_dict().values(), strict=True))


def test_in_channels_and_classes_are_honoured():
    m = build_model("resnet18", num_classes=100, input_shape=(1, 32, 32)).eval()
    with torch.no_grad():
        assert m(torch.randn(2, 1, 32, 32)).shape == (2, 100)


def test_pruning_layout_of_plain_chains():
    # Physical pruning walks features as Conv->BN->ReLU(->MaxPool) and then the classifier.
    for name in ("vgg16", "cnn_small"):
        m = model(name)
        kinds = [type(layer) for layer in m.features if not isinstance(layer, nn.MaxPool2d)]
        assert kinds == [nn.Conv2d, nn.BatchNorm2d, nn.ReLU] * (len(kinds) // 3)
        assert isinstance(m.classifier, nn.Linear)


def test_unknown_name_lists_allowed():
    with pytest.raises(ValueError, match="nope") as err:
        build_model("nope", 10, (3, 32, 32))
    assert ", ".join(sorted(MODELS)) in str(err.value)


def test_import_does_not_pull_in_torchvision():
    code = "import cafw.models, sys; assert 'torchvision' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)

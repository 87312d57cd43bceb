"""A physically smaller model for filter pruning of sequential conv nets.

Masking (``filter_prune``) keeps the architecture; here the pruned filters are removed from
each conv together with their BatchNorm channels and the matching input channels of the next
conv (or input features of the classifier).  That is only well defined for a plain
``features`` chain of Conv2d/BatchNorm2d/ReLU/MaxPool2d followed by global pooling and a Linear
``classifier`` (cnn_small, vgg16); residual additions couple the channels of several layers.

The two models compute the same function exactly when every pruned channel is 0 after its
activation.  Under the reference's masking semantics a pruned channel still emits
relu(BN(bias)), which a removed channel cannot, so accuracies can differ: the sweep reports the
masked model's accuracy and uses this model for its real size and speed.
"""

from __future__ import annotations

import copy
import statistics
import time

import torch
from torch import Tensor, nn

from ..device import autocast, synchronize

CHAIN = (nn.Conv2d, nn.BatchNorm2d, nn.ReLU, nn.MaxPool2d)
UNSUPPORTED = ("physical pruning supports sequential conv nets (cnn_small, vgg16); residual "
               "nets need coupled channel pruning, e.g. Torch-Pruning")


def check_sequential(model: nn.Module) -> None:
    """Raise ValueError unless ``model`` is a features chain plus a Linear classifier."""
    features = getattr(model, "features", None)
    classifier = getattr(model, "classifier", None)
    if (not isinstance(features, nn.Sequential) or not isinstance(classifier, nn.Linear)
            or not all(isinstance(m, CHAIN) for m in features)):
        raise ValueError(f"{type(model).__name__}: {UNSUPPORTED}")
    convs = [m for m in features if isinstance(m, nn.Conv2d)]
    if not convs or any(c.groups != 1 for c in convs):
        raise ValueError(f"{type(model).__name__}: {UNSUPPORTED}")
    if classifier.in_features != convs[-1].out_channels:
        raise ValueError(f"{type(model).__name__}: the classifier must read the globally pooled "
                         f"channels of the last conv; {UNSUPPORTED}")


@torch.no_grad()
def physically_pruned(model: nn.Module, pruned: dict[str, Tensor]) -> nn.Module:
    """A copy of ``model`` without the filters ``pruned`` (conv name -> filter indices, as
    returned by ``filter_prune`` / ``FilterPruner.apply``)."""
    check_sequential(model)
    model = copy.deepcopy(model)
    layers = []
    keep_in: Tensor | None = None  # input channels still present; None: all (the image)
    for index, layer in enumerate(model.features):
        if isinstance(layer, nn.Conv2d):
            keep_out = _kept(pruned.get(f"features.{index}"), layer.out_channels,
                             f"features.{index}")
            layer = _sliced_conv(layer, keep_in, keep_out)
            keep_in = keep_out
        elif isinstance(layer, nn.BatchNorm2d) and keep_in is not None:
            layer = _sliced_batchnorm(layer, keep_in)
        layers.append(layer)
    model.features = nn.Sequential(*layers)
    if keep_in is not None:
        model.classifier = _sliced_linear(model.classifier, keep_in)
    return model.train(model.training)  # new layers are built in train mode


def _kept(pruned: Tensor | None, channels: int, name: str) -> Tensor:
    keep = torch.ones(channels, dtype=torch.bool)
    if pruned is not None:
        keep[pruned.cpu()] = False
    if not keep.any():
        # torch has no zero-channel conv; and such a layer would make the net constant anyway.
        raise ValueError(f"every filter of {name!r} is pruned; a physical model needs at least "
                         "one filter per conv (use a smaller ratio)")
    return keep.nonzero().flatten()


def _sliced_conv(conv: nn.Conv2d, keep_in: Tensor | None, keep_out: Tensor) -> nn.Conv2d:
    w = conv.weight[keep_out.to(conv.weight.device)]
    if keep_in is not None:
        w = w[:, keep_in.to(w.device)]
    new = nn.Conv2d(w.shape[1], w.shape[0], conv.kernel_size, stride=conv.stride,
                    padding=conv.padding, dilation=conv.dilation, bias=conv.bias is not None,
                    padding_mode=conv.padding_mode, device=w.device, dtype=w.dtype)
    new.weight.copy_(w)
    if conv.bias is not None:
        new.bias.copy_(conv.bias[keep_out.to(w.device)])
    return new


def _sliced_batchnorm(bn: nn.BatchNorm2d, keep: Tensor) -> nn.BatchNorm2d:
    ref = bn.running_mean if bn.running_mean is not None else bn.weight
    keep = keep.to(ref.device)
    new = nn.BatchNorm2d(len(keep), eps=bn.eps, momentum=bn.momentum, affine=bn.affine,
                         track_running_stats=bn.track_running_stats, device=ref.device,
                         dtype=ref.dtype)
    if bn.affine:
        new.weight.copy_(bn.weight[keep])
        new.bias.copy_(bn.bias[keep])
    if bn.track_running_stats:
        new.running_mean.copy_(bn.running_mean[keep])
        new.running_var.copy_(bn.running_var[keep])
        new.num_batches_tracked.copy_(bn.num_batches_tracked)
    return new


def _sliced_linear(linear: nn.Linear, keep_in: Tensor) -> nn.Linear:
    w = linear.weight[:, keep_in.to(linear.weight.device)]
    new = nn.Linear(w.shape[1], w.shape[0], bias=linear.bias is not None, device=w.device,
                    dtype=w.dtype)
    new.weight.copy_(w)
    if linear.bias is not None:
        new.bias.copy_(linear.bias)
    return new


@torch.no_grad()
def inference_ms(models: dict[str, nn.Module], batch: Tensor, *, repeats: int = 5,
                 bf16: bool = False) -> dict[str, float]:
    """Median milliseconds of one eval-mode forward pass of ``batch`` per model.

    The models take turns within each repeat, so machine noise hits them alike; one warm-up
    pass each first (allocations, kernel selection).
    """
    times: dict[str, list[float]] = {name: [] for name in models}
    device = batch.device
    for model in models.values():
        model.eval()
        with autocast(device, bf16):
            model(batch)
    for _ in range(repeats):
        for name, model in models.items():
            synchronize(device)
            start = time.perf_counter()
            with autocast(device, bf16):
                model(batch)
            synchronize(device)
            times[name].append(1000 * (time.perf_counter() - start))
    return {name: statistics.median(t) for name, t in times.items()}

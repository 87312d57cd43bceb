"""How the ids of the tables read in the paper: the display names of datasets, models,
constraint families and compression kinds, what a compression ratio means for each kind, and
the small sentence pieces ('a, b and c', '+1.2') that the captions and findings share.  An id
without a display name is printed escaped, so a new dataset or kind never breaks the build.
"""

from __future__ import annotations

from .latex import tex_escape

KIND_TITLES = {"filter": "Filter pruning", "lowrank": "Low-rank decomposition",
               "unstructured": "Unstructured pruning"}
KIND_RATIO = {  # what the compression ratio s means, per kind
    "filter": "the fraction of output filters removed from every convolutional layer by "
              "smallest L1 norm, with BatchNorm left untouched",
    "lowrank": "the fraction of singular values discarded in every convolutional layer by "
               "truncated SVD",
    "unstructured": "the fraction of convolutional and linear weights set to zero by global "
                    "magnitude pruning",
}
KIND_ACTION = {  # "after <action>", with {p} the percentage
    "filter": "removing {p}\\,\\% of the filters of every convolutional layer",
    "lowrank": "discarding {p}\\,\\% of the singular values of every convolutional layer",
    "unstructured": "pruning {p}\\,\\% of the weights globally by magnitude",
}
DATASETS = {"digits": "digits", "cifar10": "CIFAR-10", "cifar100": "CIFAR-100",
            "imagenet": "ImageNet", "synthetic": "synthetic data"}
MODELS = {"cnn_small": "small CNN", "resnet18": "ResNet-18", "resnet56": "ResNet-56",
          "vgg16": "VGG-16", "wrn28_10": "WRN-28-10", "resnet50": "ResNet-50"}
FAMILIES = {"l1": "L1 ball", "l2": "L2 ball", "linf": "L-infinity ball", "k_sparse":
            "k-sparse polytope", "k_support": "k-support-norm ball", "group_k_support":
            "group-k-support-norm ball", "nuclear": "nuclear-norm ball", "spectral_k_support":
            "spectral-k-support-norm ball", "spectral_k_sparse": "spectral k-sparse polytope"}


def pretty(names: dict, key: str) -> str:
    return names.get(key, tex_escape(str(key).replace("_", "-")))


def kind_title(kind: str) -> str:
    """'Filter pruning', as a table or paragraph title."""
    return KIND_TITLES.get(kind, tex_escape(kind))


def kind_ratio(kind: str) -> str:
    return KIND_RATIO.get(kind, "the compression ratio")


def dense_and_after(kind: str) -> str:
    """What the ablation and sensitivity tables report, for their captions."""
    return (f"top-1 test accuracy (\\%) of the dense model and after "
            f"{KIND_TITLES.get(kind, kind).lower()} at ratio $s$, {kind_ratio(kind)}, "
            f"without retraining")


def action(kind: str, ratio: float) -> str:
    """'removing 50\\,\\% of the filters ...', to follow 'after'."""
    template = KIND_ACTION.get(kind)
    return template.format(p=f"{100 * ratio:g}") if template else f"compression at ratio {ratio:g}"


def rescale_text(rescale: str) -> str:
    """The SFW learning-rate rescaling as an adjective: 'fast-gradient', 'no'."""
    return {"fast_gradient": "fast-gradient", "none": "no"}.get(rescale, tex_escape(rescale))


def and_(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def signed(x: float) -> str:
    return f"${'+' if x >= 0 else '-'}{abs(x):.1f}$"

"""Every name the project spells in more than one place, defined once.

Configs, the CLI, the workflow's wildcards and schema, the tables, the figures and the paper
all take their names from here.  A family, a model, a dataset, a penalty or a compression kind
is one entry below, which says everything the rest of the project needs to know about it; the
torch-bound code is found from the entry (a constraint class registers under its family, a
model's builder and a dataset's loader are named by their import path and imported when used).
Importing this module costs nothing: no torch, no pandas.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any, Literal, get_args


def load(reference: str) -> Any:
    """The object that ``"package.module:name"`` names, imported now (so that only what a run
    uses is imported)."""
    module, _, name = reference.partition(":")
    return getattr(importlib.import_module(module), name)


# -- training --------------------------------------------------------------------------------
@dataclass(frozen=True)
class FamilyEntry:
    """A family of feasible sets (``cafw.constraints``; its class registers under the name)."""

    #: how the paper names it
    title: str
    #: whether a vertex keeps k entries, filters or singular values (k is then required)
    takes_k: bool = False
    #: how the tensors of a global group are viewed as one: "entries" flattened, "filters"
    #: stacked as rows, "matrix" not at all (spectral sets act on one weight matrix each)
    grouping: Literal["entries", "filters", "matrix"] = "entries"
    #: constrains Conv2d weights only; every other tensor gets an L2 ball
    structured: bool = False

    @property
    def spectral(self) -> bool:
        """A set over a weight matrix's singular values: per layer only."""
        return self.grouping == "matrix"


FAMILIES: dict[str, FamilyEntry] = {
    "l2": FamilyEntry("L2 ball"),
    "l1": FamilyEntry("L1 ball"),
    "linf": FamilyEntry("L-infinity ball"),
    "k_sparse": FamilyEntry("k-sparse polytope", takes_k=True),
    "k_support": FamilyEntry("k-support-norm ball", takes_k=True),
    "group_k_support": FamilyEntry("group-k-support-norm ball", takes_k=True,
                                   grouping="filters", structured=True),
    "spectral_k_support": FamilyEntry("spectral-k-support-norm ball", takes_k=True,
                                      grouping="matrix", structured=True),
    "spectral_k_sparse": FamilyEntry("spectral k-sparse polytope", takes_k=True,
                                     grouping="matrix", structured=True),
    "nuclear": FamilyEntry("nuclear-norm ball", grouping="matrix", structured=True),
}
Family = Literal[tuple(FAMILIES)]  # type: ignore[valid-type]

Mode = Literal["radius", "diameter", "initialization"]
MODES: tuple[str, ...] = get_args(Mode)

Rescale = Literal["gradient", "fast_gradient", "diameter", "none"]
RESCALES: tuple[str, ...] = get_args(Rescale)

LmoMethod = Literal["subspace", "svd"]
LMO_METHODS: tuple[str, ...] = get_args(LmoMethod)

OptimizerName = Literal["sfw", "sgd", "prox_sgd"]
OPTIMIZERS: tuple[str, ...] = get_args(OptimizerName)

ScheduleName = Literal["constant", "step", "multistep", "linear", "cosine"]
SCHEDULES: tuple[str, ...] = get_args(ScheduleName)


@dataclass(frozen=True)
class PenaltyEntry:
    """A regularizer added to the loss of an SGD baseline."""

    title: str
    #: "module:function" of model -> penalty tensor (``cafw.penalties``)
    term: str


PENALTIES: dict[str, PenaltyEntry] = {
    "group_lasso": PenaltyEntry("filter group lasso", "cafw.penalties:filter_group_lasso"),
    "nuclear": PenaltyEntry("nuclear-norm penalty", "cafw.penalties:nuclear_norm"),
}
PenaltyType = Literal[tuple(PENALTIES)]  # type: ignore[valid-type]


@dataclass(frozen=True)
class DatasetEntry:
    """A dataset; its options are validated by ``cafw.spec.DATASET_OPTIONS[name]``."""

    title: str
    #: "module:function" of the loader (``cafw.data``): (request, **options) -> Data
    loader: str
    #: where it lives on disk, it must be fetched (CIFAR) or placed (ImageNet) before
    #: training: "module:function" that writes a small copy in its on-disk format instead
    #: (rehearsals): (root, *, train_images, test_images, classes) -> its folder
    small_writer: str | None = None

    @property
    def on_disk(self) -> bool:
        return self.small_writer is not None


DATASETS: dict[str, DatasetEntry] = {
    "cifar10": DatasetEntry("CIFAR-10", "cafw.data.cifar:load_cifar10",
                            "cafw.data.cifar:write_small_cifar10"),
    "cifar100": DatasetEntry("CIFAR-100", "cafw.data.cifar:load_cifar100",
                             "cafw.data.cifar:write_small_cifar100"),
    "imagenet": DatasetEntry("ImageNet", "cafw.data.imagenet:load",
                             "cafw.data.imagenet:write_small"),
    "digits": DatasetEntry("digits", "cafw.data.digits:load"),
    "mnist5k": DatasetEntry("MNIST-5k", "cafw.data.mnist5k:load"),
    "synthetic": DatasetEntry("synthetic data", "cafw.data.synthetic:load"),
}
Dataset = Literal[tuple(DATASETS)]  # type: ignore[valid-type]
#: datasets that live on disk (the workflow's download rule makes them ready)
ON_DISK = tuple(name for name, entry in DATASETS.items() if entry.on_disk)


@dataclass(frozen=True)
class ModelEntry:
    """An architecture of the experiments."""

    title: str
    #: "module:function" of the builder: (num_classes, input shape (C, H, W)) -> nn.Module
    builder: str


MODELS: dict[str, ModelEntry] = {
    "resnet18": ModelEntry("ResNet-18", "cafw.models.resnet_cifar:resnet18"),
    "resnet56": ModelEntry("ResNet-56", "cafw.models.resnet_cifar:resnet56"),
    "vgg16": ModelEntry("VGG-16", "cafw.models.vgg:vgg16"),
    "wrn28_10": ModelEntry("WRN-28-10", "cafw.models.wide_resnet:wrn28_10"),
    "resnet50": ModelEntry("ResNet-50", "cafw.models.resnet50:resnet50"),
    "cnn_small": ModelEntry("small CNN", "cafw.models.small:cnn_small"),
    "mnist_cnn": ModelEntry("MNIST CNN", "cafw.models.mnist:mnist_cnn"),
}
Model = Literal[tuple(MODELS)]  # type: ignore[valid-type]

#: the environment variable ``cafw on-gpus K`` sets to K for the command it runs: the job was
#: given K GPUs (Snakemake's ``gpu`` resource), so it must compute on them (cafw.device)
GPUS_VARIABLE = "CAFW_GPUS"

#: the learning-rate rules of the step-size theory experiment (``cafw lr-theory``), in the
#: order of its table and figure, and the SFW rescale each one is
LR_THEORY_RULES = {"constant": "none", "diameter": "diameter", "gradient": "gradient"}


# -- compression -----------------------------------------------------------------------------
@dataclass(frozen=True)
class KindEntry:
    """A way to compress a trained model without retraining (``cafw.compress``)."""

    title: str
    #: "module:class" of its compressor (``cafw.compress.sweep`` drives it over the ratios)
    compressor: str
    #: what its ratio is, as the figures' x axis says it
    ratio: str
    #: the ratios the paper's comparison table reports (the nearest measured ones)
    table_ratios: tuple[float, ...]
    #: the deployable model is smaller than the dense one (physically pruned, factorised); a
    #: sparse model is smaller or faster only with sparse storage and kernels
    physical: bool = False


KINDS: dict[str, KindEntry] = {
    "filter": KindEntry("Filter pruning", "cafw.compress.filter_prune:FilterPruner",
                        "fraction of filters pruned per layer", (0.3, 0.5, 0.7), physical=True),
    "lowrank": KindEntry("Low-rank decomposition", "cafw.compress.lowrank:LowRankReconstruction",
                         "fraction of singular values removed per layer", (0.3, 0.5, 0.7),
                         physical=True),
    "unstructured": KindEntry("Unstructured pruning", "cafw.compress.unstructured:MagnitudePruner",
                              "fraction of weights pruned (global magnitude)",
                              (0.5, 0.8, 0.9, 0.95)),
}
Kind = Literal[tuple(KINDS)]  # type: ignore[valid-type]
#: kinds whose deployable model is measured (size, FLOPs, latency) besides its accuracy
PHYSICAL_KINDS = tuple(name for name, entry in KINDS.items() if entry.physical)

# -- figures (figures/*.pdf) -----------------------------------------------------------------
#: what a study's `figure` may name (default compression), the one classification of studies:
#: the figure drawn per setup, and the paper's section type that reports it
#: (cafw/pipeline/paper/templates/sections/<type>.tex.j2)
STUDY_FIGURES = {"compression": "comparison", "lr_ablation": "ablation",
                 "sensitivity": "sensitivity"}
StudyFigure = Literal[tuple(STUDY_FIGURES)]  # type: ignore[valid-type]
#: what `cafw figure` draws: a study's figure, the figures a learning-rate ablation adds per
#: setup (lr_grid, dynamics), and the figures across studies
FIGURES = (*STUDY_FIGURES, "lr_grid", "dynamics", "compute", "lr_theory")

# -- tables (results/tables/*.csv) -----------------------------------------------------------
#: the splits a model is scored on: validation (held out from the training data; every
#: selection reads it) and test (only ever reported)
SPLITS = ("val", "test")
#: a model's scores, as columns of history.csv, metrics.json and the sweeps
EVALUATION_COLUMNS = tuple(f"{split}_{metric}" for split in SPLITS
                           for metric in ("loss", "accuracy", "top5"))
#: what tells a study's curves on one setup apart
CURVE_KEYS = ("method", "label", "schedule", "variant")
#: what identifies a curve (everything but the seed)
RUN_KEYS = ("setup", "dataset", "model", *CURVE_KEYS)
#: the SFW settings of a run, empty for the baselines
SFW_KEYS = ("family", "rescale", "k", "value")
#: metrics of a run (training.csv) summarised over seeds
TRAINING_METRICS = ("val_accuracy", "val_loss", "test_accuracy", "test_top5", "test_loss",
                    "train_loss", "seconds_per_epoch", "wall_time_s", "images_per_second")
#: metrics of a compressed model (compression.csv) summarised over seeds
COMPRESSION_METRICS = ("val_accuracy", "dense_val_accuracy", "test_accuracy", "test_top5",
                       "test_loss", "dense_test_accuracy", "params_ratio", "flops_ratio",
                       "test_accuracy_bn_recalibrated", "physical_test_accuracy")
#: the deployable model's columns of a sweep with physical measurements, besides its latencies
#: ``dense_ms_batch{B}`` and ``physical_ms_batch{B}``
PHYSICAL_COLUMNS = ("physical_params", "physical_flops", "physical_bytes", "dense_bytes",
                    "physical_test_accuracy")
LATENCY_COLUMN = r"(dense|physical)_ms_batch\d+"

# -- the paper (paper/generated/, written by `cafw paper`) -----------------------------------
#: how the ids read in the paper
DATASET_NAMES = {name: entry.title for name, entry in DATASETS.items()}
MODEL_NAMES = {name: entry.title for name, entry in MODELS.items()}
FAMILY_NAMES = {name: entry.title for name, entry in FAMILIES.items()}
KIND_NAMES = {name: entry.title for name, entry in KINDS.items()}
#: what a claim's measure compares (cafw.pipeline.claims.MEASURES)
MEASURE_NAMES = {"area": "accuracy averaged over the ratios", "dense_accuracy": "dense accuracy",
                 "train_loss": "final training loss",
                 "step_ratio": "opponent's training step / method's"}
#: the tables the paper is generated from, and the files generated from them
PAPER_TABLES = ("studies.csv", "manifest.csv", "compression_summary.csv", "compute.csv",
                "lr_theory.csv", "tuning.csv", "claims.csv")
PAPER_FILES = ("facts.json", "numbers.tex", "setup.tex", "findings.tex", "tables.tex",
               "figures.tex")

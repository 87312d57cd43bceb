"""Every name the project spells in more than one place, defined once, with the torch-free
facts about it that planning, the tables, the figures and the paper read.

Configs, the CLI, the workflow's wildcards and schema, the tables, the figures and the paper
all take their names from here.  A family, a model, a dataset, a penalty, a compression kind or
a chart is one entry below; the code behind it registers under the same name in the registry
beside that code (``cafw.registry``): ``cafw.constraints.SETS``, ``cafw.models.BUILDERS``,
``cafw.data.SOURCES``, ``cafw.spec.DATASET_OPTIONS``, ``cafw.penalties.TERMS``,
``cafw.compress.COMPRESSIONS``, ``cafw.pipeline.figures.DRAWERS`` and
``cafw.pipeline.paper.sections``.  A test keeps each registry's names equal to its entries'.
Importing this module costs nothing: no torch, no pandas.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, get_args


# -- training --------------------------------------------------------------------------------
@dataclass(frozen=True)
class FamilyEntry:
    """A family of feasible sets (its class registers in ``cafw.constraints.SETS``)."""

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
    """A regularizer added to the loss of an SGD baseline (its term, model -> penalty tensor,
    registers in ``cafw.penalties.TERMS``)."""

    title: str


PENALTIES: dict[str, PenaltyEntry] = {
    "group_lasso": PenaltyEntry("filter group lasso"),
    "nuclear": PenaltyEntry("nuclear-norm penalty"),
}


@dataclass(frozen=True)
class DatasetEntry:
    """A dataset (how it is read registers in ``cafw.data.SOURCES``, its options in
    ``cafw.spec.DATASET_OPTIONS``)."""

    title: str
    #: it lives on disk: it must be fetched (CIFAR) or placed (ImageNet) before training, and
    #: a rehearsal writes a small copy in its on-disk format instead (``cafw data write``)
    on_disk: bool = False


DATASETS: dict[str, DatasetEntry] = {
    "cifar10": DatasetEntry("CIFAR-10", on_disk=True),
    "cifar100": DatasetEntry("CIFAR-100", on_disk=True),
    "imagenet": DatasetEntry("ImageNet", on_disk=True),
    "digits": DatasetEntry("digits"),
    "mnist5k": DatasetEntry("MNIST-5k"),
    "synthetic": DatasetEntry("synthetic data"),
}
#: datasets that live on disk (the workflow's download rule makes them ready)
ON_DISK = tuple(name for name, entry in DATASETS.items() if entry.on_disk)


@dataclass(frozen=True)
class ModelEntry:
    """An architecture of the experiments (its builder registers in
    ``cafw.models.BUILDERS``)."""

    title: str


MODELS: dict[str, ModelEntry] = {
    "resnet18": ModelEntry("ResNet-18"),
    "resnet56": ModelEntry("ResNet-56"),
    "vgg16": ModelEntry("VGG-16"),
    "wrn28_10": ModelEntry("WRN-28-10"),
    "resnet50": ModelEntry("ResNet-50"),
    "cnn_small": ModelEntry("small CNN"),
    "mnist_cnn": ModelEntry("MNIST CNN"),
}

#: the environment variable ``cafw on-gpus K`` sets to K for the command it runs: the job was
#: given K GPUs (Snakemake's ``gpu`` resource), so it must compute on them (cafw.device)
GPUS_VARIABLE = "CAFW_GPUS"

#: the learning-rate rules of the step-size theory experiment (``cafw lr-theory``), in the
#: order of its table and figure, and the SFW rescale each one is
LR_THEORY_RULES = {"constant": "none", "diameter": "diameter", "gradient": "gradient"}


# -- compression -----------------------------------------------------------------------------
@dataclass(frozen=True)
class KindEntry:
    """A way to compress a trained model without retraining (how it compresses registers in
    ``cafw.compress.COMPRESSIONS``)."""

    title: str
    #: what its ratio is, as the figures' x axis says it
    ratio: str
    #: the ratios the paper's comparison table reports (the nearest measured ones)
    table_ratios: tuple[float, ...]
    #: what its ratio is, as the paper says it
    meaning: str
    #: compressing at a ratio, as the paper says it; ``%s`` stands for the ratio in percent
    action: str
    #: the deployable model is smaller than the dense one (physically pruned, factorised); a
    #: sparse model is smaller or faster only with sparse storage and kernels
    physical: bool = False


KINDS: dict[str, KindEntry] = {
    "filter": KindEntry(
        "Filter pruning", "fraction of filters pruned per layer", (0.3, 0.5, 0.7),
        "the fraction of output filters removed from every convolutional layer by smallest L1 "
        "norm, with BatchNorm left untouched",
        "removing %s of the filters of every convolutional layer", physical=True),
    "lowrank": KindEntry(
        "Low-rank decomposition", "fraction of singular values removed per layer",
        (0.3, 0.5, 0.7),
        "the fraction of singular values discarded in every convolutional layer by truncated "
        "SVD",
        "discarding %s of the singular values of every convolutional layer", physical=True),
    "unstructured": KindEntry(
        "Unstructured pruning", "fraction of weights pruned (global magnitude)",
        (0.5, 0.8, 0.9, 0.95),
        "the fraction of convolutional and linear weights set to zero by global magnitude "
        "pruning",
        "pruning %s of the weights globally by magnitude"),
}
#: kinds whose deployable model is measured (size, FLOPs, latency) besides its accuracy
PHYSICAL_KINDS = tuple(name for name, entry in KINDS.items() if entry.physical)

# -- charts: the types of figure (figures/*.pdf) ---------------------------------------------
@dataclass(frozen=True)
class ChartEntry:
    """A type of figure that ``cafw figure <chart>`` draws (its drawer registers in
    ``cafw.pipeline.figures.DRAWERS``)."""

    #: the tables (results/tables/) it is drawn from
    tables: tuple[str, ...]
    #: its files are ``<stem>__<study>__<setup>`` (drawn per study and setup) or ``<stem>``
    #: (once, across studies); a study's own chart has none: ``<study>__<setup>``
    stem: str = ""
    #: drawn per study and setup (``--study``, ``--setup``), else once across studies
    per_study: bool = True
    #: a study's own chart (what its ``chart`` may name): the type of the paper's section
    #: that reports the study on a setup (``cafw.pipeline.paper.sections.STUDY``, rendered by
    #: cafw/pipeline/paper/templates/sections/<section>.tex.j2)
    section: str | None = None
    #: the charts drawn beside a study's own, per setup; the paper's section of each has its
    #: name (``cafw.pipeline.paper.sections.BESIDE``)
    beside: tuple[str, ...] = ()
    #: drawn beside a study's own only where a variant of the study has a tuning grid
    tuned_only: bool = False


CHARTS: dict[str, ChartEntry] = {
    "compression": ChartEntry(("compression.csv",), section="comparison"),
    "lr_ablation": ChartEntry(("compression.csv",), section="ablation",
                              beside=("dynamics", "lr_grid")),
    "sensitivity": ChartEntry(("compression.csv",), section="sensitivity"),
    "lr_grid": ChartEntry(("tuning.csv",), "lr-grid", tuned_only=True),
    "dynamics": ChartEntry(("history.csv", "manifest.csv"), "dynamics"),
    "compute": ChartEntry(("compute.csv",), "compute", per_study=False),
    "lr_theory": ChartEntry(("lr_theory.csv",), "lr-theory", per_study=False),
}
#: what a study's ``chart`` may name (default compression), the one classification of studies
STUDY_CHARTS = tuple(name for name, entry in CHARTS.items() if entry.section)

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

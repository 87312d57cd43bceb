"""Every name the project spells in more than one place, defined once.

Configs, the CLI, the workflow's wildcards and schema, the tables, the figures and the paper
all take their names from here.  The torch-bound registries (``cafw.constraints.FAMILIES``,
``cafw.data.DATASETS``, ``cafw.models.MODELS``) are keyed by these names, and a test checks
that they agree.  Importing this module costs nothing: no torch, no pandas.
"""

from __future__ import annotations

from typing import Literal, get_args

# -- training --------------------------------------------------------------------------------
Family = Literal["l2", "l1", "linf", "k_sparse", "k_support", "group_k_support",
                 "spectral_k_support", "spectral_k_sparse", "nuclear"]
FAMILIES: tuple[str, ...] = get_args(Family)
#: families whose set has a k (entries, filters or rank kept by a vertex)
FAMILIES_WITH_K = ("k_sparse", "k_support", "group_k_support", "spectral_k_support",
                   "spectral_k_sparse")
#: families that constrain Conv2d weights only (every other tensor gets an L2 ball)
STRUCTURED = ("group_k_support", "spectral_k_support", "spectral_k_sparse", "nuclear")
#: families over a weight matrix's singular values: per layer only
SPECTRAL = ("spectral_k_support", "spectral_k_sparse", "nuclear")

Mode = Literal["radius", "diameter", "initialization"]
MODES: tuple[str, ...] = get_args(Mode)

Rescale = Literal["gradient", "fast_gradient", "diameter", "none"]
RESCALES: tuple[str, ...] = get_args(Rescale)

LmoMethod = Literal["subspace", "svd"]
LMO_METHODS: tuple[str, ...] = get_args(LmoMethod)

OptimizerName = Literal["sfw", "sgd", "prox_sgd"]
OPTIMIZERS: tuple[str, ...] = get_args(OptimizerName)

PenaltyType = Literal["group_lasso", "nuclear"]
PENALTIES: tuple[str, ...] = get_args(PenaltyType)

ScheduleName = Literal["constant", "step", "multistep", "linear", "cosine"]
SCHEDULES: tuple[str, ...] = get_args(ScheduleName)

Dataset = Literal["cifar10", "cifar100", "imagenet", "digits", "mnist5k", "synthetic"]
DATASETS: tuple[str, ...] = get_args(Dataset)
#: datasets that live on disk and must be fetched (CIFAR) or placed (ImageNet) before training
ON_DISK = ("cifar10", "cifar100", "imagenet")

Model = Literal["resnet18", "resnet56", "vgg16", "wrn28_10", "resnet50", "cnn_small",
                "mnist_cnn"]
MODELS: tuple[str, ...] = get_args(Model)

#: the environment variable ``cafw on-gpus K`` sets to K for the command it runs: the job was
#: given K GPUs (Snakemake's ``gpu`` resource), so it must compute on them (cafw.device)
GPUS_VARIABLE = "CAFW_GPUS"

# -- compression -----------------------------------------------------------------------------
Kind = Literal["filter", "lowrank", "unstructured"]
KINDS: tuple[str, ...] = get_args(Kind)
#: kinds whose deployable model is smaller than the dense one: physically pruned, factorised
#: (a sparse model is smaller or faster only with sparse storage and kernels)
PHYSICAL_KINDS = ("filter", "lowrank")

# -- figures (figures/*.pdf) -----------------------------------------------------------------
#: what `cafw figure` draws; the first three are what a study's `figure` may name
FIGURES = ("compression", "lr_ablation", "sensitivity", "lr_grid", "dynamics", "compute",
           "lr_theory")

# -- tables (results/tables/*.csv) -----------------------------------------------------------
#: the splits a model is scored on: validation (held out from the training data; every
#: selection reads it) and test (only ever reported)
SPLITS = ("val", "test")
#: a model's scores, as columns of history.csv, metrics.json and the sweeps
EVALUATION_COLUMNS = tuple(f"{split}_{metric}" for split in SPLITS
                           for metric in ("loss", "accuracy", "top5"))
#: what identifies a curve (everything but the seed)
RUN_KEYS = ("setup", "dataset", "model", "method", "label", "schedule", "variant")
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
#: how the ids read in the paper; a test checks that every id has its name
DATASET_NAMES = {"cifar10": "CIFAR-10", "cifar100": "CIFAR-100", "imagenet": "ImageNet",
                 "digits": "digits", "mnist5k": "MNIST-5k", "synthetic": "synthetic data"}
MODEL_NAMES = {"resnet18": "ResNet-18", "resnet56": "ResNet-56", "vgg16": "VGG-16",
               "wrn28_10": "WRN-28-10", "resnet50": "ResNet-50", "cnn_small": "small CNN",
               "mnist_cnn": "MNIST CNN"}
FAMILY_NAMES = {"l2": "L2 ball", "l1": "L1 ball", "linf": "L-infinity ball",
                "k_sparse": "k-sparse polytope", "k_support": "k-support-norm ball",
                "group_k_support": "group-k-support-norm ball",
                "spectral_k_support": "spectral-k-support-norm ball",
                "spectral_k_sparse": "spectral k-sparse polytope",
                "nuclear": "nuclear-norm ball"}
KIND_NAMES = {"filter": "Filter pruning", "lowrank": "Low-rank decomposition",
              "unstructured": "Unstructured pruning"}
#: what a claim's measure compares (cafw.pipeline.claims.MEASURES)
MEASURE_NAMES = {"area": "accuracy averaged over the ratios", "dense_accuracy": "dense accuracy",
                 "train_loss": "final training loss",
                 "step_ratio": "opponent's training step / method's"}
#: the tables the paper is generated from, and the files generated from them
PAPER_TABLES = ("manifest.csv", "compression_summary.csv", "compute.csv", "lr_theory.csv",
                "tuning.csv", "claims.csv")
PAPER_FILES = ("facts.json", "numbers.tex", "setup.tex", "findings.tex", "tables.tex",
               "figures.tex")

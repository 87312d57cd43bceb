"""Compression applied after training, without retraining, as in the authors' evaluation.

    from cafw.compress import sweep
    frame = sweep("runs/sfw", "filter", [0, 0.1, 0.3, 0.5], "filter.csv")

Each kind has a one-call form on a model (``filter_prune``, ``lowrank_decompose``,
``unstructured_prune``) and a sweep form that prepares once and applies any ratio
(``FilterPruner``, ``LowRankReconstruction``, ``MagnitudePruner``: ``apply(ratio)``,
``restore()``).
"""

from .filter_prune import FilterPruner, filter_prune, filters_to_prune
from .flops import Cost, count, model_cost, output_positions
from .lowrank import LowRankReconstruction, kept_rank, lowrank_decompose
from .physical import check_sequential, inference_ms, physically_pruned
from .sweep import COMPRESSORS, sweep
from .unstructured import MagnitudePruner, unstructured_prune

__all__ = ["filter_prune", "FilterPruner", "filters_to_prune", "lowrank_decompose",
           "LowRankReconstruction", "kept_rank", "unstructured_prune", "MagnitudePruner",
           "physically_pruned", "check_sequential", "inference_ms", "Cost", "count",
           "model_cost", "output_positions", "sweep", "COMPRESSORS"]

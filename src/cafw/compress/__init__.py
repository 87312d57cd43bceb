"""Compression applied after training, without retraining, as in the authors' evaluation.

Each kind has a one-call form on a model (``filter_prune``, ``lowrank_decompose``,
``unstructured_prune``) and a sweep form that prepares once and applies any ratio
(``FilterPruner``, ``LowRankReconstruction``, ``MagnitudePruner``: ``apply(ratio)``,
``restore()``).  The sweep form is the kind as one object, a ``Compressor``: it also says how
its cost is counted and builds its deployable model; ``COMPRESSIONS`` finds it by the kind's
name.  ``physically_pruned`` turns a filter-pruned model into a smaller one (the [prune]
extra); ``save_compressed`` and ``load_compressed`` keep compressed models.

This package needs torch only.  The sweep over a trained run, which reads run directories and
writes tables, is ``cafw.compress.sweep.sweep`` (the [train] extra).  Given a finished run of
``cafw train``, it returns one row (a dict) per ratio and writes them to a CSV file:

    from cafw.compress.sweep import sweep
    rows = sweep("runs/sfw", "filter", [0, 0.1, 0.3, 0.5], "filter.csv")
"""

from .artifact import load_compressed, save_compressed, state_bytes
from .compressor import COMPRESSIONS, Compressor
from .filter_prune import FilterPruner, filter_prune, filters_to_prune
from .flops import Cost, count, model_cost, output_positions
from .latency import inference_ms
from .lowrank import LowRankReconstruction, kept_rank, lowrank_decompose
from .physical import physically_pruned
from .unstructured import MagnitudePruner, unstructured_prune

__all__ = ["COMPRESSIONS", "Compressor", "filter_prune", "FilterPruner", "filters_to_prune",
           "lowrank_decompose", "LowRankReconstruction", "kept_rank", "unstructured_prune",
           "MagnitudePruner", "physically_pruned", "inference_ms", "save_compressed",
           "load_compressed", "state_bytes", "Cost", "count", "model_cost", "output_positions"]

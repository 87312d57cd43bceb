"""Feasible regions for Stochastic Frank-Wolfe: norm balls with their linear minimization
oracles (LMOs), and ``param_groups`` to place them on a model's tensors.

``SETS`` maps each family of ``cafw.vocabulary.FAMILIES`` to its class: a class registers when
its module is imported, which this package does for all of them below.
"""

from ..conventions import resolve_k
from .base import SETS, Constraint, k_support_norm, pack, top_k_mask, unpack
from .group import GroupKSupportNormBall
from .grouping import initial_norms, param_groups
from .lp import L1Ball, L2Ball, LInfBall, LpBall, Unconstrained
from .sparse import KSparsePolytope, KSupportNormBall
from .spectral import NuclearNormBall, SpectralKSparsePolytope, SpectralKSupportNormBall

__all__ = [
    "Constraint", "L2Ball", "L1Ball", "LInfBall", "LpBall", "KSparsePolytope",
    "KSupportNormBall", "GroupKSupportNormBall", "SpectralKSupportNormBall",
    "SpectralKSparsePolytope", "NuclearNormBall", "Unconstrained", "param_groups",
    "initial_norms", "SETS", "resolve_k", "k_support_norm", "top_k_mask", "pack", "unpack",
]

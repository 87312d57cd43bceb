"""Feasible regions for Stochastic Frank-Wolfe: norm balls with their linear minimization
oracles (LMOs), and ``param_groups`` to place them on a model's tensors."""

from .base import Constraint, k_support_norm, pack, resolve_k, top_k_mask, unpack
from .group import GroupKSupportNormBall
from .grouping import FAMILIES, MODES, STRUCTURED, initial_norms, param_groups
from .lp import L1Ball, L2Ball, LInfBall, LpBall, Unconstrained
from .sparse import KSparsePolytope, KSupportNormBall
from .spectral import NuclearNormBall, SpectralKSparsePolytope, SpectralKSupportNormBall

__all__ = [
    "Constraint", "L2Ball", "L1Ball", "LInfBall", "LpBall", "KSparsePolytope",
    "KSupportNormBall", "GroupKSupportNormBall", "SpectralKSupportNormBall",
    "SpectralKSparsePolytope", "NuclearNormBall", "Unconstrained", "param_groups",
    "initial_norms", "FAMILIES", "MODES", "STRUCTURED", "resolve_k", "k_support_norm",
    "top_k_mask", "pack", "unpack",
]

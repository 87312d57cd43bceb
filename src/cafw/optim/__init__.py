"""Optimizers: Stochastic Frank-Wolfe, and the SGD and proximal SGD baselines."""

from .prox_sgd import ProxSGD
from .sfw import SFW, StepStatistics, make_feasible
from .sgd import SGD

__all__ = ["SFW", "SGD", "ProxSGD", "StepStatistics", "make_feasible"]

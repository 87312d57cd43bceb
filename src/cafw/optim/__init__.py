"""Optimizers: Stochastic Frank-Wolfe and the proximal SGD baseline."""

from .prox_sgd import ProxSGD
from .sfw import SFW, StepStatistics

__all__ = ["SFW", "ProxSGD", "StepStatistics"]

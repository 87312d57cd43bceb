"""cafw: compression-aware training of neural networks with Stochastic Frank-Wolfe."""

__version__ = "0.1.0"

"""``torch.optim.SGD`` for eager training, without importing the compiler."""

from __future__ import annotations

from collections.abc import Iterable

import torch


class SGD(torch.optim.SGD):
    """``torch.optim.SGD``, the same update, for training that does not compile the step.

    torch wraps ``SGD.step`` to mark a graph break for ``torch.compile``; the wrapper imports
    the compiler (``torch._dynamo``, about 1.3 s) on the first step of every process, a tenth
    of a default pipeline job.  This class runs torch's own step without that wrapper, under
    ``no_grad``, which is what the wrapper does when ``differentiable`` is off.
    """

    def __init__(self, params: Iterable, lr: float = 1e-3, momentum: float = 0.0,
                 dampening: float = 0.0, weight_decay: float = 0.0, nesterov: bool = False,
                 *, foreach: bool | None = None) -> None:
        super().__init__(params, lr=lr, momentum=momentum, dampening=dampening,
                         weight_decay=weight_decay, nesterov=nesterov, foreach=foreach)

    step = torch.no_grad()(torch.optim.SGD.step.__wrapped__)

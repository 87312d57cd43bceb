"""A literal, slow transcription of the SFW update of the authors' code (one tensor per group,
a Python loop, exact LMOs, no batching): the independent reference the optimizer is tested
against.  Its state is ``state[p]["momentum_buffer"]``, as in torch.optim, so tests can set
every implementation to the same point before comparing one step."""

from collections import defaultdict

import torch


class ReferenceSFW:
    def __init__(self, groups, lr, momentum=0.9, dampening=0.0, rescale="gradient"):
        self.param_groups = groups  # [{"params": [p], "constraint": c}]
        self.lr, self.momentum, self.dampening, self.rescale = lr, momentum, dampening, rescale
        self.state = defaultdict(dict)

    @torch.no_grad()
    def step(self):
        for group in self.param_groups:
            (p,), c = group["params"], group["constraint"]
            g, state = p.grad, self.state[p]
            if "momentum_buffer" not in state:
                m = g.clone()
            else:
                m = self.momentum * state["momentum_buffer"] + (1 - self.dampening) * g
            state["momentum_buffer"] = m
            v = c.lmo(m)
            if self.rescale == "gradient":
                dist = torch.norm(p - v)
                factor = torch.norm(m) / dist if dist > 1e-10 else torch.tensor(0.0)
            elif self.rescale == "fast_gradient":
                factor = torch.norm(m) / (c.diameter / 2)
            elif self.rescale == "diameter":
                factor = 1.0 / c.diameter
            else:  # "none"
                factor = 1.0
            eta = max(0.0, min(float(factor * self.lr), 1.0))
            p.mul_(1 - eta).add_(v, alpha=eta)

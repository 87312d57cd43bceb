"""A literal, slow transcription of the SFW update of method.md 2.1 (one tensor per group,
a Python loop, exact LMOs): the independent reference the optimizer is tested against."""

import torch


class ReferenceSFW:
    def __init__(self, groups, lr, momentum=0.9, dampening=0.0, rescale="gradient"):
        self.groups = groups  # [{"params": [p], "constraint": c}]
        self.lr, self.momentum, self.dampening, self.rescale = lr, momentum, dampening, rescale
        self.buffers = {}

    @torch.no_grad()
    def step(self):
        for group in self.groups:
            (p,), c = group["params"], group["constraint"]
            g = p.grad
            if id(p) not in self.buffers:
                m = g.clone()
            else:
                m = self.momentum * self.buffers[id(p)] + (1 - self.dampening) * g
            self.buffers[id(p)] = m
            v = c.lmo(m)
            if self.rescale == "gradient":
                dist = torch.norm(p - v)
                factor = torch.norm(m) / dist if dist > 1e-10 else torch.tensor(0.0)
            elif self.rescale == "fast_gradient":
                factor = torch.norm(m) / (c.diameter / 2)
            elif self.rescale == "diameter":
                factor = 1.0 / c.diameter
            else:
                factor = 1.0
            eta = max(0.0, min(float(factor * self.lr), 1.0))
            p.mul_(1 - eta).add_(v, alpha=eta)

    def zero_grad(self):
        for group in self.groups:
            for p in group["params"]:
                p.grad = None

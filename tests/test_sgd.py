"""The baselines' SGD: torch's update, bit for bit (tests/test_train.py checks that a training
job with it does not import the compiler)."""

import pytest
import torch

from cafw.optim import SGD, ProxSGD


@pytest.mark.parametrize("options", [
    dict(lr=0.1),
    dict(lr=0.1, momentum=0.9, weight_decay=5e-4),
    dict(lr=0.05, momentum=0.9, dampening=0.1),
    dict(lr=0.05, momentum=0.9, nesterov=True, weight_decay=1e-3),
])
@pytest.mark.parametrize("foreach", [False, True])
def test_sgd_steps_exactly_like_torch(options, foreach):
    torch.manual_seed(0)
    start = [torch.randn(8, 4, 3, 3), torch.randn(8)]
    grads = [[torch.randn_like(p) for p in start] for _ in range(4)]
    params = {}
    for name, cls in (("ours", SGD), ("torch", torch.optim.SGD)):
        ps = [p.clone().requires_grad_() for p in start]
        optimizer = cls(ps, foreach=foreach, **options)
        for step in grads:
            for p, g in zip(ps, step):
                p.grad = g.clone()
            optimizer.step()
        params[name] = ps
    for ours, theirs in zip(params["ours"], params["torch"]):
        assert torch.equal(ours, theirs)


def test_prox_sgd_is_the_sgd_step_then_the_proximal_step():
    torch.manual_seed(0)
    w = torch.randn(6, 3, 3, 3)
    g = torch.randn_like(w)
    prox, plain = torch.nn.Parameter(w.clone()), torch.nn.Parameter(w.clone())
    prox.grad, plain.grad = g.clone(), g.clone()
    ProxSGD([prox], lr=0.1, momentum=0.0, threshold=0.0).step()
    torch.optim.SGD([plain], lr=0.1).step()
    assert torch.equal(prox, plain)  # threshold 0: no shrinkage

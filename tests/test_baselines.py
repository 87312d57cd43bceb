"""Baselines: proximal SGD with singular-value soft-thresholding, and the SGD penalties."""

import pytest
import torch
from torch import nn

from cafw.optim import ProxSGD
from cafw.penalties import filter_group_lasso, nuclear_norm
from cafw.vocabulary import PENALTIES


def _net():
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(3, 6, 3), nn.BatchNorm2d(6), nn.ReLU(), nn.Conv2d(6, 6, 3),
                         nn.Flatten(), nn.Linear(6 * 4 * 4, 3))


def _step(model, opt, seed=0):
    gen = torch.Generator().manual_seed(seed)
    x, y = torch.randn(8, 3, 8, 8, generator=gen), torch.randint(0, 3, (8,), generator=gen)
    opt.zero_grad()
    nn.functional.cross_entropy(model(x), y).backward()
    opt.step()


def _svt(w, shrink):
    u, s, vh = torch.linalg.svd(w.reshape(w.shape[0], -1), full_matrices=False)
    return ((u * (s - shrink).clamp_min(0)) @ vh).view_as(w)


def test_prox_sgd_is_sgd_followed_by_singular_value_soft_thresholding():
    sgd_model, prox_model = _net(), _net()
    sgd = torch.optim.SGD(sgd_model.parameters(), lr=0.1, momentum=0.9, weight_decay=1e-4)
    prox = ProxSGD(prox_model.parameters(), lr=0.1, momentum=0.9, weight_decay=1e-4,
                   threshold=0.5)
    _step(sgd_model, sgd)
    _step(prox_model, prox)
    for (name, a), b in zip(sgd_model.named_parameters(), prox_model.parameters()):
        expected = _svt(a.detach(), 0.1 * 0.5) if a.ndim == 4 else a
        assert torch.allclose(expected, b, atol=1e-6), name


def test_prox_sgd_without_threshold_is_sgd():
    a, b = _net(), _net()
    sgd = torch.optim.SGD(a.parameters(), lr=0.1, momentum=0.9)
    prox = ProxSGD(b.parameters(), lr=0.1, momentum=0.9, threshold=0.0)
    for seed in range(3):
        _step(a, sgd, seed)
        _step(b, prox, seed)
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))


def test_prox_sgd_reduces_rank():
    model = _net()
    prox = ProxSGD(model.parameters(), lr=0.1, momentum=0.0, threshold=20.0)
    convs = [m for m in model if isinstance(m, nn.Conv2d)]
    ranks = [torch.linalg.matrix_rank(m.weight.flatten(1)) for m in convs]
    _step(model, prox)
    after = [torch.linalg.matrix_rank(m.weight.flatten(1)) for m in convs]
    assert all(b < a for a, b in zip(ranks, after))


def test_prox_sgd_rejects_negative_threshold():
    with pytest.raises(ValueError, match="threshold must be >= 0"):
        ProxSGD(_net().parameters(), lr=0.1, threshold=-1.0)


def test_filter_group_lasso_sums_output_filter_norms_of_convs_only():
    model = _net()
    expected = sum(m.weight[f].norm() for m in model if isinstance(m, nn.Conv2d)
                   for f in range(m.weight.shape[0]))
    assert torch.allclose(filter_group_lasso(model), expected)


def test_nuclear_penalty_and_its_gradient():
    model = _net()
    convs = [m for m in model if isinstance(m, nn.Conv2d)]
    expected = sum(torch.linalg.svdvals(m.weight.flatten(1)).sum() for m in convs)
    value = nuclear_norm(model)
    assert torch.allclose(value, expected)
    value.backward()
    for m in convs:  # d||W||_* / dW = U V^T for a full-rank W with distinct singular values
        u, _, vh = torch.linalg.svd(m.weight.detach().flatten(1), full_matrices=False)
        assert torch.allclose(m.weight.grad.flatten(1), u @ vh, atol=1e-5)
    assert set(PENALTIES) == {"group_lasso", "nuclear"}

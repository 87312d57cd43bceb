"""Every feasible region: LMO optimality against brute force, membership, duality, shift_inside,
k conventions, zero gradients and bad input."""

import itertools
import math

import pytest
import torch
from torch import nn

from cafw.constraints import (
    GroupKSupportNormBall,
    KSparsePolytope,
    KSupportNormBall,
    L1Ball,
    L2Ball,
    LInfBall,
    LpBall,
    NuclearNormBall,
    SpectralKSparsePolytope,
    SpectralKSupportNormBall,
    Unconstrained,
    base,
    initial_norms,
    k_support_norm,
    param_groups,
    resolve_k,
    top_k_mask,
)
from cafw.vocabulary import FAMILIES


@pytest.fixture(autouse=True)
def float64():
    """Brute-force comparisons need tight tolerances."""
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(torch.float32)


def _svals(g):
    return torch.linalg.svdvals(g.reshape(g.shape[0], -1))


def _filter_norms(g):
    return g.reshape(g.shape[0], -1).norm(dim=1)


# (constraint, expected dual norm of g computed independently of the class)
def cases(shape=(6, 2, 2)):
    return [
        (L2Ball(radius=1.5), lambda g: g.norm()),
        (L1Ball(radius=1.5), lambda g: g.abs().max()),
        (LInfBall(radius=1.5), lambda g: g.abs().sum()),
        (LpBall(3, radius=1.5), lambda g: g.abs().pow(1.5).sum().pow(1 / 1.5)),
        (LpBall(1.5, radius=1.5), lambda g: g.abs().pow(3).sum().pow(1 / 3)),
        (KSparsePolytope(radius=0.7, k=3), lambda g: g.abs().flatten().sort().values[-3:].sum()),
        (KSupportNormBall(radius=1.5, k=0.25),
         lambda g: g.flatten().abs().sort().values[-6:].square().sum().sqrt()),
        (GroupKSupportNormBall(radius=1.5, k=2),
         lambda g: _filter_norms(g).sort().values[-2:].square().sum().sqrt()),
        (SpectralKSupportNormBall(radius=1.5, k=2), lambda g: _svals(g)[:2].square().sum().sqrt()),
        (SpectralKSupportNormBall(radius=1.5, k=2, method="svd"),
         lambda g: _svals(g)[:2].square().sum().sqrt()),
        (SpectralKSparsePolytope(radius=0.7, k=3), lambda g: _svals(g)[:3].sum()),
        (NuclearNormBall(radius=1.5), lambda g: _svals(g)[0]),
    ]


IDS = [f"{type(c).__name__}-{i}" for i, (c, _) in enumerate(cases())]


@pytest.mark.parametrize("case", range(len(cases())), ids=IDS)
def test_lmo_value_is_minus_radius_times_dual_norm(case):
    c, dual = cases()[case]
    torch.manual_seed(case)
    for _ in range(5):
        g = torch.randn(6, 2, 2)
        v = c.lmo(g)
        assert v.shape == g.shape and v.dtype == g.dtype
        assert torch.allclose((g * v).sum(), -c.radius * dual(g), rtol=1e-9)
        assert torch.allclose(c.dual_norm(g), dual(g), rtol=1e-9)


@pytest.mark.parametrize("case", range(len(cases())), ids=IDS)
def test_lmo_output_is_in_the_set_on_its_boundary(case):
    c, _ = cases()[case]
    g = torch.randn(6, 2, 2, generator=torch.Generator().manual_seed(case))
    assert torch.allclose(c.norm(c.lmo(g)), torch.tensor(c.radius), rtol=1e-9)


@pytest.mark.parametrize("case", range(len(cases())), ids=IDS)
def test_lmo_beats_random_points_of_the_set(case):
    """No point on the boundary (random directions scaled onto it) does better than the LMO."""
    c, _ = cases()[case]
    gen = torch.Generator().manual_seed(case)
    g = torch.randn(6, 2, 2, generator=gen)
    best = (g * c.lmo(g)).sum()
    for _ in range(300):
        w = torch.randn(6, 2, 2, generator=gen) * torch.rand(6, 1, 1, generator=gen).pow(3)
        w = w * (c.radius / c.norm(w))
        assert (g * w).sum() >= best - 1e-9


def _vertices_l1(n, r):
    for i, s in itertools.product(range(n), (-1, 1)):
        v = torch.zeros(n)
        v[i] = s * r
        yield v


def _vertices_linf(n, r):
    for signs in itertools.product((-1.0, 1.0), repeat=n):
        yield r * torch.tensor(signs)


def _vertices_k_sparse(n, k, r):
    for support in itertools.combinations(range(n), k):
        for signs in itertools.product((-1.0, 1.0), repeat=k):
            v = torch.zeros(n)
            v[list(support)] = r * torch.tensor(signs)
            yield v


@pytest.mark.parametrize("c, vertices", [
    (L1Ball(radius=2.0), lambda: _vertices_l1(7, 2.0)),
    (LInfBall(radius=2.0), lambda: _vertices_linf(7, 2.0)),
    (KSparsePolytope(radius=2.0, k=3), lambda: _vertices_k_sparse(7, 3, 2.0)),
])
def test_polytope_lmo_matches_vertex_enumeration(c, vertices):
    g = torch.randn(7, generator=torch.Generator().manual_seed(1))
    brute = min((g * v).sum() for v in vertices())
    assert torch.allclose((g * c.lmo(g)).sum(), brute)


def test_k_support_lmo_matches_enumeration_of_supports():
    """Extreme points are k-sparse vectors of norm radius: min over supports S of -r||g_S||."""
    g = torch.randn(8, generator=torch.Generator().manual_seed(2))
    c = KSupportNormBall(radius=1.3, k=3)
    brute = min(-1.3 * g[list(s)].norm() for s in itertools.combinations(range(8), 3))
    assert torch.allclose((g * c.lmo(g)).sum(), brute)


def test_group_k_support_lmo_matches_enumeration_of_filter_sets():
    g = torch.randn(6, 3, 2, 2, generator=torch.Generator().manual_seed(3))
    c = GroupKSupportNormBall(radius=1.3, k=2)
    brute = min(-1.3 * g[list(s)].norm() for s in itertools.combinations(range(6), 2))
    v = c.lmo(g)
    assert torch.allclose((g * v).sum(), brute)
    assert (_filter_norms(v) > 0).sum() == 2  # exactly k filters survive


@pytest.fixture(params=[True, False], ids=["host-selection", "device-selection"])
def selection(request, monkeypatch):
    monkeypatch.setattr(base, "HOST_SELECTION", request.param)


def test_lmo_keeps_exactly_k_with_ties(selection):
    g = torch.tensor([1.0, -1.0, 1.0, 1.0, 0.5])
    assert (KSparsePolytope(radius=1.0, k=2).lmo(g) != 0).sum() == 2
    assert (KSupportNormBall(radius=1.0, k=3).lmo(g) != 0).sum() == 3
    assert top_k_mask(torch.ones(2, 5), 3).sum(dim=1).tolist() == [3, 3]


@pytest.mark.parametrize("k", [1, 7, 6_000, 70_000, 99_999])
def test_top_k_mask_is_exact_on_large_rows(selection, k):
    """Large rows take the bracketed host selection: it must agree with topk, ties included."""
    gen = torch.Generator().manual_seed(k)
    scores = torch.randn(3, 100_000, generator=gen).abs()
    scores[1, :50_000] = scores[1, 0]  # a massive tie
    scores[2] = torch.randint(0, 5, (100_000,), generator=gen).double()  # few distinct values
    mask = top_k_mask(scores, k)
    assert mask.sum(dim=1).tolist() == [k, k, k]
    kth = scores.topk(k, dim=1).values[:, -1:]
    assert ((scores > kth) <= mask).all() and (mask <= (scores >= kth)).all()


def test_spectral_lmo_has_rank_k():
    g = torch.randn(8, 3, 3, 3)
    v = SpectralKSupportNormBall(radius=1.0, k=3).lmo(g)
    assert torch.linalg.matrix_rank(v.reshape(8, -1)) == 3
    v = SpectralKSparsePolytope(radius=1.0, k=2).lmo(g)
    assert torch.allclose(_svals(v)[:2], torch.ones(2)) and _svals(v)[2:].abs().max() < 1e-9


@pytest.mark.parametrize("make, dual, shape", [
    (lambda: KSupportNormBall(radius=1.0, k=2),
     lambda w: w.abs().sort().values[-2:].square().sum().sqrt(), (4,)),
    (lambda: GroupKSupportNormBall(radius=1.0, k=2),
     lambda w: _filter_norms(w).sort().values[-2:].square().sum().sqrt(), (3, 2)),
])
def test_gauge_agrees_with_its_dual_norm(make, dual, shape):
    """The gauge is the dual of the dual norm: sup_w <x, w>/dual(w) = norm(x), and never more.
    A random search refined by shrinking random perturbations approaches the supremum."""
    c = make()
    gen = torch.Generator().manual_seed(4)

    def ratio(w, x):
        return (w * x).flatten(1).sum(1) / torch.stack([dual(wi) for wi in w])

    for _ in range(3):
        x = torch.randn(*shape, generator=gen)
        w = torch.randn(5000, *shape, generator=gen)
        values = ratio(w, x)
        n = c.norm(x)
        assert values.max() <= n + 1e-9
        best = w[values.argmax()]
        for scale in (0.3, 0.1, 0.03, 0.01, 0.003, 0.001) * 3:
            w = best + scale * best.norm() * torch.randn(500, *shape, generator=gen)
            values = ratio(w, x)
            assert values.max() <= n + 1e-9
            best = w[values.argmax()] if values.max() > ratio(best[None], x)[0] else best
        assert ratio(best[None], x)[0] >= n * (1 - 1e-3)


def test_spectral_gauges_match_matrix_norms():
    x = torch.randn(5, 2, 3, 3, generator=torch.Generator().manual_seed(6))
    m = x.reshape(5, -1)
    assert torch.allclose(NuclearNormBall(radius=1).norm(x), torch.linalg.matrix_norm(m, "nuc"))
    assert torch.allclose(SpectralKSupportNormBall(radius=1, k=1).norm(x),
                          torch.linalg.matrix_norm(m, "nuc"))
    assert torch.allclose(SpectralKSupportNormBall(radius=1, k=5).norm(x), m.norm())
    s = torch.linalg.svdvals(m)
    assert torch.allclose(SpectralKSparsePolytope(radius=1, k=2).norm(x),
                          torch.maximum(s[0], s.sum() / 2))


def test_k_support_norm_special_cases():
    x = torch.randn(3, 7, generator=torch.Generator().manual_seed(5))
    assert torch.allclose(k_support_norm(x, 1), x.abs().sum(1))
    assert torch.allclose(k_support_norm(x, 7), x.norm(dim=1))
    assert torch.allclose(k_support_norm(torch.ones(1, 6), 4), torch.tensor([6 / 2.0]))
    sparse = torch.zeros(1, 7)
    sparse[0, [1, 4]] = torch.tensor([3.0, -4.0])
    assert torch.allclose(k_support_norm(sparse, 2), torch.tensor([5.0]))


@pytest.mark.parametrize("case", range(len(cases())), ids=IDS)
def test_shift_inside_lands_in_the_set(case):
    c, _ = cases()[case]
    gen = torch.Generator().manual_seed(case)
    outside = 10 * torch.randn(6, 2, 2, generator=gen)
    assert c.norm(c.shift_inside(outside)) <= c.radius * (1 + 1e-9)
    inside = c.shift_inside(outside) * 0.5
    assert torch.equal(c.shift_inside(inside), inside)


@pytest.mark.parametrize("case", range(len(cases())), ids=IDS)
def test_zero_gradient_gives_zero_vertex(case):
    c, _ = cases()[case]
    v = c.lmo(torch.zeros(6, 2, 2))
    assert torch.equal(v, torch.zeros(6, 2, 2))


def test_k_conventions():
    assert resolve_k(0.3, 10) == 3 and resolve_k(0.01, 10) == 1 and resolve_k(1.0, 10) == 10
    assert resolve_k(1, 10) == 1 and resolve_k(10, 10) == 10
    assert resolve_k(0.05, 100, minimum=10) == 10 and resolve_k(0.05, 1000, minimum=10) == 50
    assert resolve_k(0.05, 6, minimum=10) == 6  # Miao et al.: min(max(10, 5% n), n)
    assert KSupportNormBall(radius=1, k=0.5).k_for((4, 5)) == 10  # entries
    assert GroupKSupportNormBall(radius=1, k=0.5).k_for((4, 5)) == 2  # filters
    assert SpectralKSupportNormBall(radius=1, k=0.5).k_for((8, 2, 3, 3)) == 4  # min(8, 18)
    assert SpectralKSupportNormBall(radius=1, k=0.5).k_for((32, 1, 2, 2)) == 2  # min(32, 4)


def test_diameters():
    assert L2Ball(radius=2).diameter == 4
    assert L1Ball(radius=2).diameter == 4
    assert LInfBall(radius=2, shape=(9,)).diameter == pytest.approx(12)
    assert LpBall(4, radius=1, shape=(16,)).diameter == pytest.approx(2 * 16 ** 0.25)
    assert KSparsePolytope(radius=1, k=4).diameter == pytest.approx(4)
    assert SpectralKSparsePolytope(radius=1, k=0.5, shape=(8, 8)).diameter == pytest.approx(4)
    # the diameter is the distance of two opposite LMO outputs
    for c in (LInfBall(radius=1, shape=(5,)), KSparsePolytope(radius=1, k=2, shape=(5,))):
        g = torch.randn(5)
        assert (c.lmo(g) - c.lmo(-g)).norm() == pytest.approx(c.diameter)
    with pytest.raises(ValueError, match="shape="):
        _ = LInfBall(radius=1).diameter
    ball = LInfBall.from_diameter(6.0, shape=(9,))
    assert ball.radius == pytest.approx(1.0) and ball.diameter == pytest.approx(6.0)


@pytest.mark.parametrize("make, match", [
    (lambda: KSupportNormBall(radius=1, k=0), "k must be"),
    (lambda: KSupportNormBall(radius=1, k=-2), "k must be"),
    (lambda: KSupportNormBall(radius=1, k=1.5), r"fraction in \(0, 1\]"),
    (lambda: KSupportNormBall(radius=1, k=True), "k must be"),
    (lambda: KSupportNormBall(radius=1), "needs k="),
    (lambda: KSupportNormBall(radius=1, k=50, shape=(4, 4)), "larger than the 16 entries"),
    (lambda: GroupKSupportNormBall(radius=1, k=9, shape=(8, 3, 3, 3)),
     "larger than the 8 output filters"),
    (lambda: L2Ball(radius=0), "radius must be positive"),
    (lambda: L2Ball(radius=-1), "radius must be positive"),
    (lambda: L2Ball(radius=math.inf), "radius must be positive and finite"),
    (lambda: L2Ball(radius=math.nan), "radius must be positive and finite"),
    (lambda: LpBall(0.5, radius=1), "p must be"),
    (lambda: GroupKSupportNormBall(radius=1, k=1, shape=(10,)), "Conv2d weight"),
    (lambda: GroupKSupportNormBall(radius=1, k=1).lmo(torch.ones(10)), "Conv2d weight"),
    (lambda: SpectralKSupportNormBall(radius=1, k=1).lmo(torch.ones(10)), "Give 1-d tensors"),
    (lambda: SpectralKSupportNormBall(radius=1, k=1, method="fast"), "allowed: subspace, svd"),
    (lambda: KSupportNormBall(radius=1, k=20).lmo(torch.ones(4, 4)), "larger than the 16 entries"),
    (lambda: L2Ball(radius=1, shape=(3,)).lmo(torch.ones(4)), "built for shape"),
    (lambda: Unconstrained().lmo(torch.ones(3)), "no linear minimization oracle"),
])
def test_bad_input_raises_clear_value_error(make, match):
    with pytest.raises(ValueError, match=match):
        make()


# -- param_groups ----------------------------------------------------------------------------

def _net():
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(3, 8, 3), nn.BatchNorm2d(8), nn.ReLU(),
                         nn.Conv2d(8, 4, 3, bias=False), nn.Flatten(), nn.Linear(4 * 4 * 4, 5))


def test_structured_families_constrain_conv_weights_and_l2_elsewhere():
    groups = param_groups(_net(), "group_k_support", k=0.5, value=2.0, mode="radius")
    kinds = {g["name"]: type(g["constraint"]).__name__ for g in groups}
    assert kinds == {"0.weight": "GroupKSupportNormBall", "0.bias": "L2Ball",
                     "1.weight": "L2Ball", "1.bias": "L2Ball",
                     "3.weight": "GroupKSupportNormBall", "5.weight": "L2Ball", "5.bias": "L2Ball"}
    assert all(g["constraint"].radius == 2.0 and len(g["params"]) == 1 for g in groups)


def test_unstructured_families_constrain_every_tensor():
    groups = param_groups(_net(), "k_support", k=0.3, value=1.0, mode="diameter")
    assert {type(g["constraint"]) for g in groups} == {KSupportNormBall}
    assert all(g["constraint"].diameter == pytest.approx(1.0) for g in groups)
    assert sum(len(g["params"]) for g in groups) == 7


def test_initialization_mode_uses_each_modules_own_initial_norm():
    model = _net()
    before = [p.detach().clone() for p in model.parameters()]
    rng_before = torch.random.get_rng_state()
    groups = param_groups(model, "l2", value=3.0, mode="initialization", init_samples=50)
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters()))  # untouched
    assert torch.equal(torch.random.get_rng_state(), rng_before)  # and no RNG side effect
    radius = {g["name"]: g["constraint"].radius for g in groups}
    # BatchNorm weight is all ones: norm sqrt(8); its bias is zeros: replaced by 1
    assert radius["1.weight"] == pytest.approx(3.0 * math.sqrt(8))
    assert radius["1.bias"] == pytest.approx(3.0)
    # a conv weight: value times the mean norm of fresh default initializations
    fresh = [nn.Conv2d(3, 8, 3).weight.norm().item() for _ in range(400)]
    assert radius["0.weight"] == pytest.approx(3.0 * sum(fresh) / len(fresh), rel=0.03)


def test_init_norms_by_shape_reproduces_the_authors_collision():
    model = _net()
    norms = initial_norms(model, samples=10, by_shape=True)
    assert norms["1.weight"] == norms["1.bias"] == norms["0.bias"] == 1.0  # shape (8,) collides
    assert initial_norms(model, samples=10)["1.weight"] == pytest.approx(math.sqrt(8))


def test_global_radii_sum_each_tensors_own_estimate_even_with_shape_keying():
    # the authors key by shape only per layer; in global mode each tensor's own estimate
    # counts (the BatchNorm bias of zeros contributes 0, not the 1 of the per-layer rule)
    model = _net()
    keyed = param_groups(model, "l2", value=1.0, global_=True, init_samples=10,
                         init_norms_by_shape=True)
    plain = param_groups(model, "l2", value=1.0, global_=True, init_samples=10)
    norms = initial_norms(model, samples=10)
    expected = math.sqrt(sum(n ** 2 for n in norms.values()))
    assert keyed[0]["constraint"].radius == plain[0]["constraint"].radius
    assert plain[0]["constraint"].radius == pytest.approx(expected)


def test_global_groups_share_one_set():
    model = _net()
    groups = param_groups(model, "group_k_support", k=0.5, value=1.0, mode="radius", global_=True)
    assert [g["name"] for g in groups] == ["group_k_support", "l2"]
    conv = groups[0]
    assert len(conv["params"]) == 2 and conv["constraint"].k_for(conv["constraint"].shape) == 6
    groups = param_groups(model, "l1", value=1.0, mode="radius", global_=True)
    entries = sum(p.numel() for p in model.parameters())
    assert len(groups) == 1 and groups[0]["constraint"].shape == (entries,)


@pytest.mark.parametrize("kwargs, match", [
    (dict(family="l3"), "unknown constraint family 'l3'; allowed: l2, l1, linf"),
    (dict(family="l2", mode="width"),
     "unknown mode 'width'; allowed: radius, diameter, initialization"),
    (dict(family="k_support"), "k is required"),
    (dict(family="l2", k=3), "k does not apply to family 'l2'"),
    (dict(family="k_support", k=0), "k must be"),
    (dict(family="group_k_support", k=100), "larger than the 8 output filters"),
    (dict(family="spectral_k_support", k=0.5, global_=True), "per layer only"),
    (dict(family="l2", value=-1.0), "value must be positive"),
])
def test_param_groups_rejects_bad_input(kwargs, match):
    with pytest.raises(ValueError, match=match):
        param_groups(_net(), **{"mode": "radius", **kwargs})


def test_every_family_is_constructible_on_a_network():
    for family, entry in FAMILIES.items():
        k = 0.5 if entry.takes_k else None
        groups = param_groups(_net(), family, k=k, value=1.0, mode="initialization",
                              init_samples=2)
        for g in groups:
            (p,) = g["params"]
            v = g["constraint"].lmo(torch.randn_like(p))
            assert v.shape == p.shape

"""The common machinery of every feasible region: radius and k conventions, the batched LMO
contract, and how a group of several tensors is viewed as one tensor.

Every set implements its linear minimization oracle on a *batch* of same-shaped tensors
``g`` of shape ``(B, *shape)`` with one radius per item.  The single-tensor ``lmo(g)`` is that
batched code with ``B = 1``, so the optimizer's fast path (which stacks tensors of equal
shape) and the per-tensor path run the same mathematics.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import ClassVar

import numpy as np
import torch
from torch import Tensor

from ..conventions import resolve_k, validate_k, validate_radius
from ..registry import Registry
from ..vocabulary import FAMILIES

# Below this norm a gradient counts as zero and every LMO returns 0 (a valid minimizer, since
# every set here is a centrally symmetric ball around 0); the reference code uses the same 1e-10.
ZERO_NORM = 1e-10

Shape = tuple[int, ...]


def inverse_or_zero(norm: Tensor) -> Tensor:
    """1/norm where norm is above ZERO_NORM, else 0 (so a zero gradient gives v = 0)."""
    return torch.where(norm > ZERO_NORM, norm, math.inf).reciprocal()


def top_k_mask(scores: Tensor, k: int) -> Tensor:
    """Boolean mask selecting exactly k largest entries per row of a (B, n) tensor.

    A threshold plus a mask beats ``topk`` + scatter (3-5x at k >= 10% on a CPU).  Entries tied with
    the threshold are admitted left to right until the row has exactly k, so LMO outputs stay
    vertices even with tied scores.  On accelerators everything stays on the device; on the
    CPU, where reading a count costs nothing, the common no-tie case skips the tie-break.
    """
    n = scores.shape[1]
    if k >= n:
        return torch.ones_like(scores, dtype=torch.bool)
    on_host = scores.device.type == "cpu" and HOST_SELECTION
    threshold = kth_largest_on_host(scores, k) if on_host else \
        scores.kthvalue(n - k + 1, dim=1, keepdim=True).values
    at_least = scores >= threshold
    # int32 sums: count_nonzero(dim=) and int64 sums widen every flag to 8 bytes first
    if on_host and bool((at_least.sum(dim=1, dtype=torch.int32) == k).all()):
        return at_least
    above = scores > threshold
    tied = at_least & ~above
    missing = k - above.sum(dim=1, keepdim=True, dtype=torch.int32)
    return above | (tied & (tied.cumsum(dim=1, dtype=torch.int32) <= missing))


#: let ``top_k_mask`` use data-dependent host logic on CPU tensors (tests switch it off to
#: exercise the device path)
HOST_SELECTION = True


def kth_largest_on_host(scores: Tensor, k: int) -> Tensor:
    """Exact k-th largest value of each row of a CPU (B, n) tensor, as a (B, 1) tensor.

    ``kthvalue`` (nth_element on a copy) reads the whole row several times.  Instead, a
    quantile of a random sample gives a cut safely below the answer, and the answer is
    selected among the entries above the cut (a little more than k of them).  If the cut was
    not low enough (a count tells) it falls back to ``kthvalue``: always exact.
    """
    rows, n = scores.shape
    if n < 1 << 16:
        return scores.kthvalue(n - k + 1, dim=1, keepdim=True).values
    if 2 * k > n:  # select the (n - k + 1)-th smallest instead, from the other side
        return -kth_largest_on_host(-scores, n - k + 1)
    # fixed-seed random positions: a stride would alias with the weight's layout
    where = torch.randint(n, (4096,), generator=torch.Generator().manual_seed(n))
    sample = scores[:, where]
    p = k / n
    rank = math.floor(4096 * (1 - p) - 5 * math.sqrt(4096 * p * (1 - p)) - 2)  # 5 sigma low
    out = torch.empty(rows, 1, dtype=scores.dtype)
    for b in range(rows):
        row = scores[b]
        top = row[row > sample[b].kthvalue(rank).values] if rank >= 1 else row
        if top.numel() < k:  # the cut was not low enough: select from the whole row
            top = row
        # numpy's introselect partitions ~2x faster than kthvalue's copy + nth_element
        out[b] = float(np.partition(top.numpy(), top.numel() - k)[top.numel() - k])
    return out


def k_support_norm(x: Tensor, k: int) -> Tensor:
    """Row-wise k-support norm of a (B, d) tensor (Argyriou, Foygel, Srebro 2012, Prop. 2.1).

    With z the absolute values sorted in decreasing order (z_0 = +inf), r in {0..k-1} is the
    unique index with z_{k-r-1} > (1/(r+1)) sum_{i>=k-r} z_i >= z_{k-r}, and then
    norm^2 = sum_{i<k-r} z_i^2 + (sum_{i>=k-r} z_i)^2 / (r+1).  All r are tested at once.
    """
    z = x.abs().sort(dim=1, descending=True).values
    d = z.shape[1]
    k = min(k, d)
    tail = z.flip(1).cumsum(1).flip(1)  # tail[:, j] = sum_{i>=j} z_i (0-indexed)
    r = torch.arange(k, device=x.device)
    j = k - r - 1  # 0-indexed position of z_{k-r}
    mean_tail = tail[:, j] / (r + 1)
    inf = torch.full_like(z[:, :1], math.inf)
    above = torch.cat([inf, z], dim=1)[:, j]  # z_{k-r-1}, with z_0 = +inf
    at = z[:, j]
    tol = 1e-7 * (1.0 + mean_tail)
    ok = (above > mean_tail - tol) & (mean_tail >= at - tol)
    # the unique valid r; numerically several may pass, the smallest is the textbook choice
    r_star = torch.where(ok.any(dim=1), ok.float().argmax(dim=1), k - 1)
    j_star = k - r_star - 1
    head_sq = torch.cat([torch.zeros_like(z[:, :1]), (z * z).cumsum(1)], dim=1)
    head = head_sq.gather(1, j_star[:, None]).squeeze(1)
    tail_j = tail.gather(1, j_star[:, None]).squeeze(1)
    return (head + tail_j.square() / (r_star + 1)).sqrt()


#: family name -> the class of its sets (each class registers itself when defined)
SETS: Registry[type[Constraint]] = Registry("family")


class Constraint:
    """A closed convex norm ball C = {x : norm(x) <= radius} acting on one tensor.

    Subclasses define what ``k`` counts, the Euclidean diameter per unit radius, the gauge
    ``norm``, its dual and the batched LMO.  ``shape`` is optional: when given, k and the
    diameter are resolved and checked at construction; otherwise at each call.

    A set is immutable once built: ``SFW`` plans its batched LMO calls (radii stacked on the
    device, k resolved) around the sets of its param groups, so a radius changed in place
    would be silently ignored.  To change a set, put a new one into the param group.
    """

    #: the family this class implements: a key of ``cafw.vocabulary.FAMILIES``, whose entry
    #: gives ``has_k`` and ``grouping``; a class that sets it registers in ``SETS``
    family: ClassVar[str]
    #: how the tensors of a multi-tensor (global) group are viewed as one tensor:
    #: "entries" flattens and concatenates, "filters" stacks output filters as rows,
    #: "matrix" cannot be packed (spectral sets are per layer).
    grouping: ClassVar[str] = "entries"
    #: what k counts, for messages
    k_counts: ClassVar[str] = "entries"
    #: whether the set has a k; sets without one reject k=
    has_k: ClassVar[bool] = False

    def __init_subclass__(cls, **kwargs) -> None:
        super().__init_subclass__(**kwargs)
        if "family" in cls.__dict__:
            entry = FAMILIES[cls.family]
            cls.has_k, cls.grouping = entry.takes_k, entry.grouping
            SETS.add(cls.family, cls)

    def __init__(self, *, radius: float, k: int | float | None = None,
                 shape: Sequence[int] | None = None, k_min: int = 1) -> None:
        self.radius = validate_radius(radius)
        if isinstance(k_min, bool) or not isinstance(k_min, int) or k_min < 1:
            raise ValueError(f"k_min must be an int >= 1, got {k_min!r}")
        self.k_min = k_min
        if self.has_k:
            if k is None:
                raise ValueError(f"{type(self).__name__} needs k= (an int count or a float "
                                 f"fraction in (0, 1] of its {self.k_counts})")
            validate_k(k)
        self.k = k
        self.shape: Shape | None = None if shape is None else tuple(int(s) for s in shape)
        if self.shape is not None:
            self.check_shape(self.shape)
            if self.has_k:
                self.k_for(self.shape)  # raises if k does not fit this shape
        self._frozen = True

    def __setattr__(self, name: str, value: object) -> None:
        if getattr(self, "_frozen", False):
            raise AttributeError(f"{type(self).__name__} is immutable: build a new set and put "
                                 "it into the param group (the optimizer plans its batched "
                                 "LMOs around the sets it was given)")
        super().__setattr__(name, value)

    # -- hooks for subclasses -------------------------------------------------------------
    def check_shape(self, shape: Shape) -> None:
        """Raise ValueError if the set is not defined on tensors of this shape."""

    def count(self, shape: Shape) -> int:
        """The n that a fractional k refers to (entries, filters or maximal rank)."""
        return math.prod(shape)

    def diameter_per_radius(self, shape: Shape | None) -> float:
        """Euclidean diameter of the set divided by its radius."""
        return 2.0

    def _lmo(self, g: Tensor, radius: Tensor, k: int, state: dict | None) -> Tensor:
        """Batched LMO: g is (B, *shape), radius is (B,); returns argmin_v <g_b, v_b> as a
        new tensor (the optimizer reuses it in place)."""
        raise NotImplementedError

    def _norm(self, x: Tensor, k: int) -> Tensor:
        """Batched gauge: (B, *shape) -> (B,)."""
        raise NotImplementedError

    def _dual_norm(self, g: Tensor, k: int) -> Tensor:
        """Batched dual norm, so that min over the unit ball of <g, v> = -dual_norm(g)."""
        raise NotImplementedError

    def batch_key(self, shape: Shape) -> tuple:
        """Everything but the radius that must agree for two tensors to share one LMO call."""
        return (type(self), shape, self.k_for(shape) if self.has_k else None)

    # -- public API -----------------------------------------------------------------------
    def k_for(self, shape: Sequence[int]) -> int:
        """The integer k used on a tensor of this shape (1 for sets without k)."""
        shape = tuple(shape)
        if not self.has_k:
            return 1
        return resolve_k(self.k, self.count(shape), what=self.k_counts, minimum=self.k_min)

    @property
    def diameter(self) -> float:
        return self.diameter_per_radius(self.shape) * self.radius

    @classmethod
    def from_diameter(cls, diameter: float, **kwargs) -> Constraint:
        """Build the set whose Euclidean diameter is ``diameter`` (needs shape= where the
        ratio of diameter to radius depends on it)."""
        probe = cls(radius=1.0, **kwargs)
        return cls(radius=validate_radius(diameter) / probe.diameter, **kwargs)

    def lmo(self, g: Tensor) -> Tensor:
        """argmin over v in the set of <g, v>, with g's shape, dtype and device."""
        self._check_input(g)
        radius = torch.full((1,), self.radius, dtype=g.dtype, device=g.device)
        return self._lmo(g.unsqueeze(0), radius, self.k_for(g.shape), None)[0]

    def batched_lmo(self, g: Tensor, radius: Tensor, state: dict | None = None) -> Tensor:
        """The LMO of B sets that differ at most in radius, in one call.

        ``g`` is (B, *shape), ``radius`` (B,) on g's device; ``state`` is a dict of (B, ...)
        tensors that a set may keep between calls (the spectral sets' warm-start basis), or
        None.  Returns a new (B, *shape) tensor, which the caller may reuse in place.
        """
        self._check_input(g[0])
        return self._lmo(g, radius, self.k_for(g.shape[1:]), state)

    def norm(self, x: Tensor) -> Tensor:
        """The gauge: x is in the set iff norm(x) <= radius."""
        self._check_input(x)
        return self._norm(x.unsqueeze(0), self.k_for(x.shape))[0]

    def dual_norm(self, g: Tensor) -> Tensor:
        """The dual norm: <g, lmo(g)> = -radius * dual_norm(g)."""
        self._check_input(g)
        return self._dual_norm(g.unsqueeze(0), self.k_for(g.shape))[0]

    def shift_inside(self, x: Tensor) -> Tensor:
        """Rescale x onto the set if it lies outside (the authors' rule; not a projection)."""
        n = self.norm(x)
        return torch.where(n > self.radius, x * (self.radius / n.clamp_min(ZERO_NORM)), x)

    def _check_input(self, x: Tensor) -> None:
        shape = tuple(x.shape)
        if self.shape is not None and shape != self.shape:
            raise ValueError(f"{type(self).__name__} was built for shape {self.shape}, "
                             f"got a tensor of shape {shape}")
        self.check_shape(shape)

    def __repr__(self) -> str:
        extra = f", k={self.k}" if self.has_k else ""
        shape = f", shape={self.shape}" if self.shape is not None else ""
        return f"{type(self).__name__}(radius={self.radius:.6g}{extra}{shape})"


def pack(tensors: Sequence[Tensor], grouping: str) -> Tensor:
    """View a group of tensors as one tensor so that one set can act on all of them."""
    if len(tensors) == 1:
        return tensors[0]
    if grouping == "entries":
        return torch.cat([t.reshape(-1) for t in tensors])
    if grouping == "filters":
        # output filters of all tensors as rows; zero padding changes no filter norm and the
        # LMO output is zero there, so the packed set is exactly the set over all filters
        rows = [t.reshape(t.shape[0], -1) for t in tensors]
        width = max(r.shape[1] for r in rows)
        return torch.cat([torch.nn.functional.pad(r, (0, width - r.shape[1])) for r in rows])
    raise ValueError(f"a set with grouping {grouping!r} acts on one tensor at a time; "
                     "use per-layer constraints (global_=False)")


def packed_shape(shapes: Sequence[Shape], grouping: str) -> Shape:
    if len(shapes) == 1:
        return tuple(shapes[0])
    if grouping == "entries":
        return (sum(math.prod(s) for s in shapes),)
    if grouping == "filters":
        return (sum(s[0] for s in shapes), max(math.prod(s[1:]) for s in shapes))
    raise ValueError(f"a set with grouping {grouping!r} acts on one tensor at a time; "
                     "use per-layer constraints (global_=False)")


def unpack(packed: Tensor, like: Sequence[Tensor], grouping: str) -> list[Tensor]:
    """Inverse of ``pack``: views (or slices) of ``packed`` shaped like ``like``."""
    if len(like) == 1:
        return [packed]
    out, start = [], 0
    for t in like:
        if grouping == "entries":
            out.append(packed[start:start + t.numel()].view_as(t))
            start += t.numel()
        else:
            rows, width = t.shape[0], t[0].numel()
            out.append(packed[start:start + rows, :width].reshape(t.shape))
            start += rows
    return out

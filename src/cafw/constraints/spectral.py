"""Sets over the singular values of a weight reshaped to (C_out, C_in*kh*kw): the spectral
k-support norm ball (proposed for low rank), the spectral k-sparse polytope and the nuclear
norm ball.

The LMOs need only the top-k singular subspace of the gradient.  ``method="svd"`` computes it
exactly with a full SVD.  ``method="subspace"`` (the default) keeps the previous step's basis of
the top-k subspace on the matrix's long side in the optimizer state and refines it with
``iterations`` rounds of block subspace iteration (two matmuls, a QR of the short side and a
Cholesky QR of the long side each).  How close that comes to the exact LMO along real SFW
runs, per number of rounds, is measured by ``cafw bench lmo-quality`` (docs/compute.md):
the default is 3 rounds.  A basis of k vectors alone converges slowly where the k-th and
(k+1)-th singular values are close; the nuclear ball (k = 1) meets that case most, so it keeps
``oversampling`` extra vectors and takes its vertex from the top of the block (Rayleigh-Ritz).
Without a warm basis (the first step, or a stand-alone ``lmo`` call) the subspace method falls
back to the exact SVD, which also seeds the basis.  The vertex U (U^T M) / ||U^T M||_F built
from any orthonormal U has rank <= k and Frobenius norm radius, so an approximate basis still
yields a feasible point.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import Tensor

from ..conventions import LMO_ITERATIONS, check_lmo_options
from .base import Constraint, Shape, inverse_or_zero, k_support_norm


def _orthonormal(a: Tensor) -> Tensor:
    """Exact orthonormal basis of the columns of a (Householder QR)."""
    return torch.linalg.qr(a).Q


def _warm_basis(a: Tensor) -> Tensor:
    """Orthonormal basis of the columns of a tall a, for warm-starting only: Cholesky QR does
    k x k work where Householder works on the tall side (4x cheaper on the 4608 x 153 case
    here).  A tiny relative shift keeps it finite when a is rank deficient; the vertex itself
    never depends on this basis being exactly orthonormal."""
    gram = a.mT @ a
    diagonal = gram.diagonal(dim1=-2, dim2=-1)
    diagonal.add_(1e-6 * diagonal.mean(dim=-1, keepdim=True) + torch.finfo(a.dtype).tiny)
    chol = torch.linalg.cholesky_ex(gram).L
    return torch.linalg.solve_triangular(chol, a.mT, upper=False).mT


class _SpectralSet(Constraint):
    k_counts = "singular values (the smaller dimension of the reshaped weight)"
    #: basis vectors kept beyond the k the LMO needs (``_top_of_block`` then picks the top k)
    oversampling = 0

    def __init__(self, *, radius: float, k: int | float | None = None,
                 shape: Sequence[int] | None = None, method: str = "subspace",
                 iterations: int = LMO_ITERATIONS, k_min: int = 1) -> None:
        check_lmo_options(method, iterations)
        self.method, self.iterations = method, iterations
        super().__init__(radius=radius, k=k, shape=shape, k_min=k_min)

    def check_shape(self, shape: Shape) -> None:
        if len(shape) < 2:
            raise ValueError(f"{type(self).__name__} acts on a weight with >= 2 dims, reshaped "
                             f"to (C_out, C_in*kh*kw); got shape {shape}. Give 1-d tensors "
                             "(biases, BatchNorm) an L2Ball")

    def count(self, shape: Shape) -> int:
        return min(shape[0], math.prod(shape[1:]))

    def batch_key(self, shape: Shape) -> tuple:
        return (*super().batch_key(shape), self.method, self.iterations)

    @staticmethod
    def _matrix(x: Tensor) -> Tensor:
        return x.reshape(x.shape[0], x.shape[1], -1)

    def _lmo(self, g: Tensor, radius: Tensor, k: int, state: dict | None) -> Tensor:
        m = self._matrix(g)
        wide = m.shape[1] <= m.shape[2]
        m = m if wide else m.mT  # work on the wide orientation: exact QR on the short side
        if self.method == "svd" or state is None or "basis" not in state:
            u, s, vh = torch.linalg.svd(m, full_matrices=False)
            if state is not None and self.method == "subspace":
                state["basis"] = vh[..., :k + self.oversampling, :].mT.contiguous()
            v = self._vertex_from_svd(u[..., :k], s[..., :k], vh[..., :k, :], radius)
        else:
            basis = state["basis"]  # (B, long side, k + oversampling)
            for _ in range(self.iterations):
                u = _orthonormal(m @ basis)
                w = u.mT @ m  # (B, block, long side): the gradient in the left subspace
                basis = _warm_basis(w.mT)
            state["basis"] = basis
            if w.shape[1] > k:
                u, w = self._top_of_block(u, w)
            v = self._vertex_from_subspace(u, w, radius)
        return (v if wide else v.mT).reshape(g.shape)

    def _vertex_from_svd(self, u: Tensor, s: Tensor, vh: Tensor, radius: Tensor) -> Tensor:
        raise NotImplementedError

    def _top_of_block(self, u: Tensor, w: Tensor) -> tuple[Tensor, Tensor]:
        """The top k directions of an oversampled block (u, w = u^T M)."""
        raise NotImplementedError

    def _vertex_from_subspace(self, u: Tensor, w: Tensor, radius: Tensor) -> Tensor:
        raise NotImplementedError

    def _singular_values(self, x: Tensor) -> Tensor:
        return torch.linalg.svdvals(self._matrix(x))

    def __repr__(self) -> str:
        return super().__repr__()[:-1] + f", method={self.method!r}, iterations={self.iterations})"


class SpectralKSupportNormBall(_SpectralSet):
    """conv{W : rank W <= k, ||W||_F <= radius} (McDonald, Pontil, Stamos 2014).

    Gauge: the k-support norm of the singular values.  LMO: -radius [M]_k / ||[M]_k||_F with
    [M]_k the rank-k truncated SVD of the gradient.
    """

    family = "spectral_k_support"

    def _norm(self, x: Tensor, k: int) -> Tensor:
        return k_support_norm(self._singular_values(x), k)

    def _dual_norm(self, g: Tensor, k: int) -> Tensor:
        return self._singular_values(g)[:, :k].square().sum(dim=1).sqrt()

    def _vertex_from_svd(self, u, s, vh, radius):
        scale = -radius * inverse_or_zero(torch.linalg.vector_norm(s, dim=1))
        return (u * (s * scale[:, None])[:, None, :]) @ vh

    def _vertex_from_subspace(self, u, w, radius):
        scale = -radius * inverse_or_zero(torch.linalg.matrix_norm(w))
        return u @ (w * scale[:, None, None])


class NuclearNormBall(SpectralKSupportNormBall):
    """{W : ||W||_* <= radius}, the spectral k-support ball with k = 1.  LMO: -radius u1 v1^T.

    Its warm basis holds 1 + ``oversampling`` vectors: with one, the iteration stalls whenever
    the top two singular values are close or swap between steps."""

    family = "nuclear"
    oversampling = 4
    squarings = 12  # the Gram matrix's 4096th power: its range is the top direction

    def _top_of_block(self, u, w):
        """Rayleigh-Ritz for k = 1: the top eigenvector of the block's small Gram matrix w w^T,
        as the column with the largest diagonal entry of its repeated square (normalised each
        time).  No eigensolver: those check for errors on the host, and the step has no host
        sync on a GPU."""
        gram = w @ w.mT  # (B, 1 + oversampling, same)
        for _ in range(self.squarings):
            gram = gram / torch.linalg.matrix_norm(gram, keepdim=True).clamp_min(
                torch.finfo(gram.dtype).tiny)
            gram = gram @ gram
        column = gram.diagonal(dim1=-2, dim2=-1).argmax(dim=-1)  # (B,)
        top = torch.take_along_dim(gram, column[:, None, None], dim=-1)  # (B, block, 1)
        top = top * inverse_or_zero(torch.linalg.vector_norm(top, dim=1, keepdim=True))
        return u @ top, top.mT @ w

    def __init__(self, *, radius: float, shape: Sequence[int] | None = None,
                 method: str = "subspace", iterations: int = LMO_ITERATIONS) -> None:
        super().__init__(radius=radius, shape=shape, method=method, iterations=iterations)


class SpectralKSparsePolytope(_SpectralSet):
    """conv{W : rank W <= k, singular values in {0, r}} = {sigma_max <= r, ||W||_* <= k r}.
    ``radius`` is the singular-value bound r.  LMO: -r U_k V_k^T.
    """

    family = "spectral_k_sparse"

    def diameter_per_radius(self, shape: Shape | None) -> float:
        if shape is None and not isinstance(self.k, int):
            raise ValueError("the diameter of a spectral k-sparse polytope with a fractional k "
                             "depends on the weight's shape; build it with shape=")
        k = self.k if shape is None else self.k_for(shape)
        return 2.0 * math.sqrt(k)

    def _norm(self, x: Tensor, k: int) -> Tensor:
        s = self._singular_values(x)
        return torch.maximum(s[:, 0], s.sum(dim=1) / k)

    def _dual_norm(self, g: Tensor, k: int) -> Tensor:
        return self._singular_values(g)[:, :k].sum(dim=1)

    def _vertex_from_svd(self, u, s, vh, radius):
        nonzero = (torch.linalg.vector_norm(s, dim=1) > 1e-10).to(u.dtype)
        return (u @ vh) * (-radius * nonzero)[:, None, None]

    def _vertex_from_subspace(self, u, w, radius):
        # top-k singular vectors within the subspace: a small (k x n) SVD of w
        small_u, s, vh = torch.linalg.svd(w, full_matrices=False)
        return self._vertex_from_svd(u @ small_u, s, vh, radius)

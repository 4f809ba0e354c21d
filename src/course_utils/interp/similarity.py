"""Comparing representations across models: linear CKA and unit matching (chapter 5c).

Two questions about two networks (two seeds, two architectures, two datasets):

- Do whole *layers* represent the inputs alike? Linear centred kernel alignment
  (Kornblith et al., "Similarity of Neural Network Representations Revisited", 2019) compares
  two activation matrices of the same ``n`` examples, with any numbers of features:

      CKA(X, Y) = ||Yc^T Xc||_F^2 / (||Xc^T Xc||_F ||Yc^T Yc||_F)

  with column-centred ``Xc``, ``Yc``. It is 1 for identical inputs and does not change under
  rotations (orthogonal transforms) or a common scale of either side, so it compares *what* is
  represented, not in which basis.
- Do single *units* have partners? Correlate every unit of one net with every unit of the other
  and take each unit's best match, or the best one-to-one pairing (Hungarian algorithm), as in
  Li et al., "Convergent Learning: Do different neural networks learn the same
  representations?", 2016.

Both need baselines (an untrained net, raw pixels): early layers score high even against an
untrained net, because they mostly pass the image on. With far more features than examples
(a flattened conv map), the plain CKA estimate is inflated; :func:`debiased_linear_cka` is not.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Sequence

import torch
from scipy.optimize import linear_sum_assignment


def _check_pair(X: torch.Tensor, Y: torch.Tensor) -> None:
    for name, M in (("X", X), ("Y", Y)):
        if not isinstance(M, torch.Tensor) or M.ndim != 2:
            got = tuple(M.shape) if isinstance(M, torch.Tensor) else type(M).__name__
            raise ValueError(f"{name} must be a 2-D tensor n x p (examples x features), got {got}; "
                             f"flatten conv activations first with acts.flatten(1)")
    if len(X) != len(Y):
        raise ValueError(f"X and Y must hold the same examples: X has {len(X)} rows, Y has {len(Y)}")
    if len(X) < 2:
        raise ValueError(f"need at least 2 examples, got {len(X)}")


def centred_gram(X: torch.Tensor) -> torch.Tensor:
    """The centred linear kernel ``K_c = X_c X_c^T`` (``n x n``, float64) of ``X: n x p``.

    Centring the columns of ``X`` and then taking ``X_c X_c^T`` equals ``H X X^T H`` with the
    centring matrix ``H = I - 11^T / n``.
    """
    Xc = X.double() - X.double().mean(0, keepdim=True)
    return Xc @ Xc.T


def linear_cka(X: torch.Tensor, Y: torch.Tensor) -> float:
    """Linear CKA between ``X: n x p1`` and ``Y: n x p2`` (rows = the same n examples), in [0, 1].

    Computed in float64. Uses the feature-space formula when both ``p`` are at most ``n`` and the
    equivalent ``n x n`` Gram formula ``<K_c, L_c> / (|K_c| |L_c|)`` otherwise (cheaper for wide
    conv layers). A representation with no variance at all has no CKA: that raises.
    """
    _check_pair(X, Y)
    n = len(X)
    if X.shape[1] <= n and Y.shape[1] <= n:
        Xc = X.double() - X.double().mean(0, keepdim=True)
        Yc = Y.double() - Y.double().mean(0, keepdim=True)
        cross = (Yc.T @ Xc).square().sum()
        norm_x, norm_y = torch.linalg.matrix_norm(Xc.T @ Xc), torch.linalg.matrix_norm(Yc.T @ Yc)
    else:
        K, L = centred_gram(X), centred_gram(Y)
        cross = (K * L).sum()
        norm_x, norm_y = torch.linalg.matrix_norm(K), torch.linalg.matrix_norm(L)
    if norm_x == 0 or norm_y == 0:
        raise ValueError("CKA is undefined for a representation that is the same for every example "
                         f"(variance 0 in {'X' if norm_x == 0 else 'Y'})")
    return float(cross / (norm_x * norm_y))


def unbiased_hsic(K: torch.Tensor, L: torch.Tensor) -> torch.Tensor:
    """The unbiased HSIC estimator of Song et al. (2012) for two ``n x n`` Gram matrices (n >= 4).

    With the diagonals set to zero (``K~``, ``L~``) and ``1`` the vector of ones:

        HSIC_1 = [tr(K~ L~) + (1'K~1)(1'L~1) / ((n-1)(n-2)) - 2/(n-2) 1'K~L~1] / (n (n-3))

    The plain estimator ``<HKH, HLH>`` counts every example's product with itself, a term that
    grows with the number of features; this one leaves those terms out, so independent
    representations score about 0 however many features they have. Float64, may be negative.
    """
    n = len(K)
    if n < 4:
        raise ValueError(f"the unbiased HSIC needs at least 4 examples, got {n}")
    K, L = K.double().clone().fill_diagonal_(0), L.double().clone().fill_diagonal_(0)
    ones = torch.ones(n, dtype=torch.float64)
    return ((K * L).sum() + K.sum() * L.sum() / ((n - 1) * (n - 2))
            - 2 / (n - 2) * (ones @ K) @ (L @ ones)) / (n * (n - 3))


def debiased_linear_cka(X: torch.Tensor, Y: torch.Tensor) -> float:
    """Linear CKA of ``X: n x p1`` and ``Y: n x p2`` from the unbiased HSIC (Kornblith et al.,
    2019, after Song et al., 2012): near 0 for unrelated representations even when the number
    of features is far above ``n``, where :func:`linear_cka` drifts towards 1."""
    _check_pair(X, Y)
    K, L = X.double() @ X.double().T, Y.double() @ Y.double().T
    self_x, self_y = unbiased_hsic(K, K), unbiased_hsic(L, L)
    if self_x <= 0 or self_y <= 0:
        raise ValueError("debiased CKA is undefined for a representation with no variance estimate "
                         f"above 0 (in {'X' if self_x <= 0 else 'Y'})")
    return float(unbiased_hsic(K, L) / (self_x * self_y).sqrt())


def normalized_grams(acts: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Each layer's centred Gram matrix scaled to unit Frobenius norm: ``{name: n x n}`` (float64).

    ``acts`` maps layer names to activations of the same ``n`` images (``n x C x H x W`` or
    ``n x F``; flattened here). The CKA of two layers is then ``(Ka * Kb).sum()``: computing the
    Gram matrices once makes many comparisons between the same models cheap. A layer that is the
    same for every image has no CKA and raises.
    """
    sizes = {len(v) for v in acts.values()}
    if len(sizes) > 1:
        raise ValueError(f"every layer must hold the same examples; got row counts {sorted(sizes)}")
    grams = {}
    for name, value in acts.items():
        K = centred_gram(value.flatten(1))
        norm = torch.linalg.matrix_norm(K)
        if norm == 0:
            raise ValueError(f"layer {name!r} is the same for every example (variance 0): CKA is undefined")
        grams[name] = K / norm
    return grams


def cka_from_grams(grams_a: Mapping[str, torch.Tensor], grams_b: Mapping[str, torch.Tensor]) -> torch.Tensor:
    """``La x Lb`` linear CKA from :func:`normalized_grams` of model A and of model B (float64)."""
    sizes = {len(K) for K in list(grams_a.values()) + list(grams_b.values())}
    if len(sizes) != 1:
        raise ValueError(f"both models must be recorded on the same examples; got {sorted(sizes)} examples")
    return torch.tensor([[float((Ka * Kb).sum()) for Kb in grams_b.values()] for Ka in grams_a.values()],
                        dtype=torch.float64)


def cka_matrix(acts_a: Mapping[str, torch.Tensor], acts_b: Mapping[str, torch.Tensor]) -> torch.Tensor:
    """Linear CKA between every layer of model A and every layer of model B: ``La x Lb`` (float64).

    ``acts_a`` / ``acts_b`` map layer names to activations of the *same* ``n`` images
    (``n x C x H x W`` or ``n x F``), e.g. from :func:`course_utils.interp.hooks.record`. Entry
    ``[i, j]`` compares A's i-th layer with B's j-th, in the dicts' order.
    """
    return cka_from_grams(normalized_grams(acts_a), normalized_grams(acts_b))


def diagonal_dominance(matrix: torch.Tensor) -> float:
    """Fraction of rows and columns of a square ``L x L`` CKA matrix whose largest entry is on the
    diagonal: 1.0 when every layer of one network is most similar to the *same* layer of the other.
    """
    if matrix.ndim != 2 or matrix.shape[0] != matrix.shape[1]:
        raise ValueError(f"expected a square L x L matrix, got shape {tuple(matrix.shape)}")
    index = torch.arange(len(matrix))
    rows = matrix.argmax(1) == index
    cols = matrix.argmax(0) == index
    return float(torch.cat([rows, cols]).float().mean())


# --- Unit matching -----------------------------------------------------------------------


def unit_samples(acts: torch.Tensor) -> torch.Tensor:
    """Activations as ``samples x units``: a conv layer ``N x C x H x W`` gives ``(N*H*W) x C``.

    A conv channel is one unit applied at every position, so every position of every image is
    one sample of it; a linear layer ``N x F`` is returned as it is.
    """
    if acts.ndim == 2:
        return acts
    if acts.ndim != 4:
        raise ValueError(f"acts must be N x F or N x C x H x W, got shape {tuple(acts.shape)}")
    return acts.permute(0, 2, 3, 1).reshape(-1, acts.shape[1])


def unit_correlations(A: torch.Tensor, B: torch.Tensor) -> torch.Tensor:
    """Pearson correlation of every unit of ``A: s x p1`` with every unit of ``B: s x p2``: ``p1 x p2``.

    Rows of ``A`` and ``B`` are the same samples. A unit that never varies (a dead ReLU unit)
    correlates with nothing: its row or column is 0, not NaN.
    """
    _check_pair(A, B)
    both = torch.corrcoef(torch.cat([A, B], 1).T.double())      # (p1 + p2) x (p1 + p2)
    return torch.nan_to_num(both[: A.shape[1], A.shape[1]:], nan=0.0, posinf=0.0, neginf=0.0)


@dataclass
class UnitMatch:
    """How well the units of model A find partners in model B.

    ``correlations: p1 x p2``; ``best: p1`` each A-unit's highest correlation with any B-unit
    (several A-units may pick the same partner); ``partner: p1`` the B-unit assigned to each
    A-unit by the one-to-one (Hungarian) matching and ``assigned: p1`` its correlation.
    """

    correlations: torch.Tensor
    best: torch.Tensor
    partner: torch.Tensor
    assigned: torch.Tensor

    @property
    def mean_best(self) -> float:
        """Mean over A's units of their best correlation with any unit of B."""
        return float(self.best.mean())

    @property
    def mean_assigned(self) -> float:
        """Mean correlation of the one-to-one pairs (unmatched units left out)."""
        return float(self.assigned[self.partner >= 0].mean())

    def __repr__(self) -> str:
        p1, p2 = self.correlations.shape
        return (f"UnitMatch({p1} x {p2} units: mean correlation of best matches "
                f"{self.mean_best:.3f}, one to one {self.mean_assigned:.3f})")


def match_units(A: torch.Tensor, B: torch.Tensor) -> UnitMatch:
    """Match the units (columns) of ``A: s x p1`` to those of ``B: s x p2`` by correlation.

    Pass conv activations through :func:`unit_samples` first. The one-to-one matching maximizes
    the summed correlation (``scipy.optimize.linear_sum_assignment``); with ``p1 > p2`` some
    A-units stay unmatched and get partner ``-1`` and correlation 0.
    """
    corr = unit_correlations(A, B)
    rows, cols = linear_sum_assignment(corr.numpy(), maximize=True)
    partner = torch.full((corr.shape[0],), -1, dtype=torch.long)
    partner[torch.as_tensor(rows)] = torch.as_tensor(cols, dtype=torch.long)
    assigned = torch.zeros(corr.shape[0], dtype=torch.float64)
    assigned[torch.as_tensor(rows)] = corr[torch.as_tensor(rows), torch.as_tensor(cols)]
    return UnitMatch(corr, corr.max(1).values, partner, assigned)


def match_layers(acts_a: Mapping[str, torch.Tensor], acts_b: Mapping[str, torch.Tensor],
                 layers: Sequence[str] | None = None) -> dict[str, UnitMatch]:
    """:func:`match_units` for each layer recorded in both ``acts_a`` and ``acts_b``."""
    layers = [name for name in acts_a if name in acts_b] if layers is None else list(layers)
    return {name: match_units(unit_samples(acts_a[name]), unit_samples(acts_b[name])) for name in layers}


def match_filters(weight_a: torch.Tensor, weight_b: torch.Tensor) -> UnitMatch:
    """Match the filters of two conv layers (``C_out x C_in x k x k`` each) by weight correlation.

    Each filter is one unit and each of its ``C_in * k * k`` weights one sample, so
    ``best`` says how closely each filter of A is copied somewhere in B.
    """
    if weight_a.ndim != 4 or weight_a.shape[1:] != weight_b.shape[1:]:
        raise ValueError(f"expected two conv weights C_out x C_in x k x k with the same C_in and k, "
                         f"got {tuple(weight_a.shape)} and {tuple(weight_b.shape)}")
    return match_units(weight_a.detach().flatten(1).T, weight_b.detach().flatten(1).T)

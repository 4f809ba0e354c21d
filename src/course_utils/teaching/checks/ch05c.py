"""Automatic checks for the exercises of chapter 5c (universality).

References: :func:`course_utils.interp.similarity.linear_cka`, ``torch.corrcoef`` and SciPy's
Hungarian algorithm (``scipy.optimize.linear_sum_assignment``).
"""
from __future__ import annotations

import torch
from scipy.optimize import linear_sum_assignment

from course_utils.interp.similarity import linear_cka
from . import Case, check_function


def check_linear_cka(learner) -> None:
    """``learner(X, Y) -> float``: linear CKA of ``X: n x p1`` and ``Y: n x p2``."""
    g = torch.Generator().manual_seed(7)
    r = lambda *shape: torch.randn(*shape, generator=g, dtype=torch.float64)
    X = r(40, 6)
    Q, _ = torch.linalg.qr(r(6, 6))
    cases = [
        Case("X against itself: 1", (X, X.clone())),
        Case("a rotated copy (orthogonal Q): still 1", (X, X @ Q)),
        Case("unrelated X (40 x 6) and Y (40 x 3)", (X, r(40, 3))),
        Case("Y = X plus a constant: centring removes it", (X, X + 5.0)),
        Case("more features than examples (10 x 30 and 10 x 25)", (r(10, 30), r(10, 25))),
        Case("float32 inputs (compute in float64)", (X.float(), (X[:, :4] + 0.3 * r(40, 4)).float())),
    ]
    check_function(learner, linear_cka, cases, parameters=("X", "Y"), atol=1e-6)


def _unit_correlations_reference(A: torch.Tensor, B: torch.Tensor) -> torch.Tensor:
    p1 = A.shape[1]
    corr = torch.corrcoef(torch.cat([A, B], 1).T.double())[:p1, p1:]
    return corr.nan_to_num(0.0)


def check_unit_correlations(learner) -> None:
    """``learner(A, B) -> p1 x p2``: Pearson correlation of every column of A with every column of B."""
    g = torch.Generator().manual_seed(8)
    r = lambda *shape: torch.randn(*shape, generator=g, dtype=torch.float64)
    A = r(50, 4)
    dead = r(50, 3)
    dead[:, 1] = 0.0
    cases = [
        Case("50 samples, 4 and 3 units", (A, r(50, 3))),
        Case("B is A scaled and shifted: correlations of 1 on the diagonal", (A, 3 * A + 2)),
        Case("B = -A: correlations of -1", (A, -A)),
        Case("a dead unit (always 0) in B: its column must be 0, not NaN", (A, dead)),
        Case("one unit each", (r(20, 1), r(20, 1))),
    ]
    check_function(learner, _unit_correlations_reference, cases, parameters=("A", "B"), atol=1e-6)


def _one_to_one_reference(corr: torch.Tensor) -> float:
    rows, cols = linear_sum_assignment(corr.numpy(), maximize=True)
    return float(corr[rows, cols].mean())


def check_one_to_one(learner) -> None:
    """``learner(corr) -> float``: mean correlation of the best one-to-one pairing of units."""
    g = torch.Generator().manual_seed(9)
    r = lambda *shape: torch.rand(*shape, generator=g, dtype=torch.float64) * 2 - 1
    perm = torch.eye(4, dtype=torch.float64)[[2, 0, 3, 1]]
    greedy_trap = torch.tensor([[0.9, 0.8], [0.85, 0.1]], dtype=torch.float64)
    cases = [
        Case("the identity: every unit has a perfect partner", (torch.eye(3, dtype=torch.float64),)),
        Case("a permutation matrix", (perm,)),
        Case("greedy picking fails here (0.9 first leaves 0.1)", (greedy_trap,)),
        Case("random 5 x 5 correlations", (r(5, 5),)),
        Case("more units in A than in B (6 x 4): only 4 pairs", (r(6, 4),)),
        Case("fewer units in A than in B (3 x 7)", (r(3, 7),)),
    ]
    check_function(learner, _one_to_one_reference, cases, parameters=("corr",), atol=1e-6)

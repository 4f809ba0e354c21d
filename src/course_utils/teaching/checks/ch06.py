"""Automatic checks for the exercises of chapter 6 (superposition and polysemanticity).

References: :mod:`course_utils.interp.superposition` (the toy model's forward pass and the
interference measure) and :mod:`course_utils.interp.dictionary` (the sparse autoencoder's loss
and the effective number of classes), each tested against closed forms in ``tests/``.
"""
from __future__ import annotations

import torch

from course_utils.interp import dictionary, superposition
from . import Case, check_function


def _forward_reference(W: torch.Tensor, b: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    return superposition.toy_forward(W, b, x)


def check_toy_forward(learner) -> None:
    """``learner(W, b, x) -> B x n``: ``ReLU(W^T W x + b)`` for each row of ``x``."""
    g = torch.Generator().manual_seed(60)
    r = lambda *shape: torch.randn(*shape, generator=g)
    u = lambda *shape: torch.rand(*shape, generator=g)
    cases = [
        Case("5 features in 2 dimensions, a batch of 4", (r(2, 5), r(5), u(4, 5))),
        Case("a negative bias: the ReLU must zero what falls below it", (r(3, 6), -torch.ones(6), u(8, 6))),
        Case("one example", (r(2, 4), r(4), u(1, 4))),
        Case("as many dimensions as features (m = n)", (r(3, 3), r(3), u(5, 3))),
        Case("sparse inputs: most features 0", (r(2, 7), 0.1 * r(7), (u(6, 7) > 0.8) * u(6, 7))),
    ]
    check_function(learner, _forward_reference, cases, parameters=("W", "b", "x"), atol=1e-5)


def _interference_reference(W: torch.Tensor) -> torch.Tensor:
    return superposition.interference(W)


def check_interference(learner) -> None:
    """``learner(W) -> n``: ``sum_{j != i} (W_i / ||W_i|| . W_j)^2`` for each column ``i``."""
    g = torch.Generator().manual_seed(61)
    r = lambda *shape: torch.randn(*shape, generator=g)
    with_zero = r(3, 6)
    with_zero[:, 2] = 0.0
    q = torch.linalg.qr(r(4, 4))[0]
    cases = [
        Case("6 random features in 3 dimensions", (r(3, 6),)),
        Case("orthogonal columns: no interference", (3 * q,)),
        Case("an antipodal pair and a lone feature in 1 dimension", (torch.tensor([[1.0, -1.0, 0.5]]),)),
        Case("columns of different lengths (only W_i is normalised, not W_j)", (r(2, 4) * torch.tensor([0.1, 1.0, 2.0, 5.0]),)),
        Case("a zero column: no direction, interference 0 (not NaN)", (with_zero,)),
    ]
    check_function(learner, _interference_reference, cases, parameters=("W",), atol=1e-4)


def _sae_loss_reference(x, x_hat, f, l1) -> torch.Tensor:
    return dictionary.sae_loss(x, x_hat, f, l1)


def check_sae_loss(learner) -> None:
    """``learner(x, x_hat, f, l1) -> 0-dim tensor``: mean squared error norm plus ``l1`` times mean L1 norm."""
    g = torch.Generator().manual_seed(62)
    r = lambda *shape: torch.randn(*shape, generator=g)
    f = lambda *shape: torch.relu(torch.randn(*shape, generator=g))
    x = r(8, 5)
    cases = [
        Case("8 examples, 5 inputs, 12 features", (x, r(8, 5), f(8, 12), 0.5)),
        Case("a perfect reconstruction: only the penalty is left", (x, x.clone(), f(8, 12), 2.0)),
        Case("l1 = 0: the squared error alone", (x, r(8, 5), f(8, 12), 0.0)),
        Case("one example", (r(1, 3), r(1, 3), f(1, 4), 1.0)),
        Case("more inputs than features", (r(4, 10), r(4, 10), f(4, 3), 0.1)),
    ]
    check_function(learner, _sae_loss_reference, cases, parameters=("x", "x_hat", "f", "l1"), atol=1e-5)


def _effective_classes_reference(acts, labels, k) -> torch.Tensor:
    return dictionary.effective_classes(acts, labels, k, num_classes=int(labels.max()) + 1)


def check_effective_classes(learner) -> None:
    """``learner(acts, labels, k) -> U``: exp of the class entropy among each unit's top ``k``."""
    g = torch.Generator().manual_seed(63)
    labels = torch.arange(60) % 3                                  # 20 of each of 3 classes
    one_class = (labels == 1).float() * (1 + torch.rand(60, generator=g))
    mixed = torch.rand(60, 4, generator=g) + 0.01
    rare = torch.zeros(60)
    rare[:3] = 1.0
    cases = [
        Case("a unit that fires on class 1 only: 1 effective class", (one_class[:, None], labels, 10)),
        Case("4 units of random positive values", (mixed, labels, 15)),
        Case("k = every example: the classes' overall shares", (mixed, labels, 60)),
        Case("several units at once, one of them monosemantic", (torch.stack([one_class, mixed[:, 0]], 1), labels, 20)),
        Case("a unit positive on 3 examples only, k = 10: NaN", (torch.stack([rare, mixed[:, 1]], 1), labels, 10)),
    ]
    check_function(learner, _effective_classes_reference, cases, parameters=("acts", "labels", "k"), atol=1e-4)


"""Automatic checks for the exercises of chapter 7 (attribution and its sanity checks).

References: :mod:`course_utils.interp.attribution` (itself tested against captum), on tiny
networks built here with a fixed seed, and a linear model whose gradient is its weight row.
"""
from __future__ import annotations

import torch
from torch import nn

from course_utils.cnn.models import ConvNet
from course_utils.cnn.training import seeded
from course_utils.interp import attribution
from . import Case, check_function


def _tiny_cnn(seed: int, in_channels: int = 1, size: int = 8) -> ConvNet:
    with seeded(seed):   # the global generator is put back as it was
        return ConvNet([4, "M", 6, "G"], [3, 3], in_channels, 3, size).eval()


def _linear(seed: int) -> nn.Module:
    with seeded(seed):
        return nn.Sequential(nn.Flatten(), nn.Linear(2 * 4 * 4, 3)).eval()


def _images(seed: int, *shape: int) -> torch.Tensor:
    return torch.rand(*shape, generator=torch.Generator().manual_seed(seed))


def _saliency_reference(model, images, target):
    return attribution.saliency(model, images, target)


def check_saliency(learner) -> None:
    """``learner(model, images, target) -> N x C x H x W``: d logit[target] / d input (signed)."""
    cases = [
        Case("a tiny CNN, 4 images of 1 x 8 x 8, one target per image",
             (_tiny_cnn(0), _images(1, 4, 1, 8, 8), torch.tensor([0, 1, 2, 0]))),
        Case("a linear model: the gradient is the weight row of each image's target",
             (_linear(1), _images(2, 3, 2, 4, 4), torch.tensor([2, 0, 1]))),
        Case("one image", (_tiny_cnn(2), _images(3, 1, 1, 8, 8), torch.tensor([1]))),
        Case("two channels, every image the same target",
             (_tiny_cnn(3, in_channels=2), _images(4, 5, 2, 8, 8), torch.tensor([2] * 5))),
    ]
    check_function(learner, _saliency_reference, cases,
                   parameters=("model", "images", "target"), atol=1e-6, rtol=1e-4)


def _ig_reference(model, images, target, baseline, steps):
    return attribution.integrated_gradients(model, images, target, baseline=baseline,
                                            steps=steps, method="right")


def check_integrated_gradients(learner) -> None:
    """``learner(model, images, target, baseline, steps) -> N x C x H x W``: integrated
    gradients with a right Riemann sum, alpha = k / steps for k = 1..steps."""
    x = _images(5, 3, 1, 8, 8)
    cases = [
        Case("a black baseline, 8 steps", (_tiny_cnn(4), x, torch.tensor([0, 1, 2]),
                                           torch.zeros_like(x), 8)),
        Case("a grey baseline (0.5): multiply by x - baseline, not by x",
             (_tiny_cnn(4), x, torch.tensor([2, 2, 1]), torch.full_like(x, 0.5), 8)),
        Case("one step: the gradient at x times (x - baseline)",
             (_tiny_cnn(5), x, torch.tensor([1, 0, 1]), torch.zeros_like(x), 1)),
        Case("a linear model: every step gives the same gradient",
             (_linear(6), _images(6, 2, 2, 4, 4), torch.tensor([0, 2]),
              _images(7, 2, 2, 4, 4), 3)),
        Case("20 steps", (_tiny_cnn(7), x, torch.tensor([0, 0, 2]), torch.zeros_like(x), 20)),
    ]
    check_function(learner, _ig_reference, cases,
                   parameters=("model", "images", "target", "baseline", "steps"),
                   atol=1e-6, rtol=1e-4)


def _rank_reference(a: torch.Tensor, b: torch.Tensor) -> float:
    return float(attribution.rank_correlation(a[None], b[None])[0])


def check_rank_correlation(learner) -> None:
    """``learner(a, b) -> float``: Spearman rank correlation of ``|a|`` and ``|b|`` (1-D),
    ties sharing their average rank."""
    g = torch.Generator().manual_seed(8)
    a = torch.randn(30, generator=g)
    ties = torch.tensor([0.0, 0.0, 0.0, 1.0, -1.0, 2.0, 0.0, 3.0, -2.0, 0.0])
    cases = [
        Case("two random maps of 30 pixels", (a, torch.randn(30, generator=g))),
        Case("b = -a: the magnitudes agree, so 1", (a, -a)),
        Case("b = a cubed: the same order, so 1 (ranks, not values)", (a, a ** 3)),
        Case("ties: zeros, and 1 and -1 of equal magnitude (average ranks)",
             (ties, torch.arange(10.0))),
        Case("ties in both maps", (ties, ties.flip(0))),
    ]
    check_function(learner, _rank_reference, cases, parameters=("a", "b"), atol=1e-6)

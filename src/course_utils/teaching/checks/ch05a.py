"""Automatic checks for the exercises of chapter 5a (features as directions, feature visualization).

References are the course's implementations in :mod:`course_utils.interp.probes` and
:mod:`course_utils.interp.featviz`, which the tests compare with closed forms.
"""
from __future__ import annotations

import torch

from . import Case, check_function
from course_utils.interp.featviz.objectives import direction
from course_utils.interp.featviz.param import spectrum_scale
from course_utils.interp.probes import class_selectivity


def check_selectivity(learner) -> None:
    """``learner(features N x D, labels N) -> D``: the class-selectivity index of each axis."""
    g = torch.Generator().manual_seed(7)
    labels = torch.arange(30) % 3
    onehot = torch.nn.functional.one_hot(labels).float()
    cases = [
        Case("each axis fires for exactly one class: index 1", (onehot, labels)),
        Case("non-negative random features (post-ReLU-like)", (torch.rand(30, 4, generator=g), labels)),
        Case("features with negative values (rotated axes): shift each axis to minimum 0 first",
             (torch.randn(30, 5, generator=g), labels)),
        Case("ten classes", (torch.rand(100, 3, generator=g) ** 3, torch.arange(100) % 10)),
    ]
    check_function(learner, class_selectivity, cases, parameters=("features", "labels"))


def check_alignment(learner) -> None:
    """``learner(acts N x C x H x W, vector C) -> N``: mean cosine of each position's vector with ``vector``."""
    g = torch.Generator().manual_seed(8)
    reference = lambda acts, vector: direction("x", vector)({"x": acts})
    aligned = torch.ones(2, 3, 2, 2)
    cases = [
        Case("random activations 4 x 3 x 5 x 5", (torch.randn(4, 3, 5, 5, generator=g), torch.randn(3, generator=g))),
        Case("every position equal to the vector: cosine 1", (aligned, torch.ones(3))),
        Case("the opposite vector: cosine -1", (aligned, -torch.ones(3) * 2)),
        Case("a 1 x 1 map", (torch.randn(3, 6, 1, 1, generator=g), torch.randn(6, generator=g))),
    ]
    check_function(learner, reference, cases, parameters=("acts", "vector"))


def check_spectrum_scale(learner) -> None:
    """``learner(height, width) -> height x (width // 2 + 1)``: 1 / frequency, capped at the lowest frequency."""
    cases = [Case("4 x 4", (4, 4)), Case("28 x 28", (28, 28)), Case("odd width: 8 x 7", (8, 7)),
             Case("non-square 5 x 12", (5, 12))]
    check_function(learner, lambda h, w: spectrum_scale(h, w), cases, parameters=("height", "width"))

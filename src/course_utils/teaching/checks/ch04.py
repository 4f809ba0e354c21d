"""Automatic checks for the exercises of chapter 4 (the hierarchy of features).

References are the course's own implementations, which the tests compare with gradients
(receptive fields), brute force (top images) and Gabor patches (orientation).
"""
from __future__ import annotations

import torch
from torch import nn

from . import Case, check_function
from course_utils.data.synthetic import gabor
from course_utils.interp.filters import orientation_selectivity
from course_utils.cnn.receptive_field import receptive_fields


def _reference_fields(layers: list[tuple[int, int, int]]) -> list[tuple[int, int, float]]:
    """Receptive fields via :func:`receptive_fields` on a real stack of layers (k, s, p)."""
    net = nn.Sequential(*[nn.Conv2d(1, 1, k, stride=s, padding=p) for k, s, p in layers])
    return [(f.size, f.jump, f.start) for f in receptive_fields(net, 64).values()]


def check_receptive_field(learner) -> None:
    """``learner(layers) -> [(size, jump, start), ...]`` for ``layers = [(kernel, stride, padding), ...]``."""
    cases = [
        Case("one 3x3 convolution, stride 1, padding 1", ([(3, 1, 1)],)),
        Case("mnist_small: conv5 p2, pool 2, conv3 p1, pool 2, conv3 p1",
             ([(5, 1, 2), (2, 2, 0), (3, 1, 1), (2, 2, 0), (3, 1, 1)],)),
        Case("strided convolutions without padding", ([(3, 2, 0), (3, 2, 0), (3, 2, 0)],)),
        Case("a 7x7 stride-2 stem with padding 3, then a 3x3 stride-2 pool with padding 1", ([(7, 2, 3), (3, 2, 1)],)),
        Case("1x1 convolutions change nothing", ([(1, 1, 0), (1, 1, 0)],)),
    ]
    check_function(learner, _reference_fields, cases, parameters=("layers",))


def _reference_top_images(acts: torch.Tensor, channel: int, k: int) -> torch.Tensor:
    per_image = acts[:, channel].flatten(1).max(1).values
    return per_image.argsort(descending=True)[:k]


def check_top_images(learner) -> None:
    """``learner(acts, channel, k) -> indices k``: images ranked by their largest response."""
    g = torch.Generator().manual_seed(4)
    spiky = torch.zeros(5, 2, 4, 4)
    spiky[2, 1, 0, 0], spiky[4, 1] = 9.0, 1.0   # image 2 has one strong spot, image 4 is evenly 1
    cases = [
        Case("one strong position beats a high mean: use the max, not the mean", (spiky, 1, 2)),
        Case("random activations 20 x 3 x 5 x 5, channel 1, k 4", (torch.randn(20, 3, 5, 5, generator=g), 1, 4)),
        Case("all negative values, channel 0, k 3", (-torch.rand(10, 1, 3, 3, generator=g) - 1, 0, 3)),
        Case("k equal to the number of images", (torch.randn(6, 2, 2, 2, generator=g), 0, 6)),
    ]
    check_function(learner, _reference_top_images, cases, parameters=("acts", "channel", "k"))


def check_orientation_index(learner) -> None:
    """``learner(kernel k x k) -> float``: the orientation-selectivity index of one kernel."""
    g = torch.Generator().manual_seed(5)
    reference = lambda kernel: float(orientation_selectivity(kernel[None, None])[0])
    cases = [
        Case("a Gabor patch with vertical stripes", (gabor(5, 90, 4, 1.5),)),
        Case("a Gabor patch at 30 degrees", (gabor(7, 30, 3, 2.0),)),
        Case("a random 5x5 kernel", (torch.randn(5, 5, generator=g),)),
        Case("a centre-surround blob (no orientation)", (torch.tensor([[0, -1, 0], [-1, 4.0, -1], [0, -1, 0]]),)),
        Case("a horizontal step edge", (torch.tensor([[1.0] * 5, [1.0] * 5, [0.0] * 5, [-1.0] * 5, [-1.0] * 5]),)),
    ]
    check_function(learner, reference, cases, parameters=("kernel",), atol=1e-3, rtol=1e-3)


def check_readout(learner, model: nn.Module) -> None:
    """``learner(features N x F, fc) -> logits N x classes``, equal to the model's own output."""
    g = torch.Generator().manual_seed(6)
    fc = model.fc
    cases = [
        Case("3 random feature vectors", (torch.rand(3, fc.in_features, generator=g), fc)),
        Case("one all-zero feature vector: only the bias remains", (torch.zeros(1, fc.in_features), fc)),
    ]
    check_function(learner, lambda f, layer: layer(f).detach(), cases, parameters=("features", "fc"))

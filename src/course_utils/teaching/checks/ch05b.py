"""Automatic checks for the exercises of chapter 5b (circuits).

References: ``torch.nn.functional.conv2d`` for weight x activation, plain indexing for
mean-ablation, and counting for tuning widths.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from . import Case, check_function


def _contributions_reference(weight: torch.Tensor, acts: torch.Tensor, y: int, x: int) -> torch.Tensor:
    k = weight.shape[-1]
    per_channel = F.conv2d(acts[None], weight[:, None], padding=k // 2, groups=len(weight))[0]  # C x H x W
    return per_channel[:, y, x]


def check_channel_contributions(learner) -> None:
    """``learner(weight, acts, y, x) -> C_in``: what each input channel adds to one output unit."""
    g = torch.Generator().manual_seed(5)
    r = lambda *shape: torch.randn(*shape, generator=g)
    cases = [
        Case("3 input channels, 3 x 3 kernel, unit in the middle of a 6 x 6 map", (r(3, 3, 3), r(3, 6, 6), 2, 3)),
        Case("unit in the top-left corner: the kernel reaches into the zero padding", (r(4, 3, 3), r(4, 5, 5), 0, 0)),
        Case("unit in the bottom-right corner", (r(2, 3, 3), r(2, 5, 7), 4, 6)),
        Case("a 5 x 5 kernel (padding 2)", (r(3, 5, 5), r(3, 8, 8), 1, 6)),
        Case("a 1 x 1 kernel: weight times the activation at that very position", (r(5, 1, 1), r(5, 4, 4), 3, 1)),
        Case("one input channel", (r(1, 3, 3), r(1, 4, 4), 2, 2)),
    ]
    check_function(learner, _contributions_reference, cases, parameters=("weight", "acts", "y", "x"))


def _mean_ablate_reference(acts: torch.Tensor, channels, means: torch.Tensor) -> torch.Tensor:
    out = acts.clone()
    for c in channels:
        out[:, c] = means[c]
    return out


def check_mean_ablate(learner) -> None:
    """``learner(acts, channels, means) -> acts``: a copy with ``channels`` set to their means."""
    g = torch.Generator().manual_seed(6)
    r = lambda *shape: torch.rand(*shape, generator=g)
    cases = [
        Case("one channel of a 2 x 4 x 3 x 3 batch", (r(2, 4, 3, 3), [1], r(4))),
        Case("several channels, in any order", (r(3, 5, 2, 2), [4, 0, 2], r(5))),
        Case("no channel: nothing changes", (r(2, 3, 2, 2), [], r(3))),
        Case("every channel", (r(1, 3, 4, 4), [0, 1, 2], r(3))),
        Case("channels given as a tensor", (r(2, 6, 3, 3), torch.tensor([5, 3]), r(6))),
    ]
    check_function(learner, _mean_ablate_reference, cases, parameters=("acts", "channels", "means"))


def _tuning_width_reference(curve: torch.Tensor, step_degrees: float) -> float:
    peak = float(curve.max())
    if peak <= 0:
        return 0.0
    return float((curve >= peak / 2).sum()) * step_degrees


def check_tuning_width(learner) -> None:
    """``learner(curve, step_degrees) -> float``: degrees at or above half the peak."""
    angles = torch.arange(24) * 15.0
    bump = lambda centre, sigma: torch.exp(-((angles - centre + 180) % 360 - 180) ** 2 / (2 * sigma**2))
    cases = [
        Case("a narrow bump at 90 degrees, 15-degree steps", (bump(90, 15), 15.0)),
        Case("a broad bump that wraps around 0 degrees", (bump(0, 60), 15.0)),
        Case("two peaks (a line detector: the same line every 180 degrees)", (bump(45, 20) + bump(225, 20), 15.0)),
        Case("a flat curve: every angle counts", (torch.full((24,), 2.0), 15.0)),
        Case("a unit that never responds: width 0", (torch.zeros(24), 15.0)),
        Case("exactly half the peak counts as inside", (torch.tensor([4.0, 2.0, 1.0, 0.0]), 90.0)),
    ]
    check_function(learner, _tuning_width_reference, cases, parameters=("curve", "step_degrees"))

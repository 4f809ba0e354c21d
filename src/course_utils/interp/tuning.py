"""Tuning curves: a unit's response as one property of its stimulus varies (chapter 5b).

Dataset examples show what a unit likes among the images we happen to have; synthetic
stimuli vary one property at a time, so a unit's response can be plotted against it: a
*tuning curve*. The stimuli are centred arcs and segments
(:func:`course_utils.data.synthetic.curve_images`): ``angle`` is the direction of the tangent
at the centre (radians) and ``radius`` the curvature radius in pixels (``inf`` gives a straight
segment of the same length).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import torch
from torch import nn

from course_utils.data.synthetic import angle_grid, curve_images
from course_utils.interp.hooks import record, unit_values


def stimulus_responses(model: nn.Module, images: torch.Tensor, layer: str) -> torch.Tensor:
    """Each channel's response to each image: the largest rectified value anywhere in its map.

    ``N x C`` for a conv layer's output ``N x C x H x W`` (``N x F`` for a linear layer, rectified).
    The maximum over positions makes the response independent of exactly where the stimulus
    falls, which a centred stimulus cannot guarantee for every unit.
    """
    return unit_values(record(model, images, layer)[layer].clamp(min=0), reduce="max")


def curvature_tuning(model: nn.Module, layer: str, radii: Sequence[float], angles: torch.Tensor | None = None,
                     size: int | None = None, **stimulus) -> torch.Tensor:
    """Responses of every channel of ``layer`` to arcs of each radius at each angle:
    ``len(radii) x len(angles) x C``. ``stimulus`` passes ``length`` / ``width`` on."""
    angles = angle_grid() if angles is None else angles
    size = size if size is not None else model.image_size
    images = torch.cat([curve_images(angles, r, size, **stimulus) for r in radii])
    return stimulus_responses(model, images, layer).reshape(len(radii), len(angles), -1)


def curve_index(arc_response: torch.Tensor, line_response: torch.Tensor, eps: float = 1e-6) -> torch.Tensor:
    """``(a - l) / (a + l)`` per unit, from each unit's best response to arcs ``a`` and to
    straight lines ``l`` (any shapes that match): +1 only arcs, 0 no preference, -1 only lines.

    A unit that answers neither (``a + l`` below ``eps``) gets 0.
    """
    total = arc_response + line_response
    return torch.where(total > eps, (arc_response - line_response) / total.clamp(min=eps), torch.zeros_like(total))


@dataclass
class CurveTuning:
    """Every unit's responses to arcs and to straight lines at each angle.

    ``arc: A x C`` (arcs of one ``radius``), ``line: A x C`` (lines, same angles);
    ``index: C`` the :func:`curve_index` of each unit's best arc vs best line response.
    """

    layer: str
    radius: float
    angles: torch.Tensor
    arc: torch.Tensor
    line: torch.Tensor

    @property
    def index(self) -> torch.Tensor:
        return curve_index(self.arc.amax(0), self.line.amax(0))

    def responsive(self, fraction: float = 0.1) -> torch.Tensor:
        """Units whose best response reaches ``fraction`` of the layer's best (dead units are not)."""
        best = torch.maximum(self.arc.amax(0), self.line.amax(0))
        return best > fraction * best.max()

    def curve_units(self, threshold: float = 0.3) -> torch.Tensor:
        """Responsive units with curve index above ``threshold``, most curve-selective first."""
        index = self.index
        chosen = torch.nonzero(self.responsive() & (index > threshold)).flatten()
        return chosen[index[chosen].argsort(descending=True)]

    def __repr__(self) -> str:
        return (f"CurveTuning({self.layer}, radius {self.radius:g}, {len(self.angles)} angles: "
                f"{len(self.curve_units())} of {self.arc.shape[1]} units prefer arcs (index > 0.3))")


def curve_tuning(model: nn.Module, layer: str, radius: float = 10.0, angles: torch.Tensor | None = None,
                 **stimulus) -> CurveTuning:
    """Responses of every channel of ``layer`` to centred arcs of ``radius`` and to straight lines,
    at each of ``angles`` (default: 24 over a full turn)."""
    angles = angle_grid() if angles is None else angles
    both = curvature_tuning(model, layer, [radius, float("inf")], angles, **stimulus)
    return CurveTuning(layer, radius, angles, both[0], both[1])


def tuning_width(curves: torch.Tensor, step_degrees: float) -> torch.Tensor:
    """Degrees over which each tuning curve stays at or above half its peak.

    ``curves: A x ...`` sampled every ``step_degrees`` along the first dimension; returns the
    remaining shape. A sharp detector scores low, a broadly tuned one up to ``A * step_degrees``;
    a unit that never responds scores 0.
    """
    peak = curves.amax(0, keepdim=True)
    above = (curves >= peak / 2) & (peak > 0)
    return above.sum(0).float() * step_degrees


def arc_detector(radius: float, angles: Sequence[float] | torch.Tensor, kernel_size: int = 15,
                 image_size: int = 32, **stroke) -> nn.Sequential:
    """A hand-written curve detector: one matched filter per angle, ``A`` output channels.

    Filter ``a`` is the centred arc of ``radius`` at ``angles[a]``
    (:func:`~course_utils.data.synthetic.curve_images`, ``stroke`` passes ``length`` /
    ``width`` on), drawn ``kernel_size x kernel_size``, minus its mean (a uniform image gives
    0) and scaled to unit norm. Its one layer, ``"conv"``, maps ``N x 1 x H x W`` to
    ``N x A x H x W``, so every tuning function of this module takes it like a trained
    network's layer; ``radius=inf`` gives a straight-line detector, the natural baseline.
    Chapter 5b compares it with a trained curve detector.
    """
    if kernel_size < 3 or kernel_size % 2 == 0:
        raise ValueError(f"kernel_size must be odd and at least 3, got {kernel_size}")
    templates = curve_images(angles, radius, kernel_size, **stroke)        # A x 1 x k x k
    templates = templates - templates.mean((2, 3), keepdim=True)
    norms = templates.flatten(1).norm(dim=1)
    if (norms == 0).any():
        raise ValueError(f"a {kernel_size} x {kernel_size} kernel shows none of this arc; "
                         "take a larger kernel_size")
    # skip_init: no random initialisation, so building a detector draws nothing from torch's RNG
    conv = nn.utils.skip_init(nn.Conv2d, 1, len(templates), kernel_size,
                              padding=kernel_size // 2, bias=False)
    conv.weight = nn.Parameter(templates / norms.view(-1, 1, 1, 1), requires_grad=False)
    detector = nn.Sequential()
    detector.add_module("conv", conv)
    detector.image_size = image_size   # the stimulus size the tuning functions draw
    return detector.eval()

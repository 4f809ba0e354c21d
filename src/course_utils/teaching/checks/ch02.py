"""Automatic checks for the exercises of chapter 2 (the convolution operation).

References are ``torch.nn.functional.conv2d`` and the shapes it actually produces, so a check
can only pass if the answer agrees with PyTorch.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from . import Case, CheckFailed, check_function, passed


def check_conv2d(learner) -> None:
    """``learner(x, weight, bias=None) -> tensor``: stride 1, no padding, as ``F.conv2d``."""
    g = torch.Generator().manual_seed(2)
    r = lambda *shape: torch.randn(*shape, generator=g)
    cases = [
        Case("one 1 x 1 x 4 x 4 image, one 3 x 3 kernel, no bias", (r(1, 1, 4, 4), r(1, 1, 3, 3))),
        Case("bias given", (r(1, 1, 5, 5), r(1, 1, 3, 3), r(1))),
        Case("RGB input: 1 x 3 x 6 x 6, kernel 1 x 3 x 3 x 3 (sum over channels)", (r(1, 3, 6, 6), r(1, 3, 3, 3), r(1))),
        Case("several output channels and images: x 2 x 3 x 7 x 5, weight 4 x 3 x 2 x 2", (r(2, 3, 7, 5), r(4, 3, 2, 2), r(4))),
        Case("kernel as large as the image: output 1 x 1", (r(1, 2, 3, 3), r(2, 2, 3, 3))),
        Case("a 1 x 1 kernel mixes channels only", (r(1, 4, 3, 3), r(2, 4, 1, 1), r(2))),
    ]
    check_function(learner, lambda x, w, b=None: F.conv2d(x, w, b), cases, parameters=("x", "weight"))


def _torch_output_size(size: int, kernel_size: int, stride: int = 1, padding: int = 0, dilation: int = 1) -> int:
    x = torch.zeros(1, 1, size, size, device="meta")
    return F.conv2d(x, torch.zeros(1, 1, kernel_size, kernel_size, device="meta"), stride=stride,
                    padding=padding, dilation=dilation).shape[-1]


def check_output_size(learner) -> None:
    """``learner(size, kernel_size, stride=1, padding=0, dilation=1) -> int``, as torch's output."""
    cases = [
        Case("28, kernel 5", (28, 5)),
        Case("28, kernel 5, padding 2 ('same')", (28, 5), {"padding": 2}),
        Case("224, kernel 7, stride 2, padding 3 (GoogLeNet's first layer)", (224, 7), {"stride": 2, "padding": 3}),
        Case("10, kernel 3, stride 3 (does not divide: floor)", (10, 3), {"stride": 3}),
        Case("15, kernel 3, dilation 2", (15, 3), {"dilation": 2}),
        Case("7, kernel 3, stride 2, padding 1, dilation 3", (7, 3), {"stride": 2, "padding": 1, "dilation": 3}),
    ]
    check_function(learner, _torch_output_size, cases, parameters=("size", "kernel_size"))


def edge_images(size: int = 16) -> dict[str, torch.Tensor]:
    """Test images ``1 x 1 x size x size`` in [0, 1]: flat grey, and a step edge in four directions
    ("bright below" is a horizontal edge, dark above and bright below; "bright right" a vertical one)."""
    ramp = (torch.arange(size) >= size // 2).float()
    bright_right = ramp.view(1, -1).expand(size, size)
    bright_below = ramp.view(-1, 1).expand(size, size)
    images = {"flat": torch.full((size, size), 0.5), "bright below": bright_below, "bright above": 1 - bright_below,
              "bright right": bright_right, "bright left": 1 - bright_right}
    return {name: image[None, None].clone() for name, image in images.items()}


def edge_responses(kernel: torch.Tensor) -> dict[str, float]:
    """Strongest response (max over positions, no padding) of ``kernel`` to each of :func:`edge_images`."""
    kernel = torch.as_tensor(kernel, dtype=torch.float32)
    return {name: float(F.conv2d(image, kernel.view(1, 1, *kernel.shape)).max()) for name, image in edge_images().items()}


def check_edge_kernel(kernel, target: str = "bright above") -> None:
    """A ``3 x 3`` kernel that detects the edge ``target`` (default: horizontal, bright side above).

    Passes when the kernel gives 0 on a flat image, a positive response to the target edge, and
    at most a quarter of that to each other edge (including the same edge upside down).
    """
    kernel = torch.as_tensor(kernel, dtype=torch.float32)
    if kernel.shape != (3, 3):
        raise CheckFailed(f"expected a 3 x 3 kernel, got shape {tuple(kernel.shape)}")
    responses = edge_responses(kernel)
    if target not in responses or target == "flat":
        raise ValueError(f"target must be one of {[n for n in responses if n != 'flat']}, got {target!r}")
    target_name, target = target, responses.pop(target)
    flat = responses.pop("flat")
    if abs(flat) > 1e-4:
        raise CheckFailed(f"a flat grey image should give 0, got {flat:.3g}: make the weights sum to 0")
    if target <= 1e-3:
        raise CheckFailed(f"the target edge ('{target_name}') should give a clearly positive response, "
                          f"got {target:.3g}")
    for name, value in responses.items():
        if value > 0.25 * target:
            raise CheckFailed(f"the kernel also answers '{name}' with {value:.3g}, more than a quarter of its "
                              f"answer to the target edge ({target:.3g}): it is not specific to that edge")
    # Kept short: the line a learner sees fits 88 characters.
    passed(f"your kernel gives {target:.3g} for '{target_name}', at most "
           f"{max(responses.values()):.3g} for the other edges")

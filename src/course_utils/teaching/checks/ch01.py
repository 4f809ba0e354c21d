"""Automatic checks for the exercises of chapter 1 (CNN architecture).

References are torch's own layers and functions, so a check can only pass if the answer agrees
with what PyTorch does.
"""
from __future__ import annotations

import torch
from torch import nn

from . import Case, check_function


def _torch_conv_parameters(in_channels: int, out_channels: int, kernel_size: int, bias: bool = True) -> int:
    layer = nn.Conv2d(in_channels, out_channels, kernel_size, bias=bias, device="meta")  # no memory needed
    return sum(p.numel() for p in layer.parameters())


def check_conv_parameters(learner) -> None:
    """``learner(in_channels, out_channels, kernel_size, bias=True) -> int``: parameters of ``nn.Conv2d``."""
    cases = [
        Case("1 -> 16 channels, 5 x 5 (the small CNN's conv1)", (1, 16, 5)),
        Case("16 -> 32 channels, 3 x 3", (16, 32, 3)),
        Case("3 -> 64 channels, 3 x 3 (VGG-16's first layer)", (3, 64, 3)),
        Case("512 -> 512 channels, 3 x 3, no bias", (512, 512, 3), {"bias": False}),
        Case("a 1 x 1 convolution, 192 -> 64 channels", (192, 64, 1)),
    ]
    check_function(learner, _torch_conv_parameters, cases, parameters=("in_channels", "out_channels", "kernel_size"))


def _torch_pool_shape(input_shape: tuple[int, int, int, int], kernel_size: int, stride: int | None = None) -> tuple[int, ...]:
    out = torch.nn.functional.max_pool2d(torch.zeros(input_shape, device="meta"), kernel_size, stride)
    return tuple(out.shape)


def check_pool_output_shape(learner) -> None:
    """``learner(input_shape, kernel_size, stride=None) -> tuple``: shape after ``max_pool2d``."""
    cases = [
        Case("1 x 16 x 28 x 28, 2 x 2 pool", ((1, 16, 28, 28), 2)),
        Case("odd size 1 x 32 x 7 x 7, 2 x 2 pool (the last row and column are dropped)", ((1, 32, 7, 7), 2)),
        Case("non-square 8 x 3 x 10 x 6, 3 x 3 pool", ((8, 3, 10, 6), 3)),
        Case("overlapping windows: 2 x 64 x 13 x 13, 3 x 3 pool, stride 2 (AlexNet)", ((2, 64, 13, 13), 3), {"stride": 2}),
        Case("a pool as large as the map: 1 x 4 x 5 x 5, 5 x 5", ((1, 4, 5, 5), 5)),
    ]

    def as_tuple(*args, **kwargs):
        return tuple(int(v) for v in learner(*args, **kwargs))

    as_tuple.__name__ = getattr(learner, "__name__", "your function")
    check_function(as_tuple, _torch_pool_shape, cases)


def check_max_pool(learner) -> None:
    """``learner(x, kernel_size) -> tensor``: non-overlapping max pooling, as ``F.max_pool2d(x, kernel_size)``."""
    g = torch.Generator().manual_seed(1)
    cases = [
        Case("1 x 1 x 4 x 4 counting 0..15, 2 x 2", (torch.arange(16.0).view(1, 1, 4, 4), 2)),
        Case("all values negative (a max that starts at 0 fails)", (-1 - torch.rand(1, 2, 4, 4, generator=g), 2)),
        Case("odd size 2 x 3 x 5 x 7, 2 x 2 (leftover rows/columns dropped)", (torch.randn(2, 3, 5, 7, generator=g), 2)),
        Case("3 x 3 pool on 1 x 4 x 9 x 9", (torch.randn(1, 4, 9, 9, generator=g), 3)),
    ]
    check_function(learner, lambda x, k: torch.nn.functional.max_pool2d(x, k), cases, parameters=("x", "kernel_size"))

"""Pooling (chapter 1): summarise each small window of a feature map by one number.

A ``k x k`` pool with stride ``k`` keeps one value per window, so a ``C x H x W`` map becomes
``C x H/k x W/k``: ``k**2`` times fewer values, no parameters. Max pooling keeps the strongest
response in the window, average pooling its mean. Both use the same windows as convolution
(:func:`course_utils.cnn.conv.sliding_windows`); they just reduce each window differently, and each
channel on its own (a pool never mixes channels).
"""
from __future__ import annotations

import torch

from course_utils.cnn.conv import conv_output_size, sliding_windows


def _windows(x: torch.Tensor, kernel_size: int, stride: int | None) -> torch.Tensor:
    """All ``k x k`` windows of ``x: N x C x H x W`` as ``N x C x H_out x W_out x (k*k)``."""
    if x.ndim != 4:
        raise ValueError(f"expected x: N x C x H x W (4 dimensions), got shape {tuple(x.shape)}")
    stride = kernel_size if stride is None else stride  # torch's default: windows do not overlap
    # conv_output_size checks k, stride >= 1 and that the window fits in the map.
    conv_output_size(x.shape[2], kernel_size, stride)
    conv_output_size(x.shape[3], kernel_size, stride)
    windows = sliding_windows(x, (kernel_size, kernel_size), (stride, stride))
    return windows.flatten(-2)


def max_pool2d(x: torch.Tensor, kernel_size: int = 2, stride: int | None = None) -> torch.Tensor:
    """The largest value of every ``k x k`` window: ``N x C x H x W -> N x C x H_out x W_out``.

    Same result as ``torch.nn.functional.max_pool2d(x, kernel_size, stride)`` (no padding);
    ``H_out = floor((H - k) / stride) + 1``, so rows and columns that do not fill a window are dropped.
    """
    return _windows(x, kernel_size, stride).amax(dim=-1)


def avg_pool2d(x: torch.Tensor, kernel_size: int = 2, stride: int | None = None) -> torch.Tensor:
    """The mean of every ``k x k`` window: ``N x C x H x W -> N x C x H_out x W_out``.

    Same result as ``torch.nn.functional.avg_pool2d(x, kernel_size, stride)`` (no padding).
    """
    return _windows(x, kernel_size, stride).mean(dim=-1)


def subsample(x: torch.Tensor, factor: int = 2) -> torch.Tensor:
    """Keep every ``factor``-th row and column: the same size reduction as a pool, no summary.

    The baseline that shows what pooling adds beyond making the map smaller.
    """
    if factor < 1:
        raise ValueError(f"factor must be >= 1, got {factor}")
    return x[..., ::factor, ::factor]


def shift_change(feature_maps: torch.Tensor, reduce=None, shift: int = 1) -> float:
    """How much ``reduce(feature_maps)`` changes when the content moves ``shift`` pixels sideways.

    ``feature_maps: N x C x H x W``; ``reduce`` maps it to a smaller map (a pool, or ``None`` for
    no reduction). Returns ``||reduce(a) - reduce(b)|| / ||reduce(a)||`` where ``b`` is ``a``
    moved left by ``shift`` columns (both cropped to the same width). Convolution commutes with
    shifts, so moving the map is the same as moving the image, away from the border.
    0 means fully invariant; a pool that buys invariance gives a smaller number than no pool.
    """
    if shift < 1 or shift >= feature_maps.shape[-1]:
        raise ValueError(f"shift must be between 1 and W - 1 = {feature_maps.shape[-1] - 1}, got {shift}")
    reduce = reduce or (lambda t: t)
    original, moved = feature_maps[..., :-shift], feature_maps[..., shift:]
    before, after = reduce(original), reduce(moved)
    return float((before - after).norm() / before.norm().clamp_min(1e-12))

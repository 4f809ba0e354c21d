"""Random transforms applied to the image before every optimization step.

An image that maximizes a unit only at one exact pixel alignment is usually a fragile,
high-frequency pattern. Asking it to work under small random shifts, scalings and rotations
("transformation robustness", Olah et al. 2017) removes much of that noise. The sizes here are
for 28-32 px images: Lucid's defaults (pad 12, jitter 8, ...) are meant for 224 px and would
move a small image by a third of its width.

A transform is a function ``(images N x C x H x W, generator) -> images``; the generator makes
the randomness repeatable. :func:`compose` chains transforms; :func:`center_crop` at the end
brings the image back to the size the model expects.
"""
from __future__ import annotations

import math
from typing import Callable, Sequence

import torch
import torch.nn.functional as F

Transform = Callable[[torch.Tensor, torch.Generator], torch.Tensor]


def pad(width: int, value: float = 0.5) -> Transform:
    """Pad by ``width`` pixels with the constant ``value`` (the start grey by default); grows H and W by ``2 * width``.

    Padding lets later random shifts and rotations move the image's border inwards, so the
    border pixels are not optimized as special.
    """
    if width < 0:
        raise ValueError(f"pad width must be >= 0, got {width}")
    return lambda images, g: F.pad(images, [width] * 4, value=value)


def jitter(d: int) -> Transform:
    """Shift the whole batch by a random whole number of pixels in [-d, d] in each direction.

    The size is kept: pixels entering at the border repeat the edge (replicate padding).
    """
    if d < 0:
        raise ValueError(f"jitter must be >= 0, got {d}")

    def transform(images: torch.Tensor, g: torch.Generator) -> torch.Tensor:
        if d == 0:
            return images
        dy, dx = (torch.randint(-d, d + 1, (2,), generator=g)).tolist()
        h, w = images.shape[-2:]
        padded = F.pad(images, [d] * 4, mode="replicate")
        return padded[..., d + dy : d + dy + h, d + dx : d + dx + w]

    return transform


def _affine(images: torch.Tensor, matrices: torch.Tensor) -> torch.Tensor:
    """Apply ``N x 2 x 2`` matrices about the image centre, same size, bilinear, edge pixels repeated."""
    matrices = matrices.to(images.device, images.dtype)
    theta = torch.cat([matrices, torch.zeros(len(matrices), 2, 1, device=images.device, dtype=images.dtype)], dim=2)  # N x 2 x 3
    grid = F.affine_grid(theta, list(images.shape), align_corners=False)
    return F.grid_sample(images, grid, mode="bilinear", padding_mode="border", align_corners=False)


def random_scale(low: float = 0.9, high: float = 1.1) -> Transform:
    """Zoom each image by a random factor in [``low``, ``high``] about its centre (size kept)."""
    if not 0 < low <= high:
        raise ValueError(f"need 0 < low <= high, got low={low}, high={high}")

    def transform(images: torch.Tensor, g: torch.Generator) -> torch.Tensor:
        factors = low + (high - low) * torch.rand(len(images), generator=g)
        # affine_grid maps output to input coordinates, so zooming in by f samples at 1/f.
        matrices = torch.diag_embed((1.0 / factors).unsqueeze(1).expand(-1, 2))
        return _affine(images, matrices)

    return transform


def random_rotate(degrees: float = 10.0) -> Transform:
    """Rotate each image by a random angle in [-``degrees``, ``degrees``] about its centre (size kept)."""
    if degrees < 0:
        raise ValueError(f"degrees must be >= 0, got {degrees}")

    def transform(images: torch.Tensor, g: torch.Generator) -> torch.Tensor:
        angles = (torch.rand(len(images), generator=g) * 2 - 1) * math.radians(degrees)
        cos, sin = torch.cos(angles), torch.sin(angles)
        matrices = torch.stack([torch.stack([cos, -sin], 1), torch.stack([sin, cos], 1)], 1)
        return _affine(images, matrices)

    return transform


def center_crop(size: int | tuple[int, int]) -> Transform:
    """Cut the central ``size`` pixels (back to the model's input size after :func:`pad`)."""
    height, width = (size, size) if isinstance(size, int) else size

    def transform(images: torch.Tensor, g: torch.Generator) -> torch.Tensor:
        h, w = images.shape[-2:]
        if h < height or w < width:
            raise ValueError(f"cannot crop {h}x{w} images to {height}x{width}")
        top, left = (h - height) // 2, (w - width) // 2
        return images[..., top : top + height, left : left + width]

    return transform


def compose(transforms: Sequence[Transform]) -> Transform:
    """One transform that applies ``transforms`` in order."""
    transforms = list(transforms)

    def transform(images: torch.Tensor, g: torch.Generator) -> torch.Tensor:
        for t in transforms:
            images = t(images, g)
        return images

    return transform


def standard_transforms(size: int | tuple[int, int], pad_width: int = 2, shift: int = 2,
                        scale: tuple[float, float] = (0.9, 1.1), degrees: float = 10.0) -> list[Transform]:
    """The course's defaults for ``size``-pixel inputs: pad 2, jitter 2, scale 0.9-1.1, rotate 10
    degrees, jitter 1, then crop back to ``size``."""
    return [pad(pad_width), jitter(shift), random_scale(*scale), random_rotate(degrees), jitter(1), center_crop(size)]

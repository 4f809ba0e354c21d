"""Image parameterizations: the learnable numbers an image is made from.

Both kinds end in a sigmoid, so every pixel stays in [0, 1] (the range of the course's datasets)
whatever the optimizer does. They differ in what a gradient step changes:

- :class:`PixelImage`: one number per pixel. Gradient steps are free to add high-frequency
  patterns, which the network often responds to, so the result tends to look like noise.
- :class:`FourierImage`: the image's 2-D Fourier spectrum, each frequency scaled by
  ``1 / frequency``. Equal steps then change low frequencies more than high ones, which
  *preconditions* the optimization towards smooth images, as natural images are
  (Olah et al., "Feature Visualization", Distill 2017).
"""
from __future__ import annotations

import torch
from torch import nn


class ImageParam(nn.Module):
    """Base class: ``forward()`` returns images ``N x C x H x W`` in [0, 1] built from ``parameters()``."""

    def __init__(self, batch: int, channels: int, height: int, width: int | None = None) -> None:
        super().__init__()
        width = height if width is None else width
        if min(batch, channels, height, width) < 1:
            raise ValueError(f"batch, channels, height and width must be >= 1, got {(batch, channels, height, width)}")
        self.shape = (batch, channels, height, width)

    def extra_repr(self) -> str:
        return "batch={}, channels={}, height={}, width={}".format(*self.shape)


class PixelImage(ImageParam):
    """One parameter per pixel: image = sigmoid(pixels). Starts near uniform grey (0.5).

    ``sd``: standard deviation of the random start (seeded by ``seed``).
    """

    def __init__(self, batch: int, channels: int, height: int, width: int | None = None, sd: float = 0.01, seed: int = 0) -> None:
        super().__init__(batch, channels, height, width)
        g = torch.Generator().manual_seed(seed)
        self.pixels = nn.Parameter(torch.randn(self.shape, generator=g) * sd)

    def forward(self) -> torch.Tensor:
        return torch.sigmoid(self.pixels)  # N x C x H x W in [0, 1]


def spectrum_scale(height: int, width: int, decay_power: float = 1.0) -> torch.Tensor:
    """``1 / frequency ** decay_power`` for each entry of a real 2-D FFT of a ``height x width``
    image: shape ``height x (width // 2 + 1)``. The zero frequency gets the largest finite weight."""
    fy = torch.fft.fftfreq(height).view(-1, 1)
    fx = torch.fft.rfftfreq(width).view(1, -1)
    freq = torch.sqrt(fx**2 + fy**2)
    return 1.0 / freq.clamp(min=1.0 / max(height, width)) ** decay_power


class FourierImage(ImageParam):
    """Parameters are a Fourier spectrum scaled by ``1 / frequency``; image = sigmoid(iFFT / 4).

    The division by 4 (as in Lucid) keeps the starting image close to grey.
    """

    def __init__(self, batch: int, channels: int, height: int, width: int | None = None,
                 sd: float = 0.01, decay_power: float = 1.0, seed: int = 0) -> None:
        super().__init__(batch, channels, height, width)
        h, w = self.shape[2:]
        g = torch.Generator().manual_seed(seed)
        # Real and imaginary parts, N x C x h x (w//2 + 1) x 2.
        self.spectrum = nn.Parameter(torch.randn(batch, channels, h, w // 2 + 1, 2, generator=g) * sd)
        self.register_buffer("scale", spectrum_scale(h, w, decay_power))

    def forward(self) -> torch.Tensor:
        h, w = self.shape[2:]
        spectrum = torch.view_as_complex(self.spectrum) * self.scale
        # "ortho" keeps the pixel scale independent of the image size.
        pixels = torch.fft.irfft2(spectrum, s=(h, w), norm="ortho")
        return torch.sigmoid(pixels / 4.0)  # N x C x H x W in [0, 1]


def image(batch: int, channels: int, size: int | tuple[int, int], fourier: bool = True, sd: float = 0.01, seed: int = 0) -> ImageParam:
    """A :class:`FourierImage` (``fourier=True``) or :class:`PixelImage` of ``batch x channels x size``."""
    height, width = (size, size) if isinstance(size, int) else size
    cls = FourierImage if fourier else PixelImage
    return cls(batch, channels, height, width, sd=sd, seed=seed)

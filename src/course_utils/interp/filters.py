"""Describing first-layer filters by their spectrum: oriented or not, smooth or not (chapter 4).

A filter tuned to edges of one orientation has its Fourier energy along one line through the
origin of the frequency plane; a random filter spreads it in all directions. The
*orientation-selectivity index* measures this: each frequency's power votes for its angle
``theta`` on a doubled circle (``2 * theta``, since a grating at ``theta`` and ``theta + 180``
degrees is the same), and the index is the length of the mean vote, from 0 (no preferred
orientation) to 1 (a perfect grating).
"""
from __future__ import annotations


import torch

_FFT_SIZE = 16  # zero-pad small kernels so the spectrum is sampled finely enough to see angles


def _power_and_frequencies(weights: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Power spectrum ``F x S x S`` of ``weights: F x C x k x k`` (summed over input channels, mean
    removed), and the frequency coordinates ``fy, fx: S x S`` in cycles per pixel."""
    if weights.ndim != 4:
        raise ValueError(f"weights must be F x C x k x k, got shape {tuple(weights.shape)}")
    size = max(_FFT_SIZE, weights.shape[-1])
    w = weights.detach().double()
    w = w - w.mean((-2, -1), keepdim=True)  # the mean is brightness, not orientation
    power = torch.fft.fft2(w, s=(size, size)).abs().pow(2).sum(1)
    freq = torch.fft.fftfreq(size, dtype=torch.float64)
    fy, fx = torch.meshgrid(freq, freq, indexing="ij")
    return power, fy, fx


def orientation_selectivity(weights: torch.Tensor) -> torch.Tensor:
    """Orientation-selectivity index of each filter of ``weights: F x C x k x k``: ``F`` values in [0, 1]."""
    power, fy, fx = _power_and_frequencies(weights)
    doubled = torch.exp(2j * torch.atan2(fy, fx))           # S x S, one unit vote per frequency
    votes = (power * doubled).sum((-2, -1)).abs()
    return (votes / power.sum((-2, -1)).clamp(min=1e-12)).float()


def preferred_orientation(weights: torch.Tensor) -> torch.Tensor:
    """Orientation in degrees [0, 180) of the edges each filter prefers (perpendicular to its
    strongest wave vector): ``F`` values. Meaningful where the selectivity index is high."""
    power, fy, fx = _power_and_frequencies(weights)
    mean_vote = (power * torch.exp(2j * torch.atan2(fy, fx))).sum((-2, -1))
    wave_angle = torch.angle(mean_vote) / 2                  # angle of the wave vector, radians
    degrees = (torch.rad2deg(wave_angle) + 90.0) % 180.0
    return torch.where(degrees > 180.0 - 1e-3, 0.0, degrees).float()  # 179.9999... is 0 (rounding)


def low_frequency_energy(weights: torch.Tensor, cutoff: float = 0.25) -> torch.Tensor:
    """Fraction of each filter's (mean-removed) power below ``cutoff`` cycles per pixel: ``F`` values.

    Smooth filters (edges, blobs) score high; pixel noise scores about the area fraction of the
    disc, ``pi * cutoff**2 / 1`` (about 0.2 for 0.25).
    """
    power, fy, fx = _power_and_frequencies(weights)
    low = (fy**2 + fx**2).sqrt() < cutoff
    return ((power * low).sum((-2, -1)) / power.sum((-2, -1)).clamp(min=1e-12)).float()


# One definition for the whole book: a filter is "oriented" when its selectivity index exceeds this.
ORIENTED_THRESHOLD = 0.3


def fraction_oriented(weights: torch.Tensor, threshold: float = ORIENTED_THRESHOLD) -> float:
    """Fraction of filters in ``weights: F x C x k x k`` with orientation selectivity above ``threshold``."""
    return float((orientation_selectivity(weights) > threshold).float().mean())

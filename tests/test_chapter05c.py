"""Chapter 5c (universality): the package functions it relies on and its exercise checks.

The chapter's measured claims (CKA across seeds, unit matching, architectures, digits vs photos)
are `claims.claim(...)` lines in the notebook, checked by every book build; they are not
recomputed here. What stays: the orientation and smoothness measures against known filters and the
exercise checks against typical mistakes (that its models follow SEED: tests/test_replication.py).
"""
import math

import pytest
import torch

from course_utils.data import synthetic
from course_utils.interp import filters
from course_utils.teaching.checks import CheckFailed, ch05c


# ----------------------------------------------------------------------------- filters
def test_fraction_oriented_uses_the_shared_threshold():
    g = torch.Generator().manual_seed(3)
    w = torch.randn(64, 1, 5, 5, generator=g)
    index = filters.orientation_selectivity(w)
    expected = float((index > filters.ORIENTED_THRESHOLD).float().mean())
    assert filters.fraction_oriented(w) == pytest.approx(expected)
    # The threshold matters: a lower one counts more filters, a higher one fewer.
    assert filters.fraction_oriented(w, threshold=0.0) == 1.0
    assert filters.fraction_oriented(w, threshold=1.0) == 0.0


def test_gabors_are_oriented_and_a_blob_is_not():
    gabors = torch.stack([synthetic.gabor(5, angle, wavelength=4.0, sigma=1.5)
                          for angle in range(0, 180, 15)])[:, None]
    assert filters.fraction_oriented(gabors) == 1.0
    coords = torch.arange(5.0) - 2
    r2 = coords[:, None] ** 2 + coords[None, :] ** 2
    blob = (torch.exp(-r2 / 2) - 0.5 * torch.exp(-r2 / 8))[None, None]  # rotation-symmetric
    assert filters.orientation_selectivity(blob).item() < 0.05
    assert filters.fraction_oriented(blob) == 0.0


def test_low_frequency_energy_against_numpy_and_known_filters():
    import numpy as np

    g = torch.Generator().manual_seed(5)
    w = torch.randn(8, 2, 5, 5, generator=g, dtype=torch.float64)
    centred = (w - w.mean((-2, -1), keepdim=True)).numpy()
    power = (np.abs(np.fft.fft2(centred, s=(16, 16))) ** 2).sum(1)
    f = np.fft.fftfreq(16)
    low = np.hypot(f[:, None], f[None, :]) < 0.25
    reference = (power * low).sum((-2, -1)) / power.sum((-2, -1))
    assert filters.low_frequency_energy(w).numpy() == pytest.approx(reference, abs=1e-6)
    coords = torch.arange(5.0) - 2
    y, x = torch.meshgrid(coords, coords, indexing="ij")
    edge = (x * torch.exp(-(x**2 + y**2) / 2))[None, None]   # a smooth derivative of Gaussian
    checkerboard = ((-1.0) ** (x + y))[None, None]            # all power near Nyquist
    noise = torch.randn(2000, 1, 5, 5, generator=g)
    noise_energy = filters.low_frequency_energy(noise).mean().item()
    assert noise_energy == pytest.approx(math.pi * 0.25**2, abs=0.06)  # about the disc's area
    assert filters.low_frequency_energy(edge).item() > noise_energy + 0.3
    assert filters.low_frequency_energy(checkerboard).item() < 0.05


# ----------------------------------------------------------------------------- exercise checks
def _uncentred_cka(X, Y):
    X, Y = X.double(), Y.double()
    return float((Y.T @ X).square().sum()
                 / (torch.linalg.matrix_norm(X.T @ X) * torch.linalg.matrix_norm(Y.T @ Y)))


def _corr_with_nan_for_dead_units(A, B):
    A = A.double() - A.double().mean(0)
    B = B.double() - B.double().mean(0)
    return (A.T @ B) / (A.norm(dim=0)[:, None] * B.norm(dim=0)[None, :])


def _greedy_pairs(corr):
    corr, pairs = corr.clone(), []
    for _ in range(min(corr.shape)):
        i, j = divmod(int(corr.argmax()), corr.shape[1])
        pairs.append(float(corr[i, j]))
        corr[i, :], corr[:, j] = -math.inf, -math.inf
    return sum(pairs) / len(pairs)


@pytest.mark.parametrize("check,mistake", [
    (ch05c.check_linear_cka, _uncentred_cka),                        # forgot to centre
    (ch05c.check_unit_correlations, _corr_with_nan_for_dead_units),  # NaN for a dead unit
    (ch05c.check_one_to_one, _greedy_pairs),                         # greedy, not optimal
])
def test_exercise_checks_reject_the_typical_mistake(check, mistake):
    with pytest.raises(CheckFailed):
        check(mistake)

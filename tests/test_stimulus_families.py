"""The stimulus families of chapter 4 (corners and junctions, blobs, textures, contrast
normalisation) against closed forms and the module's own single-stimulus functions."""
import math

import pytest
import torch

from course_utils.data import synthetic

pytestmark = pytest.mark.usefixtures("one_thread")


def ink_runs_on_circle(image, cy, cx, radius, n=720):
    """Centres (radians, y up) of the runs of ink met walking once round a circle."""
    theta = torch.arange(n) * 2 * math.pi / n
    y = (cy - radius * torch.sin(theta)).round().long().clamp(0, image.shape[-2] - 1)
    x = (cx + radius * torch.cos(theta)).round().long().clamp(0, image.shape[-1] - 1)
    ink = (image[y, x] > 0.5).tolist()
    start = next(i for i in range(n) if not ink[i])   # begin outside a run
    runs, current = [], []
    for step in range(1, n + 1):
        i = (start + step) % n
        if ink[i]:
            current.append(float(theta[i]))
        elif current:
            runs.append(current)
            current = []
    if current:
        runs.append(current)
    # the circular mean of each run
    return [math.atan2(sum(math.sin(t) for t in r), sum(math.cos(t) for t in r)) for r in runs]


def angle_gap(a, b):
    return abs((a - b + math.pi) % (2 * math.pi) - math.pi)


def test_a_corner_has_two_arms_meeting_at_the_set_angle():
    data = synthetic.junctions(n=60, size=48, seed=3)
    corners = torch.nonzero(data.labels == 0).flatten()
    assert len(corners) == 20
    for i in corners.tolist():
        p = {k: float(v[i]) for k, v in data.params.items()}
        arm = p["length"] / 2
        runs = ink_runs_on_circle(data.images[i, 0], p["cy"], p["cx"], 0.6 * arm)
        assert len(runs) == 2, f"corner {i} crosses the circle {len(runs)} times"
        expected = [p["angle"], p["angle"] + p["opening"]]
        for direction in expected:
            assert min(angle_gap(direction, r) for r in runs) < math.radians(6)
        assert abs(angle_gap(*runs) - p["opening"]) < math.radians(8)


@pytest.mark.parametrize("kind, arms", [(1, 3), (2, 4)])
def test_t_junctions_and_crossings_have_three_and_four_arms(kind, arms):
    data = synthetic.junctions(n=30, size=48, seed=4)
    for i in torch.nonzero(data.labels == kind).flatten().tolist():
        p = {k: float(v[i]) for k, v in data.params.items()}
        runs = ink_runs_on_circle(data.images[i, 0], p["cy"], p["cx"], 0.6 * p["length"] / arms)
        assert len(runs) == arms
        for direction in synthetic.junction_directions(kind, p["angle"], p["opening"]):
            assert min(angle_gap(direction, r) for r in runs) < math.radians(10)


def test_junctions_hold_as_much_ink_as_a_line_of_the_same_length():
    size, length, width = 48, 24.0, 1.5
    y, x = synthetic._grid(size)
    line = synthetic._stroke(synthetic.segment_distance(y, x, 23.5, 23.5, 0.3, length), width)
    for kind in range(3):
        directions = synthetic.junction_directions(kind, 0.3, math.radians(90))
        arm = length / len(directions)
        distance = synthetic.junction_distance(y, x, 23.5, 23.5, directions, arm)
        ink = synthetic._stroke(distance, width).sum()
        assert abs(float(ink / line.sum()) - 1) < 0.15, kind
    with pytest.raises(ValueError, match="kind must be"):
        synthetic.junction_directions(3, 0.0, 1.0)


def test_a_blob_is_a_radially_symmetric_gaussian():
    data = synthetic.blobs(n=10, size=32, seed=2)
    y, x = synthetic._grid(32)
    for i in range(10):
        sigma, cy, cx = (float(data.params[k][i]) for k in ("sigma", "cy", "cx"))
        expected = torch.exp(-((y - cy) ** 2 + (x - cx) ** 2) / (2 * sigma**2))
        assert torch.allclose(data.images[i, 0], expected, atol=1e-6)
    assert data.images.amax((1, 2, 3)).min() > 0.9   # the peak sits near a pixel centre
    # centred on a pixel, a blob is unchanged by mirroring and by swapping the axes
    centred = torch.exp(-((y - 15) ** 2 + (x - 15) ** 2) / (2 * 3.0**2))[:31, :31]
    for same in (centred.T, centred.flip(0), centred.flip(1), centred.rot90(1)):
        assert torch.allclose(same, centred)


def test_a_plaid_is_the_mean_of_its_two_gratings():
    data = synthetic.textures(n=12, size=32, seed=1)
    plaids = torch.nonzero(data.labels == 0).flatten().tolist()
    assert len(plaids) == 6
    for i in plaids:
        p = {k: float(v[i]) for k, v in data.params.items()}
        expected = (synthetic.grating(32, p["angle"], p["wavelength"], p["phase"])
                    + synthetic.grating(32, p["angle2"], p["wavelength"], p["phase2"])) / 2
        assert torch.allclose(data.images[i, 0], expected, atol=1e-6)
        assert 45 <= math.degrees(p["angle2"] - p["angle"]) <= 135


def test_band_pass_noise_has_its_power_at_the_set_wavelength():
    size = 64
    freq = torch.fft.fftfreq(size)
    radius = torch.hypot(*torch.meshgrid(freq, freq, indexing="ij"))
    for wavelength in (4.0, 8.0):
        power = torch.zeros(size, size)
        for seed in range(4):
            generator = torch.Generator().manual_seed(seed)
            texture = synthetic.bandpass_noise(size, wavelength, generator)
            assert texture.min() == 0 and texture.max() == 1
            power += torch.fft.fft2(texture - texture.mean()).abs() ** 2
        mean_frequency = float((power * radius).sum() / power.sum())
        assert abs(mean_frequency * wavelength - 1) < 0.15, wavelength


def test_normalise_contrast_sets_mean_and_rms_contrast():
    images = torch.rand(5, 1, 16, 16, generator=torch.Generator().manual_seed(0)) ** 3
    out = synthetic.normalise_contrast(images, contrast=0.1, clip=False)
    assert torch.allclose(out.mean((1, 2, 3)), torch.full((5,), 0.5), atol=1e-6)
    assert torch.allclose(out.flatten(1).std(1), torch.full((5,), 0.1), atol=1e-6)
    # the same pattern, only rescaled: correlation 1 with the input
    assert torch.corrcoef(torch.stack([images[0].flatten(), out[0].flatten()]))[0, 1] > 0.9999
    strong = synthetic.normalise_contrast(images, contrast=0.5)
    assert strong.min() >= 0 and strong.max() <= 1
    with pytest.raises(ValueError, match="blank image"):
        synthetic.normalise_contrast(torch.ones(2, 1, 8, 8))
    with pytest.raises(ValueError, match="N x C x H x W"):
        synthetic.normalise_contrast(torch.rand(8, 8))
    with pytest.raises(ValueError, match="contrast must be positive"):
        synthetic.normalise_contrast(images, contrast=0)


def test_stimulus_families_are_comparable_and_seeded():
    families = synthetic.stimulus_families(n=8, size=32, seed=0)
    grouped = [name for names in synthetic.FAMILY_GROUPS.values() for name in names]
    assert list(families) == grouped
    for name, images in families.items():
        assert images.shape == (8, 1, 32, 32), name
        assert images.min() >= 0 and images.max() <= 1
        # mean grey and the set contrast, up to what clipping to [0, 1] removes
        assert torch.allclose(images.mean((1, 2, 3)), torch.full((8,), 0.5), atol=0.02), name
        assert (images.flatten(1).std(1) <= 0.1 + 1e-6).all(), name
        assert (images.flatten(1).std(1) > 0.06).all(), name
        # half of the family is dark on light: its extreme pixel lies below the mean
        dark = (0.5 - images.amin((1, 2, 3))) > (images.amax((1, 2, 3)) - 0.5)
        if name in ("lines", "corners", "curves", "blobs"):
            assert dark.tolist() == [False] * 4 + [True] * 4, name
    again = synthetic.stimulus_families(n=8, size=32, seed=0)
    other = synthetic.stimulus_families(n=8, size=32, seed=1)
    assert all(torch.equal(families[k], again[k]) for k in families)
    assert not torch.equal(families["corners"], other["corners"])
    with pytest.raises(ValueError, match="n must be at least 2"):
        synthetic.stimulus_families(n=1)

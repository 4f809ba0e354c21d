"""Chapter 5a: the package functions it relies on, on fixed inputs, and its exercise checks.

The chapter's results are its claims (``claims.claim`` in book/05a_features.ipynb), which the
book build checks; these tests do not recompute them.
"""
import pytest
import torch

from course_utils.interp import featviz as fv
from course_utils.cnn import models
from course_utils.interp import filters, probes
from course_utils.teaching.checks import CheckFailed, ch05a
from course_utils.data.synthetic import oriented_lines

pytestmark = pytest.mark.usefixtures("one_thread")


def _tiny(seed=0):
    torch.manual_seed(seed)
    return models.build_model("small", in_channels=1, image_size=28).eval()


def test_render_is_repeatable_and_its_seed_drives_the_transforms():
    """Same seeds, same images (the chapter's claims see what the reader sees); the
    transform seed alone changes the result, so it is really used."""
    model = _tiny()
    run = lambda seed: fv.render(model, fv.channel("conv2", 3), fv.PixelImage(1, 1, 28, seed=1),
                                 steps=8, seed=seed, progress=False).images
    first, again, other = run(0), run(0), run(1)
    assert torch.equal(first, again)
    assert not torch.equal(first, other)


def test_horizontality_measure_of_the_chapter_on_lines():
    """selectivity * cos(2 * orientation): positive for horizontal lines, negative for vertical."""
    lines = oriented_lines(n=200, size=28, seed=0)            # 8 bins: 0 = 0 deg, 4 = 90 deg
    angle = torch.deg2rad(filters.preferred_orientation(lines.images))
    h = filters.orientation_selectivity(lines.images) * torch.cos(2 * angle)
    assert h[lines.labels == 0].min() > 0.3 and h[lines.labels == 4].max() < -0.3
    transposed = lines.images.transpose(-2, -1)                # horizontal <-> vertical
    angle_t = torch.deg2rad(filters.preferred_orientation(transposed))
    h_t = filters.orientation_selectivity(transposed) * torch.cos(2 * angle_t)
    assert torch.allclose(h_t, -h, atol=1e-4)


def test_rotation_keeps_an_unscaled_probe_exactly():
    """Why a probe cannot tell neurons from directions: its predictions ignore any rotation."""
    g = torch.Generator().manual_seed(0)
    labels = torch.arange(300) % 3
    features = torch.relu(torch.randn(300, 8, generator=g) + labels.view(-1, 1) * 0.8)
    R = probes.random_rotation(8, seed=1)
    plain = probes.fit_probe(features, labels, standardize=False).predict(features.numpy())
    turned = probes.fit_probe(features @ R, labels, standardize=False).predict((features @ R).numpy())
    assert (plain == turned).all()


def test_exercise_checks_accept_solutions_and_reject_mistakes():
    ch05a.check_selectivity(probes.class_selectivity)
    with pytest.raises(CheckFailed, match="negative"):       # clamping instead of shifting fails on rotated axes
        ch05a.check_selectivity(lambda features, labels: probes.class_selectivity(features.clamp(min=0), labels))
    ch05a.check_alignment(lambda acts, vector: fv.direction("x", vector)({"x": acts}))
    with pytest.raises(CheckFailed):
        ch05a.check_alignment(lambda acts, vector: fv.direction("x", vector, cosine=False)({"x": acts}))
    ch05a.check_spectrum_scale(fv.param.spectrum_scale)
    with pytest.raises(CheckFailed):
        ch05a.check_spectrum_scale(lambda height, width: fv.param.spectrum_scale(height, width, decay_power=2.0))

"""Chapter 4 (the hierarchy of features): the package functions it uses, and its exercise checks.

The chapter's own results are its claims (``claims.claim`` in the notebook), which the book
build checks; these tests compare package functions with references and known inputs.
"""
import pytest
import torch

from course_utils.data import synthetic
from course_utils.cnn import zoo
from course_utils.cnn.receptive_field import receptive_fields
from course_utils.interp import filters, hooks
from course_utils.teaching.checks import CheckFailed, ch04
from course_utils.interp.dataset_examples import dataset_examples

# Tiny tensors: one thread (conftest.py) avoids two threads' coordination cost on 2 busy cores.
pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def net():
    """The chapter's architecture with random weights: shapes and read-outs need no training."""
    return zoo.untrained("mnist_small", seed=0)


def test_dataset_example_crops_have_the_receptive_field_size(net):
    images = torch.rand(20, 1, 28, 28, generator=torch.Generator().manual_seed(0))
    fields = receptive_fields(net)
    for name in ("conv1", "conv2", "conv3"):
        crops = dataset_examples(net, images, name, 0, k=3).crops
        assert crops.shape[-2:] == (fields[name].size, fields[name].size)


def test_orientation_index_on_known_filters():
    gabors = torch.stack([synthetic.gabor(5, angle, 4, 1.5) for angle in (0, 45, 90, 135)])[:, None]
    assert (filters.orientation_selectivity(gabors) > 0.6).all()
    assert torch.allclose(filters.preferred_orientation(gabors),
                          torch.tensor([0.0, 45.0, 90.0, 135.0]), atol=3.0)
    blob = torch.tensor([[0, -1, 0], [-1, 4.0, -1], [0, -1, 0]])[None, None]
    assert filters.orientation_selectivity(blob)[0] < 0.1
    random = torch.randn(500, 1, 5, 5, generator=torch.Generator().manual_seed(0))
    assert filters.fraction_oriented(random, 0.4) < 0.1
    # white noise: the low-frequency share is the area share of the disc
    assert abs(filters.low_frequency_energy(random).mean() - 3.14159 * 0.25**2) < 0.08


def test_fraction_oriented_uses_the_books_threshold():
    gabors = torch.stack([synthetic.gabor(5, angle, 4, 1.5) for angle in (0, 60, 120)])[:, None]
    blob = torch.tensor([[0, -1, 0], [-1, 4.0, -1], [0, -1, 0]])
    blob = torch.nn.functional.pad(blob, (1, 1, 1, 1))[None, None]
    both = torch.cat([gabors, blob])                           # 3 oriented filters of 4
    assert filters.fraction_oriented(both) == pytest.approx(0.75)
    index = filters.orientation_selectivity(both)
    expected = float((index > filters.ORIENTED_THRESHOLD).float().mean())
    assert filters.fraction_oriented(both) == expected
    assert filters.fraction_oriented(both, threshold=1.0) == 0.0


def test_fc_is_a_linear_read_out_of_the_gap_features(net):
    images = torch.rand(6, 1, 28, 28, generator=torch.Generator().manual_seed(1))
    acts = hooks.record(net, images, ["gap", "fc"])
    by_hand = acts["gap"].flatten(1) @ net.fc.weight.T + net.fc.bias
    assert torch.allclose(by_hand, acts["fc"], atol=1e-5)


def test_exercise_checks_accept_solutions_and_reject_mistakes(net):
    def rf(layers, forget_jump=False):
        size, jump, start, out = 1, 1, 0.0, []
        for k, s, p in layers:
            size += (k - 1) * (1 if forget_jump else jump)
            start += ((k - 1) / 2 - p) * jump
            jump *= s
            out.append((size, jump, start))
        return out

    ch04.check_receptive_field(rf)
    with pytest.raises(CheckFailed, match="wrong on input"):
        ch04.check_receptive_field(lambda layers: rf(layers, forget_jump=True))

    def top(acts, channel, k, reduce="max"):
        per_image = acts[:, channel].flatten(1)
        per_image = per_image.max(1).values if reduce == "max" else per_image.mean(1)
        return per_image.argsort(descending=True)[:k]

    ch04.check_top_images(top)
    with pytest.raises(CheckFailed, match="max, not the mean"):
        ch04.check_top_images(lambda acts, channel, k: top(acts, channel, k, "mean"))
    ch04.check_orientation_index(
        lambda kernel: float(filters.orientation_selectivity(kernel[None, None])[0]))
    # forgetting to subtract the mean
    with pytest.raises(CheckFailed, match="wrong on input"):
        ch04.check_orientation_index(lambda kernel: _osi_without_mean(kernel))
    ch04.check_readout(lambda features, fc: features @ fc.weight.detach().T
                       + fc.bias.detach(), net)
    with pytest.raises(CheckFailed, match="wrong on input"):   # forgetting the bias
        ch04.check_readout(lambda features, fc: features @ fc.weight.detach().T, net)


def _osi_without_mean(kernel):
    power = torch.fft.fft2(kernel.double(), s=(16, 16)).abs() ** 2
    freq = torch.fft.fftfreq(16, dtype=torch.float64)
    fy, fx = torch.meshgrid(freq, freq, indexing="ij")
    return float((power * torch.exp(2j * torch.atan2(fy, fx))).sum().abs() / power.sum())

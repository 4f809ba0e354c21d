"""Chapter 3, section 5: a convolution output is a dot product of patch and kernel (template matching).

Baselines: torch's conv2d at every position, the Cauchy-Schwarz bound, random patches.
"""
import pytest
import torch
import torch.nn.functional as F

from course_utils.cnn import template
from course_utils.data import photos


# Tiny tensors: one thread (conftest.py) avoids two threads' coordination cost on 2 busy cores.
pytestmark = pytest.mark.usefixtures("one_thread")


def _edge(k=7):
    kernel = torch.zeros(1, k, k)
    kernel[..., : k // 2], kernel[..., k // 2 + 1 :] = -1.0, 1.0
    return kernel


@pytest.mark.parametrize("stride", [1, 2, 3])
def test_responses_are_the_convolution_at_each_position(stride):
    images = torch.rand(2, 3, 17, 19, generator=torch.Generator().manual_seed(0))
    kernel = torch.randn(3, 5, 5, generator=torch.Generator().manual_seed(1))
    patches, where = template.extract_patches(images, 5, stride)
    conv = F.conv2d(images, kernel[None], stride=stride)  # 2 x 1 x H_out x W_out
    assert torch.allclose(template.responses(patches, kernel), conv.flatten(), atol=1e-5)
    i, top, left = where[7].tolist()
    assert torch.equal(patches[7], images[i, :, top : top + 5, left : left + 5])


def test_best_patch_meets_the_cauchy_schwarz_bound_and_random_patches_do_not():
    kernel = torch.randn(2, 5, 5, generator=torch.Generator().manual_seed(3))
    for norm in (0.5, 1.0, 4.0):
        best = template.best_patch(kernel, norm)
        assert best.norm().item() == pytest.approx(norm, rel=1e-5)
        assert template.responses(best[None], kernel).item() == pytest.approx(norm * kernel.norm().item(), rel=1e-5)
        randoms = torch.randn(5000, 2, 5, 5, generator=torch.Generator().manual_seed(4))
        randoms = norm * randoms / randoms.flatten(1).norm(dim=1).view(-1, 1, 1, 1)
        assert template.responses(randoms, kernel).max() < norm * kernel.norm() * 0.9
    with pytest.raises(ValueError, match="all-zero kernel"):
        template.best_patch(torch.zeros(3, 3))


def test_cosine_similarity_range_and_centering():
    kernel = _edge()
    assert template.cosine_similarity(kernel[None], kernel).item() == pytest.approx(1.0)
    assert template.cosine_similarity(-kernel[None], kernel).item() == pytest.approx(-1.0)
    brightened = kernel[None] + 5.0  # same pattern on a bright background
    assert template.cosine_similarity(brightened, kernel).item() < 0.5
    assert template.cosine_similarity(brightened, kernel, center=True).item() == pytest.approx(1.0, abs=1e-5)
    assert template.cosine_similarity(torch.zeros(1, 1, 7, 7), kernel).item() == 0.0


@pytest.fixture(scope="module")
def pictures():
    names = ["camera", "astronaut", "coffee", "chelsea", "brick", "grass", "text", "coins"]
    return torch.stack([photos.photo(n, grayscale=True, size=128)[:, :128, :128] for n in names])


def test_top_photo_patches_look_like_the_kernel(pictures):
    yy, xx = torch.meshgrid(torch.arange(7.0) - 3, torch.arange(7.0) - 3, indexing="ij")
    zero_mean = lambda k: (k - k.mean())[None]
    all_patches, _ = template.extract_patches(pictures, 7, stride=3)
    sample = all_patches[torch.randperm(len(all_patches), generator=torch.Generator().manual_seed(0))[:3000]]
    for kernel in (_edge(), zero_mean(((yy - xx).abs() <= 1).float()), zero_mean((yy**2 + xx**2 <= 4).float())):
        top, values, where = template.top_patches(pictures, kernel, n=10, stride=2)
        assert torch.all(values[:-1] >= values[1:])
        assert torch.allclose(template.responses(top, kernel), values, atol=1e-4)
        cos_top = template.cosine_similarity(top, kernel, center=True)
        cos_random = template.cosine_similarity(sample, kernel, center=True)
        assert cos_top.min() > 0.25 and abs(cos_random.mean()) < 0.05
        assert cos_top.mean() > cos_random.quantile(0.95)
        # the responses are the photo convolution's largest values
        conv = F.conv2d(pictures, kernel[None], stride=2)
        assert values[0].item() == pytest.approx(conv.max().item(), rel=1e-5)


def test_relu_makes_opposite_and_absent_identical():
    kernel = _edge()
    pattern, reversed_, flat = 0.5 + 0.4 * kernel, 0.5 - 0.4 * kernel, torch.full_like(kernel, 0.5)
    r = template.responses(torch.stack([pattern, reversed_, flat]), kernel)
    assert r[0] > 0 and r[1] < 0 and r[2] == 0
    assert F.relu(r[1]) == F.relu(r[2]) == 0 and F.relu(r[0]) == r[0]
    assert F.leaky_relu(r[1]) < F.leaky_relu(r[2])  # the leaky variant keeps a trace


def test_extract_patches_errors():
    with pytest.raises(ValueError, match="N x C x H x W"):
        template.extract_patches(torch.zeros(5, 5), 3)
    with pytest.raises(ValueError, match="kernel_size"):
        template.extract_patches(torch.zeros(1, 1, 5, 5), 7)
    with pytest.raises(ValueError, match="kernel is"):
        template.responses(torch.zeros(4, 1, 3, 3), torch.zeros(1, 5, 5))


# --- detection_snr: the signal-to-noise ratio of a response map --------------------------------

def test_detection_snr_of_a_hand_made_map():
    response = torch.tensor([[5.0, 7.0, -1.0], [1.0, -1.0, 1.0]])
    signal = torch.tensor([[True, True, False], [False, False, False]])
    # background -1, 1, -1, 1: mean 0, population std 1; signal mean 6
    assert template.detection_snr(response, signal) == pytest.approx(6.0)
    background = torch.tensor([[False, False, True], [True, False, False]])  # -1 and 1 only
    assert template.detection_snr(response, signal, background) == pytest.approx(6.0)
    assert template.detection_snr(3 * response + 2, signal) == pytest.approx(6.0)  # affine-invariant


def test_detection_snr_of_a_linear_filter_is_the_matched_filter_formula():
    # white noise of std sigma: a linear response has std sigma ||w||, so on the edge
    # SNR = <w, edge> / (sigma ||w||)
    sigma = 1.5
    g = torch.Generator().manual_seed(0)
    kernel = _edge()
    pattern = (kernel > 0).float()                        # the step edge under the kernel
    n = 40_000
    noise = sigma * torch.randn(n, 1, 7, 7, generator=g)
    on_edge = template.responses(pattern + noise[: n // 2], kernel)
    off_edge = template.responses(torch.full_like(noise[n // 2 :], 0.5) + noise[n // 2 :], kernel)
    response = torch.cat([on_edge, off_edge])
    signal = torch.arange(n) < n // 2
    expected = (template.responses(pattern[None], kernel) / (sigma * kernel.norm())).item()
    assert template.detection_snr(response, signal) == pytest.approx(expected, rel=0.02)


def test_detection_snr_after_a_thresholded_relu_matches_the_rectified_gaussian():
    # background relu(Z - a) for Z ~ N(0, 1): mean phi(a) - a (1 - Phi(a)),
    # second moment (1 + a^2)(1 - Phi(a)) - a phi(a); signal positions hold a constant s
    a, s = 2.0, 3.0
    normal = torch.distributions.Normal(0.0, 1.0)
    phi, tail = normal.log_prob(torch.tensor(a)).exp().item(), 1 - normal.cdf(torch.tensor(a)).item()
    mean = phi - a * tail
    std = ((1 + a * a) * tail - a * phi - mean**2) ** 0.5
    z = torch.randn(200_000, generator=torch.Generator().manual_seed(1))
    response = F.relu(torch.cat([torch.full((10,), s + a), z]) - a)
    signal = torch.arange(len(response)) < 10
    assert template.detection_snr(response, signal) == pytest.approx((s - mean) / std, rel=0.02)


def test_detection_snr_rejects_bad_masks():
    response = torch.randn(4, 4)
    signal = torch.zeros(4, 4, dtype=torch.bool)
    with pytest.raises(ValueError, match="at least 1 signal"):
        template.detection_snr(response, signal)
    with pytest.raises(ValueError, match="boolean mask of shape"):
        template.detection_snr(response, signal.float())
    with pytest.raises(ValueError, match="boolean mask of shape"):
        template.detection_snr(response, signal[:2])
    signal[0, 0] = True
    with pytest.raises(ValueError, match="constant"):
        template.detection_snr(torch.ones(4, 4), signal)

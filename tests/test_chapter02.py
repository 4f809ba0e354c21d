"""Every claim chapter 2 (the convolution operation) makes that tests/test_conv.py and
tests/test_widgets.py do not already cover, recomputed with the functions the chapter calls."""
import pytest
import torch
import torch.nn.functional as F

import course_utils as cu
from course_utils import conv, zoo
from course_utils.checks import ch02


def test_one_value_by_the_formula_equals_torch():
    g = torch.Generator().manual_seed(0)
    x, weight, bias = torch.rand(1, 3, 5, 6, generator=g), torch.randn(2, 3, 3, 3, generator=g), torch.randn(2, generator=g)
    out = F.conv2d(x, weight, bias)
    assert out.shape == (1, 2, 3, 4)  # N x C_out x (H-k+1) x (W-k+1)
    for i, j, c in [(0, 0, 0), (1, 2, 1), (2, 3, 0)]:
        by_hand = sum(weight[c, p, k1, k2] * x[0, p, i + k1, j + k2] for k1 in range(3) for k2 in range(3) for p in range(3)) + bias[c]
        assert float(by_hand) == pytest.approx(float(out[0, c, i, j]), abs=1e-5)


def test_parameter_count_formula_of_the_text():
    layer = torch.nn.Conv2d(3, 7, 5)
    assert sum(p.numel() for p in layer.parameters()) == 7 * (5 * 5 * 3 + 1)


def test_hand_designed_kernels_answer_as_the_chapter_says():
    r = {name: ch02.edge_responses(conv.kernel(name)) for name in conv.KERNELS}
    edges = ["bright below", "bright above", "bright right", "bright left"]
    # Sobel x: only the vertical edge brighter to the right; Sobel y: only the horizontal edge brighter below
    assert r["sobel_x"]["bright right"] > 0 and all(r["sobel_x"][e] <= 0 for e in edges if e != "bright right")
    assert r["sobel_y"]["bright below"] > 0 and all(r["sobel_y"][e] <= 0 for e in edges if e != "bright below")
    # zero-sum kernels are silent on a flat image; the Laplacian answers to every edge
    for name in ("sobel_x", "sobel_y", "laplacian"):
        assert float(conv.kernel(name).sum()) == 0 and r[name]["flat"] == pytest.approx(0, abs=1e-6)
    assert all(r["laplacian"][e] > 0 for e in edges)
    # kernels whose weights sum to 1 return the grey level of a flat image
    for name in ("identity", "blur", "sharpen"):
        assert float(conv.kernel(name).sum()) == pytest.approx(1) and r[name]["flat"] == pytest.approx(0.5, abs=1e-6)


def test_the_exercise_check_rejects_wrong_edge_kernels():
    ch02.check_edge_kernel(-conv.kernel("sobel_y"))  # bright above: Sobel y upside down passes
    ch02.check_edge_kernel(conv.kernel("sobel_x"), target="bright right")
    for wrong in (conv.kernel("sobel_x"), conv.kernel("sobel_y"), conv.kernel("laplacian"), conv.kernel("blur"), torch.zeros(3, 3)):
        with pytest.raises(ch02.CheckFailed):
            ch02.check_edge_kernel(wrong)
    with pytest.raises(ch02.CheckFailed, match="3 x 3"):
        ch02.check_edge_kernel(torch.zeros(5, 5))
    with pytest.raises(ValueError, match="bright left"):
        ch02.check_edge_kernel(torch.zeros(3, 3), target="diagonal")


def test_oriented_kernels_are_zero_mean_detectors():
    bank, names = conv.oriented_kernels(size=5, sigma=1.0, orientations=8)
    assert bank.shape == (16, 5, 5) and len(names) == 16 and names[0] == "edge 0 deg"
    assert torch.allclose(bank.mean(dim=(1, 2)), torch.zeros(16), atol=1e-6)
    # "edge 0 deg" changes along x: it answers to a vertical edge, not to a horizontal one
    vertical = torch.zeros(1, 1, 9, 9)
    vertical[..., 5:] = 1.0
    assert cu.conv2d(vertical, bank[0][None, None]).abs().max() > 1.0
    assert cu.conv2d(vertical.transpose(2, 3), bank[0][None, None]).abs().max() < 1e-5
    with pytest.raises(ValueError, match="odd"):
        conv.oriented_kernels(size=4)


def test_best_match_finds_a_kernel_in_the_bank_and_keeps_its_sign():
    bank, _ = conv.oriented_kernels()
    cosine, index = conv.best_match(torch.stack([bank[3], -2 * bank[6]]), bank)
    assert index.tolist() == [3, 6] and torch.allclose(cosine, torch.tensor([1.0, -1.0]), atol=1e-5)
    with pytest.raises(ValueError, match="same k x k"):
        conv.best_match(torch.zeros(2, 3, 3), bank)


def test_learned_first_layer_is_closer_to_edge_detectors_than_its_initialisation():
    detectors, _ = conv.oriented_kernels(size=5, sigma=1.0, orientations=8)
    learned = zoo.pretrained("mnist_small", seed=0, progress=False).conv1.weight.detach()[:, 0]
    trained = conv.best_match(learned, detectors)[0].abs().mean().item()
    untrained = [conv.best_match(zoo.untrained("mnist_small", seed=s).conv1.weight.detach()[:, 0], detectors)[0].abs().mean().item()
                 for s in range(3)]
    assert trained > max(untrained) + 0.1
    assert trained == pytest.approx(0.56, abs=0.03)                   # "about 0.56"
    assert all(v == pytest.approx(0.35, abs=0.04) for v in untrained)  # "about 0.35"

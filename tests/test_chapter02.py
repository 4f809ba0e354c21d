"""Chapter 2 (the convolution operation): the package functions it introduces beyond
tests/test_conv.py, against closed forms and torch, and its exercise checks.

What the chapter measures (the formula equals F.conv2d, the kernels respond as the text says,
the learned first layer is closer to edge detectors than its initialisation) is stated as claims
in the chapter itself; the book build checks them (tests/browser/test_claims_ledger.py)."""
import pytest
import torch
import torch.nn.functional as F

from course_utils.cnn import conv
from course_utils.cnn import conv
from course_utils.teaching.checks import ch02

pytestmark = pytest.mark.usefixtures("one_thread")


# ----------------------------------------------------------------------------- test images
def test_edge_images_are_flat_grey_and_four_unit_steps():
    images = ch02.edge_images(size=6)
    assert list(images) == ["flat", "bright below", "bright above", "bright right", "bright left"]
    assert all(image.shape == (1, 1, 6, 6) for image in images.values())
    assert torch.equal(images["flat"], torch.full((1, 1, 6, 6), 0.5))
    step = torch.tensor([0.0, 0, 0, 1, 1, 1])          # dark half, then bright half
    assert torch.equal(images["bright below"][0, 0], step[:, None].expand(6, 6))
    assert torch.equal(images["bright right"][0, 0], step[None, :].expand(6, 6))
    assert torch.equal(images["bright above"], 1 - images["bright below"])
    assert torch.equal(images["bright left"], 1 - images["bright right"])


def test_edge_responses_are_the_largest_value_of_torchs_convolution():
    kernel = torch.randn(3, 3, generator=torch.Generator().manual_seed(0))
    responses = ch02.edge_responses(kernel)
    for name, image in ch02.edge_images().items():
        assert responses[name] == pytest.approx(F.conv2d(image, kernel[None, None]).max().item())


def test_edge_responses_of_sobel_x_in_closed_form():
    # On a unit step brighter to the right, Sobel x adds its right column (1 + 2 + 1) and
    # subtracts nothing: 4. On a step brighter to the left its best window is the flat part: 0.
    # A flat image of grey 0.5 gives the weight sum times 0.5.
    responses = ch02.edge_responses(conv.kernel("sobel_x"))
    assert responses["bright right"] == pytest.approx(4.0)
    assert responses["bright left"] == pytest.approx(0.0, abs=1e-6)
    assert ch02.edge_responses(conv.kernel("blur"))["flat"] == pytest.approx(0.5)
    assert ch02.edge_responses(2 * conv.kernel("identity"))["flat"] == pytest.approx(1.0)


# ----------------------------------------------------------------------------- exercise checks
def test_the_edge_kernel_check_accepts_right_and_rejects_wrong_kernels(capsys):
    ch02.check_edge_kernel(-conv.kernel("sobel_y"))  # bright above: Sobel y upside down passes
    out = capsys.readouterr().out
    assert "'bright above'" in out and "bright left" not in out   # names the target edge
    assert all(len(line) <= 88 for line in out.splitlines())
    ch02.check_edge_kernel(conv.kernel("sobel_x"), target="bright right")
    for wrong in (conv.kernel("sobel_x"), conv.kernel("sobel_y"), conv.kernel("laplacian"),
                  conv.kernel("blur"), torch.zeros(3, 3)):
        with pytest.raises(ch02.CheckFailed):
            ch02.check_edge_kernel(wrong)
    with pytest.raises(ch02.CheckFailed, match="3 x 3"):
        ch02.check_edge_kernel(torch.zeros(5, 5))
    with pytest.raises(ValueError, match="bright left"):
        ch02.check_edge_kernel(torch.zeros(3, 3), target="diagonal")


def test_the_conv2d_check_rejects_a_flipped_kernel_and_a_forgotten_bias():
    def loops(x, weight, bias=None):
        return conv.conv2d_loops(x, weight, bias)

    def flipped(x, weight, bias=None):   # signal processing's convolution
        return F.conv2d(x, weight.flip(2, 3), bias)

    def no_bias(x, weight, bias=None):
        return F.conv2d(x, weight)

    ch02.check_conv2d(loops)
    for wrong, case in ((flipped, "one 1 x 1 x 4 x 4 image"), (no_bias, "bias given")):
        with pytest.raises(ch02.CheckFailed, match=case):
            ch02.check_conv2d(wrong)


def test_the_output_size_check_rejects_formulas_that_ignore_a_setting():
    def ignores_dilation(size, kernel_size, stride=1, padding=0, dilation=1):
        return (size + 2 * padding - kernel_size) // stride + 1

    def ignores_stride(size, kernel_size, stride=1, padding=0, dilation=1):
        return size + 2 * padding - dilation * (kernel_size - 1)

    ch02.check_output_size(conv.conv_output_size)
    for wrong, case in ((ignores_dilation, "dilation 2"), (ignores_stride, "stride 2")):
        with pytest.raises(ch02.CheckFailed, match=case):
            ch02.check_output_size(wrong)


# ----------------------------------------------------------------------------- detector bank
def test_oriented_kernels_are_zero_mean_detectors():
    bank, names = conv.oriented_kernels(size=5, sigma=1.0, orientations=8)
    assert bank.shape == (16, 5, 5) and len(names) == 16 and names[0] == "edge 0 deg"
    assert torch.allclose(bank.mean(dim=(1, 2)), torch.zeros(16), atol=1e-6)
    # "edge 0 deg" changes along x: it answers to a vertical edge, not to a horizontal one
    vertical = torch.zeros(1, 1, 9, 9)
    vertical[..., 5:] = 1.0
    assert conv.conv2d(vertical, bank[0][None, None]).abs().max() > 1.0
    assert conv.conv2d(vertical.transpose(2, 3), bank[0][None, None]).abs().max() < 1e-5
    with pytest.raises(ValueError, match="odd"):
        conv.oriented_kernels(size=4)


def test_best_match_finds_a_kernel_in_the_bank_and_keeps_its_sign():
    bank, _ = conv.oriented_kernels()
    cosine, index = conv.best_match(torch.stack([bank[3], -2 * bank[6]]), bank)
    assert index.tolist() == [3, 6] and torch.allclose(cosine, torch.tensor([1.0, -1.0]), atol=1e-5)
    with pytest.raises(ValueError, match="same k x k"):
        conv.best_match(torch.zeros(2, 3, 3), bank)

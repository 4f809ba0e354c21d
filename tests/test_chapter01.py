"""Chapter 1 (CNN architecture): the package functions it calls, against torch, and its checks.

The chapter's results are its claims (``claims.claim`` in the notebook), which the book build
checks; this file does not recompute them. Inception v1 against the paper: test_inception.py;
pooling, summaries and receptive fields: test_architecture.py.
"""
import pytest
import torch
import torch.nn.functional as F

from course_utils.cnn import conv
from course_utils.cnn import conv, pooling
from course_utils.teaching import checks
from course_utils.teaching.checks import CheckFailed
import course_utils.teaching.checks.ch01  # noqa: F401  (checks.ch01)

pytestmark = pytest.mark.usefixtures("one_thread")


def test_rgb_kernel_bank_through_the_package_conv_equals_torch():
    bank, names = conv.rgb_kernel_bank()
    assert bank.shape == (4, 3, 3, 3) and len(names) == 4
    x = torch.rand(1, 3, 16, 16, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(conv.conv2d(x, bank, padding=1), F.conv2d(x, bank, padding=1))


def test_subsample_keeps_every_other_pixel_and_shift_change_closed_forms():
    x = torch.arange(36.0).view(1, 1, 6, 6)
    assert torch.equal(pooling.subsample(x), x[..., ::2, ::2])
    assert pooling.subsample(x).shape == F.max_pool2d(x, 2).shape
    # a map constant along the rows does not change when moved sideways
    rows = torch.arange(6.0).view(1, 1, 6, 1).expand(1, 1, 6, 6) + 1
    assert pooling.shift_change(rows) == 0
    # a single bright column moved by one: ||a - b|| / ||a|| = sqrt(2) for the cropped maps
    column = torch.zeros(1, 1, 4, 6)
    column[..., 2] = 1
    assert pooling.shift_change(column) == pytest.approx(2 ** 0.5)


def conv_counts(count):
    """A learner's function with the exercise's signature, from ``count(i, o, k, bias)``."""
    def conv_params(in_channels, out_channels, kernel_size, bias=True):
        return count(in_channels, out_channels, kernel_size, bias)
    return conv_params


def pool_shapes(side):
    """A learner's function with the exercise's signature, from ``side(n, k, stride)``."""
    def pool_output_shape(input_shape, kernel_size, stride=None):
        n, c, h, w = input_shape
        stride = kernel_size if stride is None else stride
        return (n, c, side(h, kernel_size, stride), side(w, kernel_size, stride))
    return pool_output_shape


def max_pools(pool):
    def my_max_pool2d(x, kernel_size):
        return pool(x, kernel_size)
    return my_max_pool2d


def test_exercise_checks_accept_right_answers():
    checks.ch01.check_conv_parameters(conv_counts(lambda i, o, k, b: o * i * k * k + o * b))
    checks.ch01.check_pool_output_shape(pool_shapes(lambda n, k, s: (n - k) // s + 1))
    checks.ch01.check_max_pool(max_pools(F.max_pool2d))


@pytest.mark.parametrize("wrong", [
    lambda i, o, k, b: o * i * k * k + o,          # ignores bias=False
    lambda i, o, k, b: o * i * k + o * b,          # k instead of k * k
    lambda i, o, k, b: o * (i * k * k + 1) - 1,
])
def test_conv_parameter_check_rejects_wrong_counts(wrong):
    with pytest.raises(CheckFailed):
        checks.ch01.check_conv_parameters(conv_counts(wrong))


@pytest.mark.parametrize("wrong", [
    lambda n, k, s: -(-(n - k) // s) + 1,   # rounds up: a last row that does not fill a window
    lambda n, k, s: n // k,                 # ignores the stride
    lambda n, k, s: (n - k) // s,           # forgets the + 1
])
def test_pool_shape_check_rejects_wrong_shapes(wrong):
    with pytest.raises(CheckFailed):
        checks.ch01.check_pool_output_shape(pool_shapes(wrong))


def max_from_zero(x, k):
    """A max pool whose running maximum starts at 0: wrong for all-negative windows."""
    return F.max_pool2d(x, k).clamp_min(0)


@pytest.mark.parametrize("wrong", [max_from_zero, F.avg_pool2d,
                                   lambda x, k: F.max_pool2d(x, k, ceil_mode=True)])
def test_max_pool_check_rejects_wrong_pools(wrong):
    with pytest.raises(CheckFailed):
        checks.ch01.check_max_pool(max_pools(wrong))

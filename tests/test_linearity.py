"""Chapter 3, sections 1-2: linearity measured, and the collapse of a linear stack into one convolution.

Baselines: torch's own conv2d for every stack, the stack's impulse response for the composed
kernel, and the linear stack itself (within 1e-5) against each nonlinear one.
"""
import pytest
import torch
import torch.nn.functional as F

from course_utils.cnn import linearity, nonlinearities

NONLINEAR = ["relu", "leaky_relu", "sigmoid", "tanh", "gelu"]


# Tiny tensors: one thread (conftest.py) avoids two threads' coordination cost on 2 busy cores.
pytestmark = pytest.mark.usefixtures("one_thread")


def _inputs(channels=1, size=40, seed=0):
    g = torch.Generator().manual_seed(seed)
    # Non-negative like images, so the test does not rely on inputs of both signs.
    return torch.rand(3, channels, size, size, generator=g), torch.rand(3, channels, size, size, generator=g)


def _torch_stack(x, layers, activation=None, padding=0):
    """The same stack computed by torch alone: an independent reference for apply_stack."""
    for i, layer in enumerate(layers):
        x = F.conv2d(x, layer.weight, layer.bias, padding=padding)
        if activation is not None and i < len(layers) - 1:
            x = activation(x)
    return x


@pytest.fixture(scope="module")
def deep_stack():
    return linearity.random_conv_stack(depth=10, channels=[1] + [4] * 9 + [1], kernel_size=3, seed=0)


def test_apply_stack_matches_torch(deep_stack):
    x, _ = _inputs()
    for name in [None, "relu", "tanh"]:
        act = None if name is None else nonlinearities.get_activation(name)
        assert torch.allclose(linearity.apply_stack(x, deep_stack, act), _torch_stack(x, deep_stack, act), atol=1e-5)


def test_relative_error_is_scale_free_and_checks_shapes():
    a = torch.randn(10)
    assert linearity.relative_error(a, a) == 0.0
    assert linearity.relative_error(1e6 * a, 1e6 * (a + 0.01)) == pytest.approx(linearity.relative_error(a, a + 0.01), rel=1e-6)
    with pytest.raises(ValueError, match="shapes differ"):
        linearity.relative_error(torch.zeros(3), torch.zeros(4))
    with pytest.raises(ValueError, match="same shape"):
        linearity.additivity_violation(lambda x: x, torch.zeros(3), torch.zeros(4))


def test_linear_stack_is_linear_within_1e_5(deep_stack):
    x1, x2 = _inputs()
    f = lambda x: linearity.apply_stack(x, deep_stack)
    assert linearity.additivity_violation(f, x1, x2) < 1e-5
    for alpha in (3.0, 0.5, -1.0, -2.7):
        assert linearity.homogeneity_violation(f, x1, alpha) < 1e-5


@pytest.mark.parametrize("name", NONLINEAR)
def test_every_activation_breaks_additivity_by_far_more(deep_stack, name):
    x1, x2 = _inputs()
    linear = linearity.additivity_violation(lambda x: linearity.apply_stack(x, deep_stack), x1, x2)
    act = nonlinearities.get_activation(name)
    violation = linearity.additivity_violation(lambda x: linearity.apply_stack(x, deep_stack, act), x1, x2)
    assert violation > 0.01 and violation > 1000 * max(linear, 1e-8)


def test_homogeneity_details_positive_homogeneous_and_odd(deep_stack):
    """ReLU/LeakyReLU stacks pass for alpha > 0 and fail for alpha < 0; tanh passes alpha = -1 only."""
    x, _ = _inputs()
    viol = lambda name, alpha: linearity.homogeneity_violation(
        lambda z: linearity.apply_stack(z, deep_stack, nonlinearities.get_activation(name)), x, alpha)
    for name in ("relu", "leaky_relu"):
        assert viol(name, 3.0) < 1e-4 and viol(name, 0.5) < 1e-4
        assert viol(name, -1.0) > 0.1
    assert viol("tanh", -1.0) < 1e-5 and viol("tanh", 3.0) > 0.1
    for name in ("sigmoid", "gelu"):
        assert viol(name, 3.0) > 0.05 and viol(name, -1.0) > 0.05


def test_biases_make_the_stack_affine_and_the_offset_is_f_of_zero():
    layers = linearity.random_conv_stack(depth=6, channels=[1, 3, 3, 3, 3, 3, 2], kernel_size=3, bias=True, seed=1)
    f = lambda x: linearity.apply_stack(x, layers)
    x1, x2 = _inputs()
    assert linearity.additivity_violation(f, x1, x2) > 0.01   # affine is not linear
    offset = linearity.affine_offset(f, x1)
    assert torch.allclose(f(x1 + x2) - f(x1) - f(x2), -offset, atol=1e-5)
    centered = lambda x: f(x) - linearity.affine_offset(f, x)
    assert linearity.additivity_violation(centered, x1, x2) < 1e-5
    assert linearity.homogeneity_violation(centered, x1, -1.5) < 1e-5


@pytest.mark.parametrize("sizes", [[3, 3], [3] * 10, [5, 3, 1, 7], [1]])
def test_composed_kernel_reproduces_the_stack(sizes):
    widths = [2] + [3] * (len(sizes) - 1) + [2]
    layers = [linearity.random_conv_stack(1, [c_in, c_out], k, bias=True, seed=i)[0]
              for i, (c_in, c_out, k) in enumerate(zip(widths[:-1], widths[1:], sizes))]
    single = linearity.compose_stack(layers)
    side = linearity.composed_kernel_size(sizes)
    assert single.weight.shape == (2, 2, side, side)
    assert side == sum(sizes) - len(sizes) + 1
    x, _ = _inputs(channels=2, size=side + 8)
    stacked = _torch_stack(x, layers)
    assert torch.allclose(F.conv2d(x, single.weight, single.bias), stacked, atol=1e-5)
    assert linearity.relative_error(F.conv2d(x, single.weight, single.bias), stacked) < 1e-5


def test_composed_kernel_is_the_stacks_impulse_response(deep_stack):
    single = linearity.compose_stack(deep_stack)
    impulse = torch.zeros(1, 1, 41, 41)
    impulse[0, 0, 20, 20] = 1.0
    response = _torch_stack(impulse, deep_stack)[0, 0].flip(0, 1)
    assert torch.allclose(response, single.weight[0, 0], atol=1e-6)


def test_two_kernels_compose_by_full_convolution_and_shifts_add():
    shift_a, shift_b = torch.zeros(1, 1, 3, 3), torch.zeros(1, 1, 3, 3)
    shift_a[0, 0, 0, 2], shift_b[0, 0, 1, 0] = 1.0, 1.0
    composed = linearity.compose_kernels(shift_a, shift_b)[0, 0]
    expected = torch.zeros(5, 5)
    expected[1, 2] = 1.0          # offsets (0, 2) + (1, 0)
    assert torch.equal(composed, expected)


def test_same_padding_collapse_holds_only_away_from_the_border(deep_stack):
    x, _ = _inputs(size=48)
    single = linearity.compose_stack(deep_stack)
    diff = (linearity.apply_stack(x, deep_stack, padding=1) - F.conv2d(x, single.weight, padding=10)).abs()
    assert diff[..., 10:-10, 10:-10].max() < 1e-5
    assert diff.max() > 1e-2


def test_random_stack_scale_seed_and_errors():
    layers = linearity.random_conv_stack(depth=3, channels=16, kernel_size=5, gain=2.0, seed=5)
    w = torch.cat([layer.weight.flatten() for layer in layers])
    assert w.std().item() == pytest.approx(2.0 / (16 * 25) ** 0.5, rel=0.05)
    again = linearity.random_conv_stack(depth=3, channels=16, kernel_size=5, gain=2.0, seed=5)
    assert all(torch.equal(a.weight, b.weight) for a, b in zip(layers, again))
    with pytest.raises(ValueError, match="widths"):
        linearity.random_conv_stack(depth=3, channels=[1, 2])
    with pytest.raises(ValueError, match="one padding per layer"):
        linearity.apply_stack(torch.zeros(1, 16, 20, 20), layers, padding=[1, 1])
    with pytest.raises(ValueError, match="expects 4 input channels"):
        linearity.compose_kernels(torch.zeros(3, 1, 3, 3), torch.zeros(2, 4, 3, 3))
    with pytest.raises(ValueError, match="at least one"):
        linearity.composed_kernel_size([])

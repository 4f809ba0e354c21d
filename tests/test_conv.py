"""Chapter 2's convolution functions against torch.nn.functional.conv2d, on random shapes."""
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings, strategies as st

from course_utils.cnn import conv
from course_utils.cnn import conv

TOL = dict(atol=1e-4, rtol=1e-4)


@st.composite
def conv_problems(draw, max_size=12, max_channels=4, max_kernel=5):
    """A valid (x, weight, bias, stride, padding, dilation) for F.conv2d, float32."""
    n = draw(st.integers(1, 3))
    c_in, c_out = draw(st.integers(1, max_channels)), draw(st.integers(1, max_channels))
    kh, kw = draw(st.integers(1, max_kernel)), draw(st.integers(1, max_kernel))
    dilation = draw(st.one_of(st.integers(1, 3), st.tuples(st.integers(1, 3), st.integers(1, 3))))
    padding = draw(st.one_of(st.integers(0, 2), st.tuples(st.integers(0, 2), st.integers(0, 2))))
    stride = draw(st.one_of(st.integers(1, 3), st.tuples(st.integers(1, 3), st.integers(1, 3))))
    pair = lambda v: v if isinstance(v, tuple) else (v, v)
    (dh, dw), (ph, pw) = pair(dilation), pair(padding)
    # The input must be at least as large as the dilated kernel, after padding.
    # The smallest size is the edge case where the kernel fits exactly once.
    h_min, w_min = max(1, dh * (kh - 1) + 1 - 2 * ph), max(1, dw * (kw - 1) + 1 - 2 * pw)
    h, w = draw(st.integers(h_min, h_min + max_size)), draw(st.integers(w_min, w_min + max_size))
    g = torch.Generator().manual_seed(draw(st.integers(0, 2**31 - 1)))
    x = torch.randn(n, c_in, h, w, generator=g)
    weight = torch.randn(c_out, c_in, kh, kw, generator=g)
    bias = torch.randn(c_out, generator=g) if draw(st.booleans()) else None
    return x, weight, bias, stride, padding, dilation


@settings(max_examples=150, deadline=None)
@given(conv_problems())
def test_conv2d_matches_torch(problem):
    x, weight, bias, stride, padding, dilation = problem
    expected = F.conv2d(x, weight, bias, stride, padding, dilation)
    got = conv.conv2d(x, weight, bias, stride, padding, dilation)
    assert got.shape == expected.shape
    torch.testing.assert_close(got, expected, **TOL)


@settings(max_examples=40, deadline=None)
@given(conv_problems(max_size=6, max_channels=2, max_kernel=3))
def test_conv2d_loops_matches_torch(problem):
    x, weight, bias, stride, padding, dilation = problem
    expected = F.conv2d(x, weight, bias, stride, padding, dilation)
    torch.testing.assert_close(conv.conv2d_loops(x, weight, bias, stride, padding, dilation), expected, **TOL)


@settings(max_examples=200, deadline=None)
@given(size=st.integers(1, 64), k=st.integers(1, 7), stride=st.integers(1, 4), padding=st.integers(0, 3), dilation=st.integers(1, 3))
def test_output_size_formula_matches_torch_shapes(size, k, stride, padding, dilation):
    if dilation * (k - 1) + 1 > size + 2 * padding:
        with pytest.raises(ValueError, match="larger than the padded input"):
            conv.conv_output_size(size, k, stride, padding, dilation)
        return
    x, weight = torch.zeros(1, 1, size, size, device="meta"), torch.zeros(1, 1, k, k, device="meta")
    expected = F.conv2d(x, weight, stride=stride, padding=padding, dilation=dilation).shape[-1]
    assert conv.conv_output_size(size, k, stride, padding, dilation) == expected


def test_large_chapter_sized_input_matches_torch():
    g = torch.Generator().manual_seed(0)
    x, weight, bias = torch.randn(4, 16, 28, 28, generator=g), torch.randn(32, 16, 3, 3, generator=g), torch.randn(32, generator=g)
    torch.testing.assert_close(conv.conv2d(x, weight, bias, padding=1), F.conv2d(x, weight, bias, padding=1), **TOL)


def test_sliding_windows_is_a_view_of_every_window():
    x = torch.arange(2 * 3 * 6 * 5, dtype=torch.float32).view(2, 3, 6, 5)
    windows = conv.sliding_windows(x, (3, 2), (2, 1), (1, 2))
    assert windows.shape == (2, 3, 2, 3, 3, 2)
    assert windows.data_ptr() == x.data_ptr()  # no copy
    assert torch.equal(windows[1, 2, 1, 2], x[1, 2, 2:5, 2:5:2])  # window (1, 2): rows 2..4, columns 2 and 4


@pytest.mark.parametrize("fn", [conv.conv2d, conv.conv2d_loops], ids=["conv2d", "conv2d_loops"])
@pytest.mark.parametrize("x_shape,w_shape,kwargs,message", [
    ((1, 3, 8, 8), (4, 2, 3, 3), {}, r"channel mismatch.*\(1, 3, 8, 8\).*\(4, 2, 3, 3\)"),
    ((1, 1, 4, 4), (1, 1, 5, 5), {}, r"kernel \(1, 1, 5, 5\) is larger than the padded input.*\(1, 1, 4, 4\)"),
    ((1, 1, 2, 2), (1, 1, 3, 3), {"dilation": 2, "padding": 1}, r"larger than the padded input"),
    ((3, 8, 8), (1, 3, 3, 3), {}, r"4 dimensions.*\(3, 8, 8\)"),
    ((1, 3, 8, 8), (3, 3, 3), {}, r"4 dimensions.*\(3, 3, 3\)"),
    ((1, 1, 8, 8), (1, 1, 3, 3), {"stride": 0}, r"stride >= 1.*stride=0"),
    ((1, 1, 8, 8), (1, 1, 3, 3), {"stride": (1, -1)}, r"stride >= 1"),
    ((1, 1, 8, 8), (1, 1, 3, 3), {"padding": -1}, r"padding >= 0"),
])
def test_bad_input_raises_value_error_naming_shapes(fn, x_shape, w_shape, kwargs, message):
    with pytest.raises(ValueError, match=message):
        fn(torch.zeros(x_shape), torch.zeros(w_shape), **kwargs)


def test_bias_of_wrong_shape_is_reported():
    with pytest.raises(ValueError, match=r"bias must have shape \(4,\), got \(3,\)"):
        conv.conv2d(torch.zeros(1, 2, 5, 5), torch.zeros(4, 2, 3, 3), torch.zeros(3))


def test_torch_computes_cross_correlation_not_flipped_convolution():
    """Chapter 2's claim: torch lays the kernel on the image as printed (no flip)."""
    from scipy.signal import convolve2d, correlate2d

    g = torch.Generator().manual_seed(0)
    image, k = torch.randn(9, 9, generator=g).double(), torch.randn(3, 3, generator=g).double()
    torch_out = F.conv2d(image[None, None], k[None, None])[0, 0]
    assert torch.allclose(torch_out, torch.tensor(correlate2d(image, k, mode="valid")))
    textbook = torch.tensor(convolve2d(image, k, mode="valid"))  # the textbook convolution flips the kernel
    assert not torch.allclose(torch_out, textbook, atol=1e-2)
    assert torch.allclose(torch_out, torch.tensor(convolve2d(image, k.flip(0, 1), mode="valid")))


def test_window_starts_top_left_and_same_padding_centres_it():
    """Output (i, j) sees input rows i..i+k-1 without padding; with padding k // 2 it is centred on (i, j)."""
    impulse = torch.zeros(1, 1, 9, 9)
    impulse[0, 0, 4, 4] = 1.0
    centre_tap = torch.zeros(1, 1, 3, 3)
    centre_tap[0, 0, 1, 1] = 1.0  # copies the centre of the window
    valid = conv.conv2d(impulse, centre_tap)[0, 0]
    same = conv.conv2d(impulse, centre_tap, padding=1)[0, 0]
    assert valid.shape == (7, 7) and (valid == 1).nonzero().tolist() == [[3, 3]]  # moved up-left by k // 2
    assert same.shape == (9, 9) and (same == 1).nonzero().tolist() == [[4, 4]]    # stays in place


def test_kernels_by_name():
    assert conv.kernel("sobel_x").shape == (3, 3) and float(conv.kernel("blur").sum()) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="sobel_x"):
        conv.kernel("sobel")


def test_conv2d_gradients_match_torch():
    """conv2d is differentiable like F.conv2d (later chapters optimise inputs through convolutions)."""
    g = torch.Generator().manual_seed(3)
    x, weight, bias = (torch.randn(2, 3, 7, 6, generator=g), torch.randn(4, 3, 3, 3, generator=g), torch.randn(4, generator=g))
    grads = []
    for fn in (conv.conv2d, F.conv2d):
        inputs = [t.clone().requires_grad_(True) for t in (x, weight, bias)]
        (fn(*inputs, stride=2, padding=1) ** 2).sum().backward()
        grads.append([t.grad for t in inputs])
    for ours, theirs in zip(*grads):
        torch.testing.assert_close(ours, theirs, **TOL)

"""The matplotlib side of chapter 2's convolution: its numbers against torch, its pictures."""
import io
import math

import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from course_utils.data import photos
from course_utils.teaching import widgets
from course_utils.cnn.conv import KERNELS, kernel


def digit() -> torch.Tensor:
    return torch.zeros(12, 12).index_fill_(1, torch.tensor([5, 6]), 1.0)  # a vertical bar, 12 x 12


def png_size(data: bytes) -> tuple[int, int]:
    return Image.open(io.BytesIO(data)).size


def test_sliding_kernel_shows_the_convolution_at_a_position():
    image, k = digit(), kernel("sobel_x")
    view = widgets.SlidingKernel(image, k, bias=0.25)
    expected = F.conv2d(image[None, None], k[None, None], torch.tensor([0.25]))[0, 0]
    first_png = view.picture(0, 0)
    shown = view.step(4, 3)
    assert (shown.row, shown.col) == (4, 3)
    assert torch.equal(shown.window[0], image[4:7, 3:6])              # 1. the window under the kernel
    assert torch.equal(shown.product[0], image[4:7, 3:6] * k)         # 2. multiplied elementwise
    assert shown.total == pytest.approx(float((image[4:7, 3:6] * k).sum()))  # 3. summed
    assert shown.value == pytest.approx(float(expected[4, 3]), abs=1e-5)     # 4. plus bias = torch's answer
    assert f"f[4, 3] = {shown.value:.2f}" in view.describe(shown)
    # the output map is filled up to the current position in reading order, blank after it
    flat, current = shown.filled.flatten(), 4 * expected.shape[1] + 3
    assert torch.allclose(flat[: current + 1], expected.flatten()[: current + 1])
    assert torch.isnan(flat[current + 1 :]).all()
    picture = view.picture(4, 3)
    assert picture != first_png and png_size(picture) == png_size(first_png)


def test_every_position_agrees_with_torch():
    g = torch.Generator().manual_seed(0)
    image, k = torch.rand(7, 6, generator=g), torch.randn(3, 3, generator=g)
    view = widgets.SlidingKernel(image, k, bias=-0.5)
    expected = F.conv2d(image[None, None], k[None, None], torch.tensor([-0.5]))[0, 0]
    for i in range(expected.shape[0]):
        for j in range(expected.shape[1]):
            assert view.step(i, j).value == pytest.approx(float(expected[i, j]), abs=1e-5)
    assert view.output.shape == expected.shape


def test_rgb_input_sums_over_channels():
    g = torch.Generator().manual_seed(1)
    image = photos.photo("astronaut", size=16)[:, :, :16]
    k = torch.randn(3, 3, 3, generator=g)
    view = widgets.SlidingKernel(image, k, bias=0.1)
    shown = view.step(5, 7)
    expected = F.conv2d(image[None], k[None], torch.tensor([0.1]))[0, 0, 5, 7]
    per_channel = (image[:, 5:8, 7:10] * k).sum((1, 2))
    assert torch.allclose(shown.channel_sums, per_channel, atol=1e-6)
    assert shown.total == pytest.approx(float(per_channel.sum()), abs=1e-5)
    assert shown.value == pytest.approx(float(expected), abs=1e-5)
    assert all(f"{name} {float(v):.2f}" in view.describe(shown) for name, v in zip("RGB", per_channel))


def test_stride_padding_and_dilation_move_the_window_as_torch_does():
    g = torch.Generator().manual_seed(2)
    image, k = torch.rand(9, 9, generator=g), torch.randn(3, 3, generator=g)
    view = widgets.SlidingKernel(image, k, stride=2, padding=1)
    expected = F.conv2d(image[None, None], k[None, None], stride=2, padding=1)[0, 0]
    assert view.output.shape == expected.shape == (5, 5)
    assert view.step(0, 4).value == pytest.approx(float(expected[0, 4]), abs=1e-5)
    assert view.step(0, 4).window[0, 0].tolist() == [0.0, 0.0, 0.0]  # the top row of the window is padding
    dilated = widgets.SlidingKernel(image, k, padding=2, dilation=2)
    expected = F.conv2d(image[None, None], k[None, None], padding=2, dilation=2)[0, 0]
    assert dilated.step(3, 1).value == pytest.approx(float(expected[3, 1]), abs=1e-5)
    assert torch.equal(dilated.step(3, 1).window[0], dilated.padded[0, 3:8:2, 1:6:2])  # every other pixel


def test_sliding_kernel_rejects_mismatched_channels():
    with pytest.raises(ValueError, match=r"image \(3, 8, 8\), kernel \(1, 3, 3\)"):
        widgets.SlidingKernel(torch.rand(3, 8, 8), torch.rand(3, 3))


def test_static_animation_is_produced_and_small():
    view = widgets.SlidingKernel(digit(), kernel("sobel_x"))
    positions = view.positions(10)
    assert len(positions) == 10 and positions[0] == (0, 0) and positions[-1] == (9, 9)
    html = view.animation(frames=10).to_jshtml()
    assert html.count("data:image/png;base64") == 10
    assert len(html) < 2_000_000


def test_the_player_describes_its_frame_and_labels_its_slider():
    anim = widgets.SlidingKernel(digit(), kernel("sobel_x")).animation(frames=3)
    page = widgets.player(anim, alt='The window "slides" over a digit.').data
    assert page.count('alt="The window &quot;slides&quot; over a digit."') == 1
    assert page.count('aria-label="frame"') == 1 and page.count("data:image/png;base64") == 3
    with pytest.raises(ValueError, match="needs alt"):
        widgets.player(anim, alt=" ")


def test_rgb_animation_stays_light():
    image = photos.photo("astronaut", size=16)[:, :, :16]
    html = widgets.SlidingKernel(image, torch.ones(3, 3, 3) / 27).animation(frames=12).to_jshtml()
    assert html.count("data:image/png;base64") == 12 and len(html) < 2_000_000


# --- the gallery of preset kernels ---------------------------------------------------------

def test_the_gallery_shows_every_preset_as_torch_computes_it():
    camera = photos.photo("camera", grayscale=True, size=64)
    figure = widgets.kernel_gallery(camera)
    assert [ax.get_title() for ax in figure.axes] == list(KERNELS)
    for ax, name in zip(figure.axes, KERNELS):
        expected = F.conv2d(camera[None], kernel(name)[None, None], padding=1)[0, 0]
        torch.testing.assert_close(torch.tensor(ax.images[0].get_array().data), expected, atol=1e-5, rtol=1e-5)
    with pytest.raises(ValueError, match="unknown kernel 'edge'"):
        widgets.kernel_gallery(camera, names=["edge"])


def test_the_gallery_turns_a_colour_photo_grey():
    figure = widgets.kernel_gallery(photos.photo("astronaut", size=32), names=["identity"])
    shown = torch.tensor(figure.axes[0].images[0].get_array().data)
    torch.testing.assert_close(shown, photos.photo("astronaut", grayscale=True, size=32)[0], atol=1e-5, rtol=0)
    assert not math.isnan(float(shown.mean()))

"""The plotting helpers draw what they are given: one panel per image, at its own values."""
import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch

from course_utils.teaching import plotting


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


@pytest.mark.parametrize("count, ncols, rows", [(1, 8, 1), (5, 2, 3), (8, 8, 1), (9, 8, 2)])
def test_show_images_draws_one_panel_per_image_in_rows_of_ncols(count, ncols, rows):
    images = torch.rand(count, 1, 6, 6)
    fig = plotting.show_images(images, titles=list(range(count)), ncols=ncols, suptitle="grid")
    drawn = [ax for ax in fig.axes if ax.images]
    assert len(fig.axes) == rows * min(ncols, count) and len(drawn) == count
    for ax, image, title in zip(drawn, images, range(count)):
        np.testing.assert_allclose(ax.images[0].get_array(), image[0].numpy())
        assert ax.get_title() == str(title)
    assert fig._suptitle.get_text() == "grid"


def test_show_images_shows_rgb_channels_last():
    image = torch.rand(3, 4, 5)
    fig = plotting.show_images([image])
    np.testing.assert_allclose(fig.axes[0].images[0].get_array(), image.permute(1, 2, 0).numpy())


def test_show_signed_centres_each_kernel_on_zero_at_its_own_scale():
    weights = torch.tensor([[[1.0, -2.0]], [[0.0, 0.0]], [[0.5, 0.25]]])
    fig = plotting.show_signed(weights, ncols=2)
    limits = [ax.images[0].get_clim() for ax in fig.axes if ax.images]
    assert limits == [(-2.0, 2.0), (-1.0, 1.0), (-0.5, 0.5)]  # all-zero kernel: a unit scale, no division by 0

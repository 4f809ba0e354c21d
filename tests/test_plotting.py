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


def test_the_book_style_shows_figures_as_svg_with_text_and_a_white_ground(monkeypatch):
    """In a kernel, as a chapter runs: vector figures whose labels are text elements."""
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(
        "import matplotlib.pyplot as plt\n"
        "from course_utils.teaching import plotting\n"
        "plotting.use_book_style()\n"
        "fig, ax = plt.subplots(figsize=(3, 2))\n"
        "ax.imshow([[0, 1], [1, 0]])\n"
        "ax.set_title('a checkerboard')")])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    monkeypatch.delenv("MPLBACKEND", raising=False)  # the kernel would skip its inline backend
    NotebookClient(nb, timeout=120).execute()
    figures = [o["data"] for o in nb.cells[0].outputs if "data" in o and "image/svg+xml" in o["data"]]
    assert len(figures) == 1 and "image/png" not in figures[0]
    svg = figures[0]["image/svg+xml"]
    assert "a checkerboard" in svg and "font-size" in svg          # text, not outlines
    assert "image-rendering:pixelated" in svg.replace(" ", "")     # pixels shown as pixels
    assert "fill: #ffffff" in svg                                  # an opaque white ground

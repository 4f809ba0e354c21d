"""The book's figure style and the plotting helpers the chapters share (matplotlib only)."""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import torch

from course_utils.cnn.training import History

# Figures are vector graphics (SVG, see use_book_style) whose text stays text, so a browser
# draws it sharp at any zoom and a test can read its size; images are shown pixel for pixel
# (an activation map is data, not a photo to smooth); the white ground keeps dark lines
# visible when the page is in dark mode.
BOOK_STYLE = {
    "font.size": 10,
    "svg.fonttype": "none",
    "image.interpolation": "none",
    "figure.facecolor": "white",
    "savefig.facecolor": "white",
    "savefig.transparent": False,
}


def use_book_style() -> None:
    """Apply BOOK_STYLE; in a notebook, also show figures as SVG (the first cell of a chapter)."""
    plt.rcParams.update(BOOK_STYLE)
    from IPython import get_ipython

    shell = get_ipython()
    if shell is not None and hasattr(shell, "kernel"):   # a Jupyter kernel, not a plain shell
        shell.run_line_magic("config", "InlineBackend.figure_formats = ['svg']")


def _to_numpy_image(image: torch.Tensor) -> np.ndarray:
    """``C x H x W`` or ``H x W`` tensor -> array matplotlib can show."""
    image = image.detach().float().cpu()
    if image.ndim == 3:
        image = image[0] if image.shape[0] == 1 else image.permute(1, 2, 0)
    return image.numpy()


def _image_grid(count: int, ncols: int, size: float, suptitle: str | None):
    """A figure of ``count`` axes, ``ncols`` per row, axes switched off. Returns (figure, axes)."""
    ncols = max(1, min(ncols, count))
    nrows = (count + ncols - 1) // ncols
    fig, axes = plt.subplots(nrows, ncols, figsize=(size * ncols, size * nrows + (0.3 if suptitle else 0)), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    if suptitle:
        fig.suptitle(suptitle)
    return fig, axes.flat[:count]


def show_images(images, titles=None, ncols: int = 8, size: float = 1.2, cmap: str = "gray", vmin=None, vmax=None, suptitle: str | None = None):
    """A grid of images (``N x C x H x W`` tensor or a list of ``C x H x W``/``H x W``). Returns the figure."""
    images = list(images)
    fig, axes = _image_grid(len(images), ncols, size, suptitle)
    for i, (ax, image) in enumerate(zip(axes, images)):
        ax.imshow(_to_numpy_image(image), cmap=cmap, vmin=vmin, vmax=vmax)
        if titles is not None:
            ax.set_title(str(titles[i]), fontsize=8)
    fig.tight_layout()
    return fig


def show_signed(weights: torch.Tensor, ncols: int = 8, size: float = 1.0, titles=None, suptitle: str | None = None):
    """Kernels ``N x H x W`` in red (positive) / blue (negative), each scaled to its own largest absolute weight."""
    weights = weights.detach().float().cpu()
    fig, axes = _image_grid(len(weights), ncols, size, suptitle)
    for i, (ax, w) in enumerate(zip(axes, weights)):
        limit = float(w.abs().max()) or 1.0  # own scale: a weak kernel's pattern stays visible
        ax.imshow(w.numpy(), cmap="RdBu_r", vmin=-limit, vmax=limit)
        if titles is not None:
            ax.set_title(str(titles[i]), fontsize=8)
    fig.tight_layout()
    return fig


def plot_history(history: History):
    """Loss and accuracy per epoch, train and validation side by side."""
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(8, 3))
    epochs = np.arange(1, len(history.loss) + 1)
    ax_loss.plot(epochs, history.loss, "o-", label="train")
    ax_acc.plot(epochs, history.accuracy, "o-", label="train")
    if history.val_loss:
        ax_loss.plot(epochs, history.val_loss, "s--", label="validation")
        ax_acc.plot(epochs, history.val_accuracy, "s--", label="validation")
    ax_loss.set(xlabel="epoch", ylabel="cross-entropy loss", title="loss")
    ax_acc.set(xlabel="epoch", ylabel="accuracy", title="accuracy", ylim=(0, 1.01))
    for ax in (ax_loss, ax_acc):
        ax.legend()
        ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def plot_confusion(matrix: torch.Tensor, classes=None):
    """A confusion matrix (rows = true, columns = predicted) with the counts written in."""
    matrix = matrix.cpu().numpy()
    classes = classes or [str(i) for i in range(len(matrix))]
    fig, ax = plt.subplots(figsize=(0.45 * len(matrix) + 1.5, 0.45 * len(matrix) + 1.2))
    ax.imshow(matrix, cmap="Blues")
    for (i, j), count in np.ndenumerate(matrix):
        ax.text(j, i, int(count), ha="center", va="center", fontsize=8, color="white" if count > matrix.max() / 2 else "black")
    ax.set(xticks=range(len(classes)), yticks=range(len(classes)), xticklabels=classes, yticklabels=classes,
           xlabel="predicted", ylabel="true", title="confusion matrix")
    fig.tight_layout()
    return fig

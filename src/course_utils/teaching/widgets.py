"""The convolution of chapter 2 drawn with matplotlib: the numbers with torch, the pictures.

- :class:`SlidingKernel`: one output channel computed one position at a time (the window, the
  elementwise product, the per-channel sums, the bias), and its picture: the window on the
  image, the numbers, and the output map filling in up to the current position. It gives
  :class:`~course_utils.teaching.convolution_view.ConvolutionView` (the view that runs in the
  browser) its numbers in Python and its picture where no JavaScript runs; its
  :meth:`~SlidingKernel.animation`, shown with :func:`player`, plays without a kernel.
- :func:`kernel_gallery`: every preset kernel applied to a photo, side by side.
- :func:`plot_window_positions`: where the windows land for a stride, a padding, a dilation.
"""
from __future__ import annotations

import html
import io
import re
from dataclasses import dataclass

import matplotlib
import numpy as np
import torch
from IPython.display import HTML
from matplotlib.animation import FuncAnimation
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle
from PIL import Image as PILImage

from course_utils.cnn.conv import KERNELS, conv2d, conv_output_size
from course_utils.data.photos import LUMA, brightness

_CHANNEL_MAPS = {3: ("Reds", "Greens", "Blues")}
_CHANNEL_NAMES = {3: ("R", "G", "B")}


def _new_figure(width: float, height: float, dpi: int) -> Figure:
    """A figure outside pyplot: Jupyter does not show it by itself, its owner decides."""
    figure = Figure(figsize=(width, height), dpi=dpi)
    FigureCanvasAgg(figure)
    return figure


class _FastPNG:
    """PNG snapshots of a figure in which only a few ``dynamic`` artists change.

    A full matplotlib draw costs 100-200 ms; a new step needs much less. Everything static is drawn
    once into a background; each snapshot pastes it back and draws only the dynamic artists
    (matplotlib's "blitting"), then encodes with a fast PNG setting.
    """

    def __init__(self, figure: Figure, dynamic: list) -> None:
        self.figure, self.dynamic, self.background = figure, dynamic, None

    def png(self) -> bytes:
        canvas = self.figure.canvas
        if self.background is None:
            for artist in self.dynamic:
                artist.set_visible(False)
            canvas.draw()
            self.background = canvas.copy_from_bbox(self.figure.bbox)
            for artist in self.dynamic:
                artist.set_visible(True)
        canvas.restore_region(self.background)
        for artist in self.dynamic:
            self.figure.draw_artist(artist)
        width, height = canvas.get_width_height()
        image = PILImage.frombuffer("RGBA", (width, height), canvas.buffer_rgba(), "raw", "RGBA", 0, 1).convert("RGB")
        buffer = io.BytesIO()
        image.save(buffer, format="png", compress_level=1)
        return buffer.getvalue()


def _text_colour(image, value: float) -> str:
    """Black or white, whichever reads better on the colour ``image`` gives ``value``."""
    r, g, b, _ = image.cmap(image.norm(value))
    return "white" if LUMA[0] * r + LUMA[1] * g + LUMA[2] * b < 0.5 else "black"


def _as_chw(image: torch.Tensor) -> torch.Tensor:
    image = torch.as_tensor(image, dtype=torch.float32)
    if image.ndim == 2:
        image = image[None]
    if image.ndim != 3:
        raise ValueError(f"expected an image C x H x W or H x W, got shape {tuple(image.shape)}")
    return image


@dataclass
class Step:
    """What the sliding view shows at output position ``(row, col)``.

    ``window``, ``product``: ``C x k x k``; ``channel_sums``: ``C``; ``value = total + bias`` is the
    output at ``(row, col)``; ``filled``: ``H_out x W_out``, NaN where the kernel has not been yet.
    """

    row: int
    col: int
    window: torch.Tensor
    product: torch.Tensor
    channel_sums: torch.Tensor
    total: float
    bias: float
    value: float
    filled: torch.Tensor


class SlidingKernel:
    """One output channel of a convolution, computed one position at a time, and its picture.

    ``image: C x H x W`` (or ``H x W``), ``kernel: C x k x k`` (or ``k x k``), a scalar ``bias``;
    ``stride``, ``padding``, ``dilation`` as in ``F.conv2d``. ``step(row, col)`` is the
    :class:`Step` at an output position; ``picture(row, col)`` draws it (PNG bytes).
    ``annotate`` writes the values in the cells (default: only for a one-channel image).
    """

    def __init__(self, image: torch.Tensor, kernel: torch.Tensor, bias: float = 0.0, stride: int = 1,
                 padding: int = 0, annotate: bool | None = None, dpi: int = 72, dilation: int = 1) -> None:
        self.image, self.kernel = _as_chw(image), _as_chw(kernel)
        if self.kernel.shape[0] != self.image.shape[0]:
            raise ValueError(f"the kernel needs one k x k slice per image channel: image {tuple(self.image.shape)}, "
                             f"kernel {tuple(self.kernel.shape)}")
        self.bias, self.stride, self.padding, self.dpi = float(bias), stride, padding, dpi
        self.dilation = dilation
        # The whole answer, from the package's conv2d: the picture reveals it position by position.
        self.output = conv2d(self.image[None], self.kernel[None], torch.tensor([self.bias]), stride, padding,
                             dilation)[0, 0]
        self.padded = torch.nn.functional.pad(self.image, (padding,) * 4)
        # Numbers in every cell cost about 1 ms each to draw: write them for one channel only.
        self._build_figure(self.image.shape[0] == 1 if annotate is None else annotate)

    # --- the numbers -----------------------------------------------------------------
    def step(self, row: int, col: int) -> Step:
        """The four steps at output position ``(row, col)``: window, product, sums, plus bias."""
        (k_h, k_w), d = self.kernel.shape[1:], self.dilation
        top, left = row * self.stride, col * self.stride
        window = self.padded[:, top : top + d * (k_h - 1) + 1 : d, left : left + d * (k_w - 1) + 1 : d]  # 1. window
        product = window * self.kernel                                   # 2. multiply elementwise
        channel_sums = product.sum(dim=(1, 2))                           # 3. sum each channel ...
        total = float(channel_sums.sum())                                # ... and over channels
        filled = self.output.clone()
        filled.view(-1)[row * self.output.shape[1] + col + 1 :] = float("nan")
        return Step(row, col, window, product, channel_sums, total, self.bias, total + self.bias, filled)  # 4. bias

    def describe(self, s: Step) -> str:
        """The last two steps written out, e.g. ``3. sum R 0.31 + G -0.12 + B 0.05 = 0.24  4. + bias ...``."""
        names = _CHANNEL_NAMES.get(len(s.channel_sums), [f"ch{p}" for p in range(len(s.channel_sums))])
        if len(s.channel_sums) > 1:
            parts = " + ".join(f"{n} {v:.2f}" for n, v in zip(names, s.channel_sums.tolist()))
            summed = f"3. sum over channels {parts} = {s.total:.2f}"
        else:
            summed = f"3. sum {s.total:.2f}"
        return f"{summed}   4. + bias {s.bias:.2f}   =   f[{s.row}, {s.col}] = {s.value:.2f}"

    # --- the picture -----------------------------------------------------------------
    def _build_figure(self, annotate: bool) -> None:
        c, k_h, k_w = self.kernel.shape
        self.figure = _new_figure(9.0, 0.9 + 1.45 * c, self.dpi)
        top = 1 - 0.55 / (0.9 + 1.45 * c)
        grid = self.figure.add_gridspec(c, 5, width_ratios=[1.6, 1, 1, 1, 1.6], left=0.03, right=0.98, top=top,
                                        bottom=0.08, wspace=0.25, hspace=0.4)
        ax_in = self.figure.add_subplot(grid[:, 0])
        shown = self.padded.permute(1, 2, 0).numpy().clip(0, 1) if c == 3 else self.padded[0].numpy()
        ax_in.imshow(shown, cmap="gray")
        ax_in.set_title("input, window in yellow" + (f" (padding {self.padding})" if self.padding else ""), fontsize=8)
        reach_h, reach_w = self.dilation * (k_h - 1) + 1, self.dilation * (k_w - 1) + 1  # a dilated window's span
        self._window_box = ax_in.add_patch(Rectangle((-0.5, -0.5), reach_w, reach_h, fill=False, edgecolor="yellow",
                                                     linewidth=2))
        maps = _CHANNEL_MAPS.get(c, ("gray",) * c)
        names = _CHANNEL_NAMES.get(c, [f"ch {p}" for p in range(c)])
        k_lim = float(self.kernel.abs().max()) or 1.0
        p_lim = k_lim * (float(self.padded.abs().max()) or 1.0)
        lo, hi = float(self.padded.min()), float(self.padded.max())
        self._windows, self._products, self._sums, self._texts = [], [], [], []
        for p in range(c):
            ax_w, ax_k, ax_p = (self.figure.add_subplot(grid[p, col]) for col in (1, 2, 3))
            self._windows.append(ax_w.imshow(np.zeros((k_h, k_w)), cmap=maps[p], vmin=lo, vmax=hi if hi > lo else lo + 1))
            kernel_image = ax_k.imshow(self.kernel[p].numpy(), cmap="RdBu_r", vmin=-k_lim, vmax=k_lim)
            self._products.append(ax_p.imshow(np.zeros((k_h, k_w)), cmap="RdBu_r", vmin=-p_lim, vmax=p_lim))
            if p == 0:
                ax_w.set_title("1. window", fontsize=8)
                ax_k.set_title("kernel", fontsize=8)
                ax_p.set_title("2. window x kernel", fontsize=8)
            if c > 1:
                ax_w.set_ylabel(names[p], fontsize=9, rotation=0, labelpad=8)
            self._sums.append(ax_p.text(0.5, -0.04, "", transform=ax_p.transAxes, fontsize=8, ha="center", va="top"))
            if annotate and k_h * k_w <= 25:
                self._texts.append([_annotate(ax_w, k_h, k_w), _annotate(ax_p, k_h, k_w)])
                for (y, x), t in zip(np.ndindex(k_h, k_w), _annotate(ax_k, k_h, k_w)):
                    t.set_text(f"{self.kernel[p, y, x]:.2g}")
                    t.set_color(_text_colour(kernel_image, float(self.kernel[p, y, x])))
            for ax in (ax_w, ax_k, ax_p):
                ax.set_xticks([]), ax.set_yticks([])
        ax_out = self.figure.add_subplot(grid[:, 4])
        o_lim = float(self.output.abs().max()) or 1.0
        self._out_image = ax_out.imshow(self.output.numpy(), cmap=_bad_grey("RdBu_r"), vmin=-o_lim, vmax=o_lim)
        self._out_box = ax_out.add_patch(Rectangle((-0.5, -0.5), 1, 1, fill=False, edgecolor="black", linewidth=1.5))
        ax_out.set_title("output map f (grey: not yet)", fontsize=8)
        for ax in (ax_in, ax_out):
            ax.set_xticks([]), ax.set_yticks([])
        self._headline = self.figure.text(0.5, 1 - 0.2 / (0.9 + 1.45 * c), "", ha="center", va="center", fontsize=10)
        dynamic = [self._window_box, *self._windows, *self._products, *self._sums, self._out_image, self._out_box,
                   self._headline] + [t for pair in self._texts for texts in pair for t in texts]
        self._renderer = _FastPNG(self.figure, dynamic)

    def draw(self, s: Step) -> None:
        """Move every changing artist of the figure to step ``s`` (no rendering)."""
        self._window_box.set_xy((s.col * self.stride - 0.5, s.row * self.stride - 0.5))
        for p in range(len(s.channel_sums)):
            self._windows[p].set_data(s.window[p].numpy())
            self._products[p].set_data(s.product[p].numpy())
            self._sums[p].set_text(f"sum {s.channel_sums[p]:.2f}")
            if self._texts:
                for values, image, texts in zip((s.window[p], s.product[p]), (self._windows[p], self._products[p]), self._texts[p]):
                    for (y, x), t in zip(np.ndindex(*values.shape), texts):
                        t.set_text(_number(float(values[y, x])))
                        t.set_color(_text_colour(image, float(values[y, x])))
        self._out_image.set_data(s.filled.numpy())
        self._out_box.set_xy((s.col - 0.5, s.row - 0.5))
        self._headline.set_text(self.describe(s))

    def picture(self, row: int, col: int) -> bytes:
        """The step at ``(row, col)`` drawn, as PNG bytes."""
        self.draw(self.step(row, col))
        return self._renderer.png()

    # --- the animation -----------------------------------------------------------------
    def positions(self, frames: int) -> list[tuple[int, int]]:
        """``frames`` output positions spread evenly over the raster order, first and last included."""
        h_out, w_out = self.output.shape
        flat = np.linspace(0, h_out * w_out - 1, num=max(1, min(frames, h_out * w_out))).round().astype(int)
        return [(int(i) // w_out, int(i) % w_out) for i in flat]

    def animation(self, frames: int = 12, interval: int = 700) -> FuncAnimation:
        """The sliding computation as an animation, drawn by :meth:`draw`:
        ``player(anim, alt)`` plays it in a page with no Python behind it."""
        steps = [self.step(r, c) for r, c in self.positions(frames)]
        return FuncAnimation(self.figure, self.draw, frames=steps, interval=interval, blit=False)


def player(anim: FuncAnimation, alt: str) -> HTML:
    """``anim`` as matplotlib's JavaScript player (``to_jshtml``), which needs no kernel, with
    its frame described by ``alt`` and its frame slider labelled for screen readers."""
    if not alt.strip():
        raise ValueError("player() needs alt: a sentence saying what the animation shows")
    page = anim.to_jshtml(default_mode="once")
    page, images = re.subn(r'<img id="(_anim_img\w+)">',
                           lambda m: f'<img id="{m.group(1)}" alt="{html.escape(alt)}">', page)
    page, sliders = re.subn(r'class="anim-slider"', 'class="anim-slider" aria-label="frame"', page)
    if (images, sliders) != (1, 1):  # matplotlib changed its template: fail loudly, not silently
        raise RuntimeError(f"to_jshtml's player has {images} frame images and {sliders} sliders, "
                           "expected one of each")
    return HTML(page)


def _number(value: float) -> str:
    return f"{value if abs(value) >= 0.005 else 0.0:.2f}"  # no "-0.00"


def _annotate(ax, k_h: int, k_w: int) -> list:
    return [ax.text(x, y, "", ha="center", va="center", fontsize=8) for y, x in np.ndindex(k_h, k_w)]


def _bad_grey(name: str):
    return matplotlib.colormaps[name].with_extremes(bad="#dddddd")  # positions the kernel has not reached yet


def kernel_gallery(image: torch.Tensor, names=tuple(KERNELS), dpi: int = 72) -> Figure:
    """Every kernel of ``names`` (from ``KERNELS``) applied to ``image`` (``H x W`` or
    ``C x H x W``; colour is turned to grey) with padding 1, side by side. Returns the figure."""
    unknown = [name for name in names if name not in KERNELS]
    if unknown:
        raise ValueError(f"unknown kernel {unknown[0]!r}; valid: {', '.join(KERNELS)}")
    image = _as_chw(image)
    image = brightness(image) if image.shape[0] == 3 else image[:1]
    figure = _new_figure(min(7.5, 1.6 * len(names)), 2.0, dpi)  # fits the page column
    axes = figure.subplots(1, len(names), squeeze=False)[0]
    for ax, name in zip(axes, names):
        result = conv2d(image[None], torch.tensor([[KERNELS[name]]], dtype=torch.float32), padding=1)[0, 0]
        if abs(sum(map(sum, KERNELS[name]))) < 1e-6:   # answers to change only: signed colours
            limit = float(result.abs().quantile(0.99)) or 1.0
            ax.imshow(result.numpy(), cmap="RdBu_r", vmin=-limit, vmax=limit)
        else:
            ax.imshow(result.numpy(), cmap="gray", vmin=0, vmax=1)
        ax.set_title(name, fontsize=9)
        ax.axis("off")
    figure.tight_layout()
    return figure


def plot_window_positions(size: int = 7, kernel_size: int = 3, stride: int = 1, padding: int = 0,
                          dilation: int = 1, ax=None, title: bool = True):
    """Where the window lands on a ``size x size`` input for the first two output positions of the
    top row and the last one: input cells white, padding grey, the kernel's taps as coloured squares.

    Draws into ``ax`` (or a new figure) and returns the axes.
    """
    out = conv_output_size(size, kernel_size, stride, padding, dilation)
    if ax is None:
        ax = _new_figure(2.4, 2.6, 80).add_subplot()
    full = size + 2 * padding
    ax.add_patch(Rectangle((-0.5, -0.5), full, full, facecolor="#cccccc", edgecolor="none"))
    ax.add_patch(Rectangle((padding - 0.5, padding - 0.5), size, size, facecolor="white", edgecolor="black"))
    for line in range(full + 1):
        ax.plot([line - 0.5] * 2, [-0.5, full - 0.5], color="#999999", linewidth=0.4)
        ax.plot([-0.5, full - 0.5], [line - 0.5] * 2, color="#999999", linewidth=0.4)
    shown = [(0, 0), (0, 1), (out - 1, out - 1)] if out > 1 else [(0, 0)]
    for (i, j), colour, inset in zip(shown, ("tab:blue", "tab:orange", "tab:green"), (0.08, 0.2, 0.32)):
        for a in range(kernel_size):
            for b in range(kernel_size):
                y, x = i * stride + a * dilation, j * stride + b * dilation
                ax.add_patch(Rectangle((x - 0.5 + inset, y - 0.5 + inset), 1 - 2 * inset, 1 - 2 * inset,
                                       facecolor=colour, alpha=0.75, edgecolor="none"))
    ax.set_xlim(-0.6, full - 0.4)
    ax.set_ylim(full - 0.4, -0.6)
    ax.set_aspect("equal")
    ax.set_xticks([]), ax.set_yticks([])
    if title:
        ax.set_title(f"k={kernel_size} s={stride} p={padding} d={dilation}\noutput {out} x {out}", fontsize=8)
    return ax

"""A convolution you can play with in the page itself, with no Python behind it (chapter 2).

:class:`ConvolutionView` is an anywidget: Python passes the data (image, kernel, bias, stride,
padding, dilation, the output position) as plain traits, and the front end,
``convolution_view.js``, computes the window, the elementwise product, the per-channel sums, the
bias and the output map, and draws them. So the same widget runs live in JupyterLab, Notebook 7
and Colab, and in the static HTML book, where its last state is embedded in the page.

From Python, ``view.row`` and ``view.col`` move the window, ``view.kernel`` holds the kernel
(edits made in the browser come back here in a live notebook), and ``view.shown`` is the step the
view shows, computed by :mod:`course_utils.teaching.widgets` with torch, so a cell can compare
it with ``F.conv2d``. Where no JavaScript runs (a PDF), the view falls back to a picture of the
same step, drawn by ``widgets.SlidingKernel``.
"""
from __future__ import annotations

import base64
from pathlib import Path

import anywidget
import torch
import traitlets

from course_utils.cnn.conv import KERNELS, conv_output_size
from course_utils.teaching.widgets import SlidingKernel, Step

FRONT_END = Path(__file__).with_name("convolution_view.js")


def _nested(tensor: torch.Tensor, ndim: int, what: str) -> torch.Tensor:
    """``tensor`` as float32 with ``ndim`` dimensions (a missing channel axis is added)."""
    tensor = torch.as_tensor(tensor, dtype=torch.float32)
    if tensor.ndim == ndim - 1:
        tensor = tensor[None]
    if tensor.ndim != ndim:
        shape = "C x H x W or H x W" if what == "image" else "C x k x k or k x k"
        raise ValueError(f"expected the {what} as {shape}, got shape {tuple(tensor.shape)}")
    if not torch.isfinite(tensor).all():
        raise ValueError(f"the {what} has NaN or infinite values")
    return tensor


class ConvolutionView(anywidget.AnyWidget):
    """One output channel of a convolution, drawn and computed in the browser.

    ``image: C x H x W`` (or ``H x W``), ``kernel: C x k x k`` (or ``k x k``, square), a scalar
    ``bias``; ``stride``, ``padding``, ``dilation`` as in ``F.conv2d``. ``fill="all"`` shows the
    whole output map at once (a kernel playground); the default fills it in up to the window.
    ``presets``: named ``k x k`` kernels offered in a menu (default: ``conv.KERNELS`` for 3 x 3).
    """

    _esm = FRONT_END
    image = traitlets.List().tag(sync=True)       # C x H x W
    kernel = traitlets.List().tag(sync=True)      # C x k x k
    bias = traitlets.Float(0.0).tag(sync=True)
    stride = traitlets.Int(1).tag(sync=True)
    padding = traitlets.Int(0).tag(sync=True)
    dilation = traitlets.Int(1).tag(sync=True)
    row = traitlets.Int(0).tag(sync=True)
    col = traitlets.Int(0).tag(sync=True)
    fill = traitlets.Unicode("sliding").tag(sync=True)
    presets = traitlets.Dict().tag(sync=True)
    description = traitlets.Unicode("").tag(sync=True)   # what the view shows, for screen readers

    def __init__(self, image, kernel, bias: float = 0.0, stride: int = 1, padding: int = 0,
                 dilation: int = 1, fill: str = "sliding", presets: dict | None = None,
                 description: str = "") -> None:
        image, kernel = _nested(image, 3, "image"), _nested(kernel, 3, "kernel")
        _check_geometry(image, kernel, stride, padding, dilation)
        if fill not in ("sliding", "all"):
            raise ValueError(f"fill must be 'sliding' or 'all', got {fill!r}")
        if presets is None:
            presets = KERNELS if kernel.shape[1:] == (3, 3) else {}
        # Four decimals are plenty for a picture and keep a large photo's page light (rounded in
        # float64: a float32 prints with all its digits); the view and `shown` compute with these.
        super().__init__(image=image.double().round(decimals=4).tolist(), kernel=kernel.tolist(),
                         bias=float(bias), stride=stride, padding=padding, dilation=dilation, fill=fill,
                         presets={name: torch.as_tensor(k, dtype=torch.float32).tolist()
                                  for name, k in presets.items()},
                         description=description or "A convolution: the image with the window, "
                         "each channel's window, kernel and product, and the output map.")

    @traitlets.validate("row", "col")
    def _inside(self, proposal):
        limit = self.output_shape[0 if proposal["trait"].name == "row" else 1]
        if not 0 <= proposal["value"] < limit:
            raise traitlets.TraitError(f"{proposal['trait'].name} must be in 0..{limit - 1} for "
                                       f"an output of {self.output_shape}, got {proposal['value']}")
        return proposal["value"]

    @property
    def output_shape(self) -> tuple[int, int]:
        """``(H_out, W_out)`` of the output map."""
        h, w, k = len(self.image[0]), len(self.image[0][0]), len(self.kernel[0])
        return (conv_output_size(h, k, self.stride, self.padding, self.dilation),
                conv_output_size(w, k, self.stride, self.padding, self.dilation))

    def sliding_kernel(self) -> SlidingKernel:
        """The same convolution as a ``widgets.SlidingKernel``: torch's numbers, matplotlib's picture."""
        if getattr(self, "_sliding", None) is None:   # built once per image, kernel and geometry
            self._sliding = SlidingKernel(torch.tensor(self.image), torch.tensor(self.kernel), self.bias,
                                          self.stride, self.padding, dilation=self.dilation)
        return self._sliding

    @traitlets.observe("image", "kernel", "bias", "stride", "padding", "dilation")
    def _forget_sliding_kernel(self, _change) -> None:
        self._sliding = None

    @property
    def shown(self) -> Step:
        """The step at ``(row, col)``, as the view shows it (computed with torch)."""
        return self.sliding_kernel().step(self.row, self.col)

    def describe(self, step: Step | None = None) -> str:
        """The last two steps written out, as under the view (default: the step shown)."""
        picture = self.sliding_kernel()
        return picture.describe(picture.step(self.row, self.col) if step is None else step)

    def _repr_mimebundle_(self, **kwargs):
        bundle = super()._repr_mimebundle_(**kwargs)
        # What a reader without JavaScript sees: the same step as a picture.
        data = bundle[0] if isinstance(bundle, tuple) else bundle
        png = self.sliding_kernel().picture(self.row, self.col)
        data["image/png"] = base64.b64encode(png).decode("ascii")
        return bundle


def _check_geometry(image: torch.Tensor, kernel: torch.Tensor, stride: int, padding: int,
                    dilation: int) -> None:
    """Clear errors before anything reaches the browser."""
    if kernel.shape[1] != kernel.shape[2]:
        raise ValueError(f"expected a square kernel (C x k x k), got shape {tuple(kernel.shape)}")
    if kernel.shape[0] != image.shape[0]:
        raise ValueError(f"the kernel needs one k x k slice per image channel: image "
                         f"{tuple(image.shape)}, kernel {tuple(kernel.shape)}")
    if min(stride, dilation) < 1 or padding < 0:
        raise ValueError(f"expected stride >= 1, dilation >= 1, padding >= 0, got stride {stride}, "
                         f"dilation {dilation}, padding {padding}")
    reach = dilation * (kernel.shape[1] - 1) + 1
    if reach > min(image.shape[1:]) + 2 * padding:
        raise ValueError(f"the kernel reaches {reach} pixels but the padded image is only "
                         f"{min(image.shape[1:]) + 2 * padding}: kernel {tuple(kernel.shape)}, "
                         f"image {tuple(image.shape)}, padding {padding}, dilation {dilation}")

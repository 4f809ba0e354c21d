"""Receptive fields: which input pixels a unit of each layer can see (chapter 4).

Receptive-field arithmetic (Dang Ha The Hien, "A guide to receptive field arithmetic", 2017)
walks the layers in order and keeps three numbers, all in input pixels:

- ``jump`` ``j``: the distance between two neighbouring units of the layer, ``j_out = j_in * s``;
- ``size`` ``r``: the side of the square a unit sees, ``r_out = r_in + (k - 1) * d * j_in``;
- ``start``: the centre of the receptive field of the unit at position 0,
  ``start_out = start_in + ((k - 1) / 2 * d - p) * j_in``;

for a layer with kernel ``k``, stride ``s``, padding ``p`` and dilation ``d``. Elementwise layers
(ReLU, ...) and flattening (a reshape: each value still comes from the same pixels) change
nothing; global pooling and linear layers see the whole input.
:func:`gradient_receptive_field` measures the same thing independently, from gradients.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from course_utils.cnn.conv import conv_output_size
from course_utils.interp.hooks import forward_to
from course_utils.cnn.layers import get_layer
from course_utils.cnn.linearity import linearized
from course_utils.cnn.models import ACTIVATIONS

# Layers that act on each value separately, or only reorder values (Flatten): they keep the
# receptive field as it is.
_ELEMENTWISE = (*ACTIVATIONS.values(), nn.Dropout, nn.Dropout2d, nn.BatchNorm2d, nn.Flatten)


@dataclass(frozen=True)
class ReceptiveField:
    """Receptive field of one layer's units, in input pixels.

    ``size``: side of the square seen by one unit; ``jump``: input distance between neighbouring
    units; ``start``: centre of unit (0, 0) (a half-integer after an even-sized pool);
    ``global_``: the layer sees the whole input (after global pooling or a linear layer).
    """

    layer: str
    size: int
    jump: int
    start: float
    global_: bool = False

    def centre(self, y: int, x: int) -> tuple[float, float]:
        """Input coordinates ``(row, column)`` of the centre of unit ``(y, x)``."""
        return self.start + y * self.jump, self.start + x * self.jump

    def box(self, y: int, x: int) -> tuple[int, int, int, int]:
        """``(top, left, bottom, right)`` input rows/columns seen by unit ``(y, x)``, bottom/right
        exclusive. It may reach outside the image (into the padding)."""
        cy, cx = self.centre(y, x)
        half = (self.size - 1) / 2
        top, left = round(cy - half), round(cx - half)
        return top, left, top + self.size, left + self.size

    def __str__(self) -> str:
        return "whole input" if self.global_ else f"{self.size}x{self.size}"

    def __repr__(self) -> str:
        extra = ", sees the whole input" if self.global_ else ""
        return f"ReceptiveField({self.layer!r}, size={self.size}, jump={self.jump}, start={self.start:g}{extra})"


# What the network's input sees: each pixel itself. Every receptive field grows from here.
PIXEL = ReceptiveField("input", 1, 1, 0.0)


def _first(value) -> int:
    """torch layers store sizes as ints or (h, w) pairs; the course's fields are square."""
    return int(value[0] if isinstance(value, (tuple, list)) else value)


def whole_input(layer: str, image_size: int) -> ReceptiveField:
    """The field of a layer that sees every pixel (after global pooling or a linear layer)."""
    return ReceptiveField(layer, image_size, image_size, (image_size - 1) / 2, True)


def next_field(field: ReceptiveField, layer: nn.Module, name: str, in_size: int, out_size: int,
               image_size: int) -> ReceptiveField:
    """The receptive field of ``layer``'s units, given ``field``, that of the units it reads.

    The one rule of the book, used by chapter 4's :func:`receptive_fields` and by chapter 1's
    layer tables (``architecture.summary``). ``in_size`` and ``out_size`` are the width of the
    layer's input and output maps (they tell an adaptive pool's window); ``image_size`` the
    width of the network's input. Raises ``ValueError`` for a layer with no rule.
    """
    adaptive = isinstance(layer, (nn.AdaptiveAvgPool2d, nn.AdaptiveMaxPool2d))
    if field.global_ or isinstance(layer, nn.Linear) or (
            adaptive and (out_size == 1 or in_size % out_size)):  # global, or uneven windows
        return whole_input(name, image_size)
    if adaptive:  # an even split: an ordinary k x k pool with stride k
        k = s = in_size // out_size
        p, d = 0, 1
    elif isinstance(layer, (nn.Conv2d, nn.MaxPool2d, nn.AvgPool2d)):
        k, s, p = _first(layer.kernel_size), _first(layer.stride), _first(layer.padding)
        d = _first(getattr(layer, "dilation", 1))
    elif isinstance(layer, _ELEMENTWISE):
        return ReceptiveField(name, field.size, field.jump, field.start)
    else:
        raise ValueError(f"layer {name!r} ({type(layer).__name__}) has no receptive-field rule; "
                         f"expected Conv2d, pooling, an elementwise layer, Flatten or Linear")
    return ReceptiveField(name, field.size + (k - 1) * d * field.jump, field.jump * s,
                          field.start + ((k - 1) / 2 * d - p) * field.jump)


def receptive_fields(model: nn.Module, image_size: int | None = None) -> dict[str, ReceptiveField]:
    """Receptive field of every named child of a sequential ``model`` (such as a ``ConvNet``).

    ``image_size`` (default ``model.image_size``) is needed for the global layers, whose field
    is the whole image. Returns ``{layer name: ReceptiveField}`` in layer order.
    """
    image_size = image_size if image_size is not None else getattr(model, "image_size", None)
    if image_size is None:
        raise ValueError("image_size is needed (the model has no image_size attribute)")
    field, width = PIXEL, image_size
    fields: dict[str, ReceptiveField] = {}
    for name, layer in model.named_children():
        out_width = _output_width(layer, width)
        field = fields[name] = next_field(field, layer, name, width, out_width, image_size)
        width = out_width
    return fields


def _output_width(layer: nn.Module, width: int) -> int:
    """The width of ``layer``'s output map for an input map ``width`` wide (no forward pass)."""
    if isinstance(layer, (nn.AdaptiveAvgPool2d, nn.AdaptiveMaxPool2d)):
        return _first(layer.output_size)
    if isinstance(layer, (nn.Conv2d, nn.MaxPool2d, nn.AvgPool2d)):
        return conv_output_size(width, _first(layer.kernel_size), _first(layer.stride),
                                _first(layer.padding), _first(getattr(layer, "dilation", 1)))
    return width


def gradient_receptive_field(
    model: nn.Module, layer: str, image_shape: tuple[int, int, int], y: int, x: int,
    channel: int = 0, linearize: bool = True, image: torch.Tensor | None = None,
) -> tuple[torch.Tensor, tuple[int, int, int, int] | None]:
    """Measure the receptive field of unit ``(channel, y, x)`` of ``layer`` from gradients.

    ``image_shape`` is ``(C, H, W)``. Returns the gradient magnitude ``H x W`` of the unit with
    respect to the input and the bounding box ``(top, left, bottom, right)`` (exclusive) of its
    non-zero entries, or ``None`` when the gradient is zero everywhere. The box is the
    receptive field clipped to the image. ``linearize=False`` keeps the real weights: then the
    magnitude map is the *effective* receptive field, which is smaller and centre-weighted.
    """
    get_layer(model, layer)  # fail early, listing the valid names
    net = linearized(model, unit_weights=True) if linearize else model.eval()
    if image is None:
        image = torch.rand(1, *image_shape, generator=torch.Generator().manual_seed(0))
    if tuple(image.shape) != (1, *image_shape):
        raise ValueError(f"image must have shape {(1, *image_shape)}, got {tuple(image.shape)}")
    image = image.detach().clone().requires_grad_(True)
    out = forward_to(net, image, layer)
    if out.ndim != 4:
        raise ValueError(f"layer {layer!r} has output shape {tuple(out.shape)}; expected N x C x H x W")
    out[0, channel, y, x].backward()
    magnitude = image.grad[0].abs().sum(0)
    rows, cols = torch.nonzero(magnitude > 0, as_tuple=True)
    if len(rows) == 0:
        return magnitude, None
    return magnitude, (int(rows.min()), int(cols.min()), int(rows.max()) + 1, int(cols.max()) + 1)


def clip_box(box: tuple[int, int, int, int], height: int, width: int) -> tuple[int, int, int, int]:
    """A ``(top, left, bottom, right)`` box cut to the image ``height x width``."""
    top, left, bottom, right = box
    return max(top, 0), max(left, 0), min(bottom, height), min(right, width)

"""Linearity, measured: additivity and homogeneity checks, and the collapse of a linear stack.

Introduced in chapter 3. A map ``W`` is linear when it preserves sums (additivity,
``W(x1 + x2) = W(x1) + W(x2)``) and scaling (homogeneity, ``W(a x) = a W(x)``). The checks
below do not prove either property; they measure, on given inputs, how far a function is from
it, as a relative error (0 = exact, float32 rounding gives about 1e-7).

A stack of convolutions with nothing in between is linear (affine with biases), so it collapses
into one convolution whose kernel is the full convolution of the layers' kernels. The stacks
here use the course's own :func:`~course_utils.cnn.conv.conv2d` with stride 1 and no padding
("valid"), where the collapse is exact everywhere; with zero padding it holds away from the
border only (see :func:`apply_stack`).
"""
from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Callable, Sequence

import torch
from torch import nn

from course_utils.cnn.conv import conv2d
from course_utils.cnn.models import ACTIVATIONS

TensorFn = Callable[[torch.Tensor], torch.Tensor]


# --- Measuring violations -------------------------------------------------------------------

def relative_error(got: torch.Tensor, expected: torch.Tensor) -> float:
    """``||got - expected|| / max(||got||, ||expected||)``: 0 when equal, scale-free otherwise.

    Relative, so that a deep stack whose outputs are 1e6 large is judged like one whose outputs
    are 1e-3 large. Computed in float64 so the measure adds no rounding of its own.
    """
    if got.shape != expected.shape:
        raise ValueError(f"shapes differ: got {tuple(got.shape)}, expected {tuple(expected.shape)}")
    got, expected = got.double(), expected.double()
    scale = max(got.norm().item(), expected.norm().item())
    return 0.0 if scale == 0 else (got - expected).norm().item() / scale


def additivity_violation(f: TensorFn, x1: torch.Tensor, x2: torch.Tensor) -> float:
    """How far ``f(x1 + x2)`` is from ``f(x1) + f(x2)`` (relative error, 0 for a linear ``f``)."""
    if x1.shape != x2.shape:
        raise ValueError(f"x1 and x2 must have the same shape, got {tuple(x1.shape)} and {tuple(x2.shape)}")
    return relative_error(f(x1 + x2), f(x1) + f(x2))


def homogeneity_violation(f: TensorFn, x: torch.Tensor, alpha: float) -> float:
    """How far ``f(alpha * x)`` is from ``alpha * f(x)`` (relative error, 0 for a linear ``f``)."""
    return relative_error(f(alpha * x), alpha * f(x))


def affine_offset(f: TensorFn, like: torch.Tensor) -> torch.Tensor:
    """``f(0)`` for a zero input shaped like ``like``: the part of an affine map that is not linear.

    For an affine ``f(x) = W x + b``, ``f(x1 + x2) - f(x1) - f(x2) = -f(0)`` exactly, and
    ``x -> f(x) - f(0)`` is linear again.
    """
    return f(torch.zeros_like(like))


# --- Stacks of convolutions -----------------------------------------------------------------

@dataclass
class ConvLayer:
    """One convolution: ``weight: C_out x C_in x k_h x k_w`` and an optional ``bias: C_out``."""

    weight: torch.Tensor
    bias: torch.Tensor | None = None

    def __repr__(self) -> str:
        return f"ConvLayer(weight {tuple(self.weight.shape)}, bias {'none' if self.bias is None else tuple(self.bias.shape)})"


def random_conv_stack(depth: int, channels: int | Sequence[int] = 1, kernel_size: int = 3,
                      bias: bool = False, gain: float = 1.0, seed: int = 0) -> list[ConvLayer]:
    """``depth`` random convolutions; ``channels`` is one width for all or the ``depth + 1`` widths.

    Weights are Gaussian with standard deviation ``gain / sqrt(fan_in)``, fan_in = C_in k^2:
    with ``gain = 1`` a linear layer keeps the variance of a zero-mean input, so a deep stack
    neither explodes nor vanishes on average (the scale the stability section varies).
    Biases, when asked for, are drawn from the same distribution as the weights.
    """
    if depth < 1 or kernel_size < 1:
        raise ValueError(f"need depth >= 1 and kernel_size >= 1, got depth={depth}, kernel_size={kernel_size}")
    widths = [channels] * (depth + 1) if isinstance(channels, int) else list(channels)
    if len(widths) != depth + 1:
        raise ValueError(f"channels must be an int or {depth + 1} widths (input + one per layer), got {len(widths)}")
    g = torch.Generator().manual_seed(seed)
    layers = []
    for c_in, c_out in zip(widths[:-1], widths[1:]):
        std = gain / (c_in * kernel_size**2) ** 0.5
        weight = torch.randn(c_out, c_in, kernel_size, kernel_size, generator=g) * std
        b = torch.randn(c_out, generator=g) * std if bias else None
        layers.append(ConvLayer(weight, b))
    return layers


def apply_stack(x: torch.Tensor, layers: Sequence[ConvLayer], activation: TensorFn | None = None,
                padding: int | Sequence[int] = 0) -> torch.Tensor:
    """Run ``x: N x C x H x W`` through the convolutions, with ``activation`` between them.

    The activation goes between layers, not after the last one: the question is whether
    anything nonlinear separates the convolutions. ``padding`` (one per layer, or one for all)
    defaults to 0, where the stack equals :func:`compose_stack`'s single convolution exactly;
    with zero padding each layer sees zeros where the single convolution would see values
    computed from the image, so the two agree only at positions whose receptive field lies
    inside the image.
    """
    pads = [padding] * len(layers) if isinstance(padding, int) else list(padding)
    if len(pads) != len(layers):
        raise ValueError(f"need one padding per layer ({len(layers)}), got {len(pads)}")
    for i, (layer, pad) in enumerate(zip(layers, pads)):
        x = conv2d(x, layer.weight, layer.bias, padding=pad)
        if activation is not None and i < len(layers) - 1:
            x = activation(x)
    return x


# --- The collapse ---------------------------------------------------------------------------

def composed_kernel_size(kernel_sizes: Sequence[int]) -> int:
    """Side of the single kernel equal to stride-1 convolutions of these sizes: ``sum(k) - (n - 1)``.

    Each layer widens the window by ``k - 1`` pixels; two 3 x 3 layers see 5 x 5.
    """
    if not kernel_sizes or min(kernel_sizes) < 1:
        raise ValueError(f"need at least one kernel size, all >= 1, got {list(kernel_sizes)}")
    return sum(kernel_sizes) - (len(kernel_sizes) - 1)


def compose_kernels(first: torch.Tensor, second: torch.Tensor) -> torch.Tensor:
    """The kernel of "``first``, then ``second``" as one convolution (stride 1, no padding).

    Shapes: ``first: C1 x C0 x k1 x k1``, ``second: C2 x C1 x k2 x k2`` -> ``C2 x C0 x (k1+k2-1) x (k1+k2-1)``.
    Writing out ``second`` applied to ``first``'s output gives
    ``K[c2, c0, u, v] = sum_{c1, a, b} second[c2, c1, a, b] * first[c1, c0, u - a, v - b]``:
    a *full* (flipped, zero-padded) convolution of the two kernels, summed over the middle
    channels. Cross-correlation with the flipped ``second`` over ``first`` padded by ``k2 - 1`` is
    exactly that, so :func:`conv2d` computes it, with ``C0`` playing the batch.
    """
    if first.ndim != 4 or second.ndim != 4:
        raise ValueError(f"kernels must be C_out x C_in x k x k, got {tuple(first.shape)} and {tuple(second.shape)}")
    if second.shape[1] != first.shape[0]:
        raise ValueError(
            f"second kernel expects {second.shape[1]} input channels but the first produces {first.shape[0]} "
            f"(shapes {tuple(first.shape)} then {tuple(second.shape)})"
        )
    kh, kw = second.shape[2] - 1, second.shape[3] - 1
    as_images = first.transpose(0, 1)  # C0 x C1 x k1 x k1: one "image" per input channel
    composed = conv2d(as_images, second.flip(2, 3), padding=(kh, kw))  # C0 x C2 x K x K
    return composed.transpose(0, 1).contiguous()


def compose_bias(first_bias: torch.Tensor | None, second: ConvLayer) -> torch.Tensor | None:
    """Bias of "a layer with ``first_bias``, then ``second``" as one affine convolution.

    A constant map ``b1`` through ``second`` (no padding) is constant again:
    ``sum_{c1} (sum of second.weight[c2, c1]) * b1[c1]``; then ``second.bias`` adds on.
    """
    total = second.bias
    if first_bias is not None:
        carried = second.weight.sum(dim=(2, 3)) @ first_bias  # C2
        total = carried if total is None else total + carried
    return total


def compose_stack(layers: Sequence[ConvLayer]) -> ConvLayer:
    """One convolution equal to the whole stack without nonlinearities (stride 1, no padding).

    Its kernel side is :func:`composed_kernel_size` of the layers' sizes. With biases the stack
    is affine and so is the result: ``apply_stack(x, layers) == conv2d(x, K.weight, K.bias)``.
    """
    if not layers:
        raise ValueError("need at least one layer to compose")
    combined = ConvLayer(layers[0].weight, layers[0].bias)
    for layer in layers[1:]:
        combined = ConvLayer(compose_kernels(combined.weight, layer.weight), compose_bias(combined.bias, layer))
    return combined


# --- A network without its nonlinearities ---------------------------------------------------

_NONLINEAR = tuple(layer for name, layer in ACTIVATIONS.items() if name != "identity")


def linearized(model: nn.Module, unit_weights: bool = False) -> nn.Module:
    """A copy of a sequential ``model`` without its nonlinearities: every activation layer
    (``models.ACTIVATIONS``) becomes an identity, every max pool an average pool of its size.

    What is left is affine, so the effect of an earlier unit on a later one is one fixed number,
    the *expanded weight* of chapter 5b. With ``unit_weights`` every convolution weight also
    becomes 1 and every bias 0: then a gradient reaches every pixel a unit *could* depend on (its
    receptive field, chapter 4), where a dead ReLU or an unselected max-pool input would hide
    pixels in the real network. ``model`` itself is left as it is.
    """
    clone = copy.deepcopy(model).eval()
    for name, layer in list(clone.named_children()):
        if isinstance(layer, nn.MaxPool2d):
            setattr(clone, name, nn.AvgPool2d(layer.kernel_size, layer.stride, layer.padding))
        elif isinstance(layer, _NONLINEAR):
            setattr(clone, name, nn.Identity())
        elif unit_weights and isinstance(layer, nn.Conv2d):
            with torch.no_grad():
                layer.weight.fill_(1.0)
                if layer.bias is not None:
                    layer.bias.zero_()
    return clone

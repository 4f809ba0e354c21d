"""A task that no linear CNN can solve, the small CNN used on it, and tools to see what it learned.

Introduced in chapter 3. :func:`polarity_xor` labels bars by orientation XOR contrast polarity:
bright horizontal and dark vertical bars are class 0, dark horizontal and bright vertical bars
class 1. For any linear (or affine) network, flipping a bar's polarity flips the sign of its
evidence, so whatever it says for one polarity it says the opposite for the other: the classic
XOR argument. With global average pooling a linear CNN is even weaker: it sees (almost) only
the mean brightness, which tells the polarity and nothing about the label.
"""
from __future__ import annotations

import math

import torch

from .datasets import ImageDataset
from .models import ConvNet
from .synthetic import oriented_lines

# conv5(8) -> act -> 2x2 average pool -> conv3(16) -> act -> global average pool -> fc.
# Average pooling (not max pooling) so that with activation="identity" the whole net is affine:
# max pooling is a nonlinearity of its own.
XOR_NET_CONFIG: tuple[list, list[int]] = ([8, "A", 16, "G"], [5, 3])
XOR_CLASSES = ["bright horizontal or dark vertical", "dark horizontal or bright vertical"]


def polarity_xor(n: int = 1200, size: int = 24, seed: int = 0, max_tilt_degrees: float = 20.0) -> ImageDataset:
    """Bars on a mid-grey background, bright or dark, near-horizontal or near-vertical.

    Images ``n x 1 x size x size`` in [0, 1]: ``0.5 + 0.5 * polarity * line`` with ``polarity``
    in {-1, +1} and ``line`` a stroke from :func:`~course_utils.synthetic.oriented_lines`. Bars
    tilted more than ``max_tilt_degrees`` from both axes are dropped so the orientation is never
    ambiguous. Label = ``vertical XOR bright``. ``params``: angle, bright (0/1), vertical (0/1).
    """
    if not 0 < max_tilt_degrees < 45:
        raise ValueError(f"max_tilt_degrees must be in (0, 45), got {max_tilt_degrees}")
    kept_share = max_tilt_degrees / 45  # the fraction of uniform angles within the tilt of an axis
    lines = oriented_lines(n=math.ceil(1.3 * n / kept_share) + 20, size=size, n_orientations=2, seed=seed)
    angle = torch.remainder(lines.params["angle"], math.pi)
    off_axis = torch.minimum(torch.remainder(angle, math.pi / 2), math.pi / 2 - torch.remainder(angle, math.pi / 2))
    keep = torch.nonzero(off_axis <= math.radians(max_tilt_degrees)).flatten()[:n]
    if len(keep) < n:  # cannot happen with the margin above; guards a future change of oriented_lines
        raise RuntimeError(f"only {len(keep)} of {n} bars were close enough to an axis")
    g = torch.Generator().manual_seed(seed + 1)
    bright = torch.randint(2, (n,), generator=g)
    vertical = lines.labels[keep]  # oriented_lines with 2 bins: 0 = 0 deg (horizontal), 1 = 90 deg
    sign = (2 * bright - 1).float().view(-1, 1, 1, 1)
    images = 0.5 + 0.5 * sign * lines.images[keep]
    params = {"angle": lines.params["angle"][keep], "bright": bright, "vertical": vertical}
    return ImageDataset(images, vertical ^ bright, list(XOR_CLASSES), params, name="polarity_xor")


def xor_net(activation: str = "relu", size: int = 24, seed: int = 0) -> ConvNet:
    """The small CNN of :data:`XOR_NET_CONFIG` with ``activation`` after each convolution."""
    torch.manual_seed(seed)
    config, kernels = XOR_NET_CONFIG
    return ConvNet(config, kernels, in_channels=1, num_classes=2, image_size=size, activation=activation)


def logit_margin(model: torch.nn.Module, images: torch.Tensor) -> torch.Tensor:
    """``logit[class 1] - logit[class 0]`` for each of ``images: N x C x H x W`` -> ``N``."""
    logits = model(images)
    return logits[:, 1] - logits[:, 0]


def input_gradients(model: torch.nn.Module, images: torch.Tensor) -> torch.Tensor:
    """Gradient of :func:`logit_margin` with respect to each image: ``N x C x H x W``.

    For an affine network this is the same template for every image (the network *is* one dot
    product with it); for a ReLU network it changes with the input.
    """
    images = images.detach().clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(logit_margin(model, images).sum(), images)
    return grad


def correlation(a: torch.Tensor, b: torch.Tensor) -> float:
    """Pearson correlation of two 1-D tensors of equal length."""
    if a.shape != b.shape or a.ndim != 1:
        raise ValueError(f"need two 1-D tensors of equal length, got {tuple(a.shape)} and {tuple(b.shape)}")
    a, b = a.double() - a.double().mean(), b.double() - b.double().mean()
    return (a @ b / (a.norm() * b.norm())).item()

"""Activation functions: a gallery with derivatives, and what they do to values through depth.

Introduced in chapter 3. The names match :data:`course_utils.cnn.models.ACTIVATIONS`, so a
function here is the one the course's models use. Derivatives come from autograd (the test
suite checks them against the closed forms). :func:`depth_statistics` pushes a batch through a
deep stack of random convolutions and records, layer by layer, how large the values are and
how many are exactly zero: the numbers behind "exploding", "vanishing" and "dead ReLUs".
:func:`weight_gradient_norms` measures the same for the backward pass of a real network.
"""
from __future__ import annotations

from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn

from course_utils.cnn.conv import conv2d
from course_utils.cnn.linearity import random_conv_stack
from course_utils.cnn.models import ACTIVATIONS

# One registry of activations, models.ACTIVATIONS (name -> nn.Module class); a layer instance is a
# function of its input, so the functions are those layers.
ACTIVATION_FUNCTIONS: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    name: layer() for name, layer in ACTIVATIONS.items()}


def get_activation(name: str) -> Callable[[torch.Tensor], torch.Tensor]:
    """The activation function called ``name`` (a key of :data:`ACTIVATION_FUNCTIONS`)."""
    if name not in ACTIVATION_FUNCTIONS:
        raise ValueError(f"unknown activation {name!r}; valid: {', '.join(ACTIVATION_FUNCTIONS)}")
    return ACTIVATION_FUNCTIONS[name]


def derivative(name: str, x: torch.Tensor) -> torch.Tensor:
    """``d activation / dx`` at every element of ``x`` (any shape), by autograd.

    Elementwise functions have a diagonal Jacobian, so the gradient of the *sum* of the outputs
    is exactly the vector of derivatives. At ``x = 0`` ReLU's derivative is taken as 0 (torch's choice).
    """
    x = x.detach().double().requires_grad_(True)
    (grad,) = torch.autograd.grad(get_activation(name)(x).sum(), x)
    return grad.to(torch.get_default_dtype())


def gallery(x: torch.Tensor | None = None) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    """``{name: (values, derivatives)}`` on the grid ``x`` (default: 401 points from -4 to 4)."""
    x = torch.linspace(-4, 4, 401) if x is None else x
    return {name: (fn(x), derivative(name, x)) for name, fn in ACTIVATION_FUNCTIONS.items()}


# --- Through depth --------------------------------------------------------------------------

def standardize(x: torch.Tensor, eps: float = 1e-5) -> torch.Tensor:
    """Per channel, subtract the batch mean and divide by the batch std (batch norm without its
    learned scale and shift). ``x: N x C x H x W``; statistics over N, H and W."""
    mean = x.mean(dim=(0, 2, 3), keepdim=True)
    var = x.var(dim=(0, 2, 3), keepdim=True, unbiased=False)
    return (x - mean) / (var + eps).sqrt()


def dead_fraction(pre_activation: torch.Tensor) -> float:
    """Fraction of channels whose pre-activation is <= 0 for every image and position.

    ``pre_activation: N x C x H x W``. Such a channel outputs 0 after a ReLU on all of this
    data, and since ReLU's derivative is 0 there, no gradient reaches its weights: it cannot
    learn its way back. (A channel dead on this batch may still fire on other inputs.)
    """
    if pre_activation.ndim != 4:
        raise ValueError(f"expected N x C x H x W, got shape {tuple(pre_activation.shape)}")
    alive = (pre_activation > 0).flatten(2).any(dim=2).any(dim=0)  # C
    return 1.0 - alive.float().mean().item()


@torch.no_grad()
def depth_statistics(x: torch.Tensor, depth: int = 20, activation: str = "relu", channels: int = 32,
                     kernel_size: int = 3, gain: float = 1.0, normalize: bool = False,
                     seed: int = 0) -> list[dict[str, float]]:
    """Push ``x: N x C x H x W`` through ``depth`` random convolutions and record each layer.

    Each layer is convolution -> (``standardize`` if ``normalize``) -> ``activation``, with
    weights from :func:`~course_utils.cnn.linearity.random_conv_stack` (std ``gain / sqrt(fan_in)``).
    Padding is circular (the image wraps around), so the size stays fixed and no zeros leak in
    at the border: the scale then reflects the weights and the activation alone.
    Returns one dict per layer (after its activation): ``std``, ``rms`` (root mean square),
    ``mean``, ``max_abs``, ``zero_fraction`` (values exactly 0) and ``dead_fraction`` (channels
    never positive before the activation, see :func:`dead_fraction`).
    """
    act = get_activation(activation)
    widths = [x.shape[1]] + [channels] * depth
    layers = random_conv_stack(depth, widths, kernel_size, bias=False, gain=gain, seed=seed)
    rows = []
    for layer in layers:
        pad = kernel_size // 2
        pre = conv2d(F.pad(x, [pad] * 4, mode="circular"), layer.weight)
        if normalize:
            pre = standardize(pre)
        x = act(pre)
        rows.append({
            "std": x.std().item(), "rms": x.square().mean().sqrt().item(), "mean": x.mean().item(), "max_abs": x.abs().max().item(),
            "zero_fraction": (x == 0).float().mean().item(), "dead_fraction": dead_fraction(pre),
        })
    return rows


# --- Gradients through depth ----------------------------------------------------------------

def weight_gradient_norms(model: nn.Module, images: torch.Tensor, labels: torch.Tensor) -> dict[str, float]:
    """``{layer name: ||d loss / d weight||}`` for every convolution of ``model``, in order.

    The loss is the mean cross-entropy of ``model(images: N x C x H x W)`` against
    ``labels: N``, computed in training mode (batch norm normalises with the batch's own
    statistics, as it does in training); the model's mode, buffers (batch norm's running
    statistics) and ``.grad`` fields are left as they were. A small norm in the first layers
    and a large one in the last is a vanishing gradient: training can hardly move the early
    weights.
    """
    convs = {name: layer for name, layer in model.named_modules() if isinstance(layer, nn.Conv2d)}
    if not convs:
        raise ValueError(f"{type(model).__name__} has no nn.Conv2d layer to measure")
    if labels.shape != images.shape[:1]:
        raise ValueError(f"need one label per image: {len(images)} images, labels of shape "
                         f"{tuple(labels.shape)}")
    was_training, buffers = model.training, [b.clone() for b in model.buffers()]
    model.train()
    try:
        loss = F.cross_entropy(model(images), labels)
        grads = torch.autograd.grad(loss, [layer.weight for layer in convs.values()])
    finally:
        model.train(was_training)
        with torch.no_grad():   # a training-mode forward updated the running statistics
            for buffer, saved in zip(model.buffers(), buffers):
                buffer.copy_(saved)
    return {name: grad.norm().item() for name, grad in zip(convs, grads)}

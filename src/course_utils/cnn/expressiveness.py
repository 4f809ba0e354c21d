"""A task no linear CNN can solve, and tools to see what the small CNN trained on it learned.

Introduced in chapter 3. The task: is a step edge horizontal or vertical, whichever side is
bright (:func:`~course_utils.data.synthetic.oriented_edges` with two orientation bins)? Flipping
the contrast, ``x -> 1 - x``, keeps the label. For any affine network ``f`` it mirrors the
output instead: ``f(1 - x) = f(1) + f(0) - f(x)`` (see :func:`mirror_sum`), so an edge and its
flipped twin always get opposite evidence, and no threshold puts both on the right side. A ReLU
network can build ``relu(e) + relu(-e) = |e|``: edge evidence that ignores polarity.

The two networks of the chapter, with and without ReLU, are zoo models (``edges_relu`` and
``edges_identity``, :mod:`course_utils.cnn.zoo`), trained once like every other model.
"""
from __future__ import annotations

import torch


def logit_margin(model: torch.nn.Module, images: torch.Tensor) -> torch.Tensor:
    """``logit[class 1] - logit[class 0]`` for ``images: N x C x H x W`` -> ``N`` (> 0 means class 1)."""
    logits = model(images)
    return logits[:, 1] - logits[:, 0]


def mirror_sum(model: torch.nn.Module, images: torch.Tensor) -> torch.Tensor:
    """``margin(x) + margin(1 - x)`` per image, ``N``: one constant for every image when the model is affine."""
    with torch.no_grad():
        return logit_margin(model, images) + logit_margin(model, 1 - images)


def input_gradients(model: torch.nn.Module, images: torch.Tensor) -> torch.Tensor:
    """Gradient of :func:`logit_margin` with respect to each image: ``N x C x H x W``.

    For an affine network this is one template, the same for every image (the network *is* a
    dot product with it, plus a constant); for a ReLU network it changes with the input.
    """
    images = images.detach().clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(logit_margin(model, images).sum(), images)
    return grad


def correlation(a: torch.Tensor, b: torch.Tensor) -> float:
    """Pearson correlation of two 1-D tensors of equal length."""
    if a.shape != b.shape or a.ndim != 1:
        raise ValueError(f"need two 1-D tensors of equal length, got {tuple(a.shape)} and {tuple(b.shape)}")
    return torch.corrcoef(torch.stack([a, b]).double())[0, 1].item()

"""A task no linear CNN can solve, the small CNN trained on it, and tools to see what it learned.

Introduced in chapter 3. The task: is a step edge horizontal or vertical, whichever side is
bright (:func:`~course_utils.data.synthetic.oriented_edges` with two orientation bins)? Flipping
the contrast, ``x -> 1 - x``, keeps the label. For any affine network ``f`` it mirrors the
output instead: ``f(1 - x) = f(1) + f(0) - f(x)`` (see :func:`mirror_sum`), so an edge and its
flipped twin always get opposite evidence, and no threshold puts both on the right side. A ReLU
network can build ``relu(e) + relu(-e) = |e|``: edge evidence that ignores polarity.
"""
from __future__ import annotations

import torch

from course_utils.data.datasets import ImageDataset
from course_utils.cnn.models import ConvNet
from course_utils.data.synthetic import oriented_edges
from course_utils.cnn.training import History, fit, seeded, torch_threads

# conv5(8) -> act -> 2x2 average pool -> conv3(16) -> act -> global average pool -> fc.
# Average pooling, not max pooling: with activation="identity" the whole net is then affine,
# while max pooling would be a nonlinearity of its own.
EDGE_NET_CONFIG: tuple[list, list[int]] = ([8, "A", 16, "G"], [5, 3])
# One setting for the chapter and the tests, so both look at the same trained networks.
EDGE_TRAINING = {"epochs": 12, "lr": 1e-2, "batch_size": 32}


def edge_task(n: int = 1200, size: int = 24, seed: int = 0, test_fraction: float = 0.25) -> tuple[ImageDataset, ImageDataset]:
    """(train, test) step edges of random angle, position and polarity; label 0 = horizontal, 1 = vertical."""
    return oriented_edges(n=n, size=size, n_orientations=2, seed=seed).split(test_fraction, seed=seed)


def edge_net(activation: str = "relu", size: int = 24, seed: int = 0) -> ConvNet:
    """The small CNN of :data:`EDGE_NET_CONFIG` with ``activation`` after each convolution."""
    config, kernels = EDGE_NET_CONFIG
    with seeded(seed):
        return ConvNet(config, kernels, in_channels=1, num_classes=2, image_size=size,
                       activation=activation)


def train_edge_net(activation: str, train: ImageDataset, test: ImageDataset, seed: int = 0) -> tuple[ConvNet, History]:
    """:func:`edge_net` trained with :func:`~course_utils.cnn.training.fit` and :data:`EDGE_TRAINING`.

    Returned on the CPU in eval mode (``fit`` may have used a GPU), ready for analysis. Trained on
    one CPU thread, like the model zoo, so the chapter and its tests get the same weights.
    """
    model = edge_net(activation, train.images.shape[-1], seed)
    with torch_threads(1):
        history = fit(model, train, test, seed=seed, progress=False, **EDGE_TRAINING)
    return model.cpu().eval(), history


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

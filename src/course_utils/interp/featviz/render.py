"""The feature-visualization loop: make images that maximize an objective.

Each step builds the images from the parameterization, applies the random transforms, runs the
model up to the layers the objective reads, and takes an Adam step *up* the objective. Finally
the objective is measured on the untransformed images and, when reference images are given,
next to its largest value on them: a visualization that far exceeds every real image is
probably exploiting the network (an adversarial pattern), not showing a typical input.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import torch
from torch import nn
from tqdm.auto import tqdm

from course_utils.interp.hooks import activations, check_eval_mode
from course_utils.cnn.layers import get_layer
from .objectives import Objective
from .param import ImageParam, image as make_image
from .transform import Transform, compose, standard_transforms


@dataclass
class Rendering:
    """The result of :func:`render`.

    ``images: N x C x H x W`` in [0, 1]; ``values: N`` the objective per image (untransformed);
    ``history``: the summed objective at each step; ``dataset_max``: the largest value of the
    objective on one reference image (``None`` without reference images).
    """

    images: torch.Tensor
    values: torch.Tensor
    history: list[float] = field(default_factory=list)
    dataset_max: float | None = None
    objective: str = ""

    @property
    def ratio_to_dataset(self) -> float | None:
        """Best achieved value divided by the dataset maximum (> 1: beyond any real image)."""
        if self.dataset_max is None or self.dataset_max == 0:
            return None
        return float(self.values.max()) / self.dataset_max

    def __repr__(self) -> str:
        ratio = self.ratio_to_dataset
        ref = "" if self.dataset_max is None else f", dataset max {self.dataset_max:.3g}"
        ref += "" if ratio is None else f" (ratio {ratio:.2f})"
        return f"Rendering({self.objective}: {len(self.images)} images, achieved {float(self.values.max()):.3g}{ref})"


@torch.no_grad()
def objective_values(model: nn.Module, objective: Objective, images: torch.Tensor, batch_size: int = 256) -> torch.Tensor:
    """The objective's value on each of ``images: N x C x H x W``, one at a time in batches: ``N``.

    Meaningful for objectives without a ``batch=`` index and without ``diversity``.
    """
    check_eval_mode(model)
    device = next(model.parameters()).device
    return torch.cat([objective(activations(model, images[i : i + batch_size].to(device), objective.layers)).cpu()
                      for i in range(0, len(images), batch_size)])


def render(
    model: nn.Module,
    objective: Objective,
    param: ImageParam | None = None,
    *,
    steps: int = 256,
    lr: float = 0.05,
    transforms: Sequence[Transform] | None = None,
    seed: int = 0,
    reference_images: torch.Tensor | None = None,
    progress: bool = True,
) -> Rendering:
    """Optimize ``param``'s images to maximize ``objective`` on ``model`` (in eval mode).

    The progress bar shows the objective (summed over the batch) and the dataset maximum.
    ``param`` defaults to one Fourier image of the model's input shape (``model.in_channels``,
    ``model.image_size``). ``transforms`` defaults to :func:`standard_transforms` for that size;
    pass ``[]`` for none. ``seed`` fixes the random transforms (and nothing else: the
    parameterization has its own seed). ``reference_images`` (e.g. the test set) give the
    dataset maximum to compare with.
    """
    check_eval_mode(model)
    for layer in objective.layers:
        get_layer(model, layer)  # an unknown name fails now, listing the valid ones
    if param is None:
        if not hasattr(model, "image_size"):
            raise ValueError("pass param=...: the model has no image_size / in_channels to default to")
        param = make_image(1, model.in_channels, model.image_size)
    dataset_max = None
    if reference_images is not None:  # first, so the progress bar can show it
        dataset_max = float(objective_values(model, objective, reference_images).max())
    param = param.to(next(model.parameters()).device)
    size = param.shape[2:]
    transform = compose(standard_transforms(size) if transforms is None else transforms)
    generator = torch.Generator().manual_seed(seed)
    optimizer = torch.optim.Adam(param.parameters(), lr=lr)
    # Only the image is optimized: freezing the weights saves computing their gradients.
    requires = [p.requires_grad for p in model.parameters()]
    for p in model.parameters():
        p.requires_grad_(False)
    history: list[float] = []
    try:
        bar = tqdm(range(steps), desc=f"render {objective.name}", disable=not progress, leave=False)
        for step in bar:
            images = transform(param(), generator)
            value = objective(activations(model, images, objective.layers)).sum()
            optimizer.zero_grad()
            (-value).backward()  # the optimizer minimizes, we want the maximum
            optimizer.step()
            history.append(float(value.detach()))
            if progress and step % 16 == 0:
                bar.set_postfix(value=f"{history[-1]:.3g}", dataset_max="-" if dataset_max is None else f"{dataset_max:.3g}")
    finally:
        for p, flag in zip(model.parameters(), requires):
            p.requires_grad_(flag)
    with torch.no_grad():
        final = param().detach()
        values = objective(activations(model, final, objective.layers))
    return Rendering(final.cpu(), values.detach().cpu(), history, dataset_max, objective.name)

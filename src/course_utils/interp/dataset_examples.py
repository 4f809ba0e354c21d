"""Dataset examples: the inputs that drive a unit most (and least), cut to what it sees (chapter 5a).

The simplest way to ask "what does this unit respond to?" is to look. For each image we keep
the position where the unit's channel responds most (one position per image, so one striking
image cannot fill the whole gallery with its neighbouring positions), rank the images, and cut
each one to the receptive field of the winning unit. Receptive fields near the border reach
outside the image, so images are padded before cropping and every crop has the same size.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from course_utils.interp.hooks import best_positions, record
from course_utils.cnn.receptive_field import receptive_fields


@dataclass
class DatasetExamples:
    """The ``k`` images that drive a unit most (``largest=True``) or least.

    ``indices: k`` into the image set, ``values: k`` the unit's activation, ``positions: k x 2``
    the winning ``(y, x)`` in the layer's map (``-1`` for a linear layer), ``crops: k x C x r x r``
    the receptive-field crops (whole images for a layer that sees everything).
    """

    layer: str
    channel: int
    largest: bool
    indices: torch.Tensor
    values: torch.Tensor
    positions: torch.Tensor
    crops: torch.Tensor

    def __repr__(self) -> str:
        kind = "top" if self.largest else "bottom"
        return (f"DatasetExamples({kind}-{len(self.indices)} of {self.layer}[{self.channel}], "
                f"values {self.values.min():.3g} .. {self.values.max():.3g}, crops {tuple(self.crops.shape[1:])})")


def crop_receptive_fields(images: torch.Tensor, boxes: list[tuple[int, int, int, int]], pad_value: float = 0.0) -> torch.Tensor:
    """Cut ``images: N x C x H x W`` to one ``(top, left, bottom, right)`` box each (same size
    for all, may reach outside the image, which is padded with ``pad_value``). Returns ``N x C x r x r``."""
    if len(images) != len(boxes):
        raise ValueError(f"need one box per image: {len(images)} images, {len(boxes)} boxes")
    if not boxes:
        return images[:, :, :0, :0]
    margin = max(max(-t, -l, b - images.shape[-2], r - images.shape[-1], 0) for t, l, b, r in boxes)
    padded = F.pad(images, [margin] * 4, value=pad_value)
    crops = [img[:, t + margin : b + margin, l + margin : r + margin] for img, (t, l, b, r) in zip(padded, boxes)]
    return torch.stack(crops)


def dataset_examples(
    model: nn.Module, images: torch.Tensor, layer: str, channel: int, k: int = 9,
    largest: bool = True, crop: bool = True, pad_value: float = 0.0, acts: torch.Tensor | None = None,
) -> DatasetExamples:
    """The ``k`` images of ``images: N x C x H x W`` on which ``layer``'s ``channel`` responds
    most (``largest=True``) or most negatively, one position per image, cropped to its receptive field.

    Pass ``acts`` (``record(model, images, layer)[layer]``) to reuse activations across channels.
    """
    if acts is None:
        acts = record(model, images, layer)[layer]
    if len(acts) != len(images):
        raise ValueError(f"acts has {len(acts)} rows but there are {len(images)} images")
    if not 0 <= channel < acts.shape[1]:
        raise ValueError(f"channel must be in [0, {acts.shape[1]}) for layer {layer!r}, got {channel}")
    if not 0 < k <= len(images):
        raise ValueError(f"k must be in [1, {len(images)}], got {k}")
    values, positions = best_positions(acts, channel, largest)
    order = values.argsort(descending=largest)[:k]
    chosen = images[order]
    if crop and acts.ndim == 4:
        fields = receptive_fields(model, images.shape[-1])
        if layer not in fields:
            raise ValueError(f"no receptive field for {layer!r} (only the model's direct children have one); "
                             f"pass crop=False for whole images")
        if not fields[layer].global_:
            boxes = [fields[layer].box(int(y), int(x)) for y, x in positions[order]]
            chosen = crop_receptive_fields(chosen, boxes, pad_value)
    return DatasetExamples(layer, channel, largest, order, values[order], positions[order], chosen)


def examples_by_range(values: torch.Tensor, n_bins: int = 5, per_bin: int = 4, seed: int = 0) -> list[torch.Tensor]:
    """Random image indices from ``n_bins`` equal-width ranges of a unit's ``values: N``, low to high.

    Top examples show only the extreme; a few random images per activation range show what
    *typical* weak, medium and strong responses look like. Empty ranges give empty tensors.
    """
    if n_bins < 1 or per_bin < 1:
        raise ValueError(f"n_bins and per_bin must be >= 1, got {n_bins}, {per_bin}")
    edges = torch.linspace(float(values.min()), float(values.max()), n_bins + 1)
    bins = torch.bucketize(values, edges[1:-1], right=True)  # 0 .. n_bins-1
    g = torch.Generator().manual_seed(seed)
    picks = []
    for b in range(n_bins):
        members = torch.nonzero(bins == b).flatten()
        picks.append(members[torch.randperm(len(members), generator=g)[:per_bin]])
    return picks

"""The one Dataset class every loader in `course_utils` returns.

Introduced in the foundation chapter: images are float32 tensors of shape N x C x H x W with
values in [0, 1], labels are int64 tensors of shape N, and generated data also carries the
parameters that made each image (``params``), so experiments can use the ground truth.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch.utils.data import DataLoader, Dataset


@dataclass
class ImageDataset(Dataset):
    """Images ``N x C x H x W`` (float32, [0, 1]), labels ``N`` (int64), optional per-image params."""

    images: torch.Tensor
    labels: torch.Tensor
    classes: list[str]
    params: dict[str, torch.Tensor] = field(default_factory=dict)
    name: str = "images"

    def __post_init__(self) -> None:
        if self.images.ndim != 4:
            raise ValueError(f"images must be N x C x H x W, got shape {tuple(self.images.shape)}")
        if self.labels.shape != (len(self.images),):
            raise ValueError(
                f"labels must have shape ({len(self.images)},), got {tuple(self.labels.shape)}"
            )
        for key, value in self.params.items():
            if len(value) != len(self.images):
                raise ValueError(f"param {key!r} has {len(value)} rows, expected {len(self.images)}")

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        return self.images[index], self.labels[index]

    @property
    def image_shape(self) -> tuple[int, int, int]:
        """``(C, H, W)`` of one image."""
        return tuple(self.images.shape[1:])

    def subset(self, index: torch.Tensor | slice) -> "ImageDataset":
        """A new dataset holding the rows ``index`` (a slice, index tensor or boolean mask)."""
        return ImageDataset(
            self.images[index],
            self.labels[index],
            self.classes,
            {k: v[index] for k, v in self.params.items()},
            self.name,
        )

    def split(self, test_fraction: float = 0.2, seed: int = 0) -> tuple["ImageDataset", "ImageDataset"]:
        """Shuffle with ``seed`` and split into (train, test)."""
        if not 0.0 < test_fraction < 1.0:
            raise ValueError(f"test_fraction must be in (0, 1), got {test_fraction}")
        order = torch.randperm(len(self), generator=torch.Generator().manual_seed(seed))
        n_test = max(1, int(round(len(self) * test_fraction)))
        return self.subset(order[n_test:]), self.subset(order[:n_test])

    def __repr__(self) -> str:
        return (
            f"ImageDataset({self.name!r}, images={tuple(self.images.shape)}, "
            f"classes={len(self.classes)}, params={sorted(self.params)})"
        )


def make_loader(
    dataset: Dataset, batch_size: int = 64, shuffle: bool = True, seed: int = 0, **kwargs
) -> DataLoader:
    """A DataLoader whose shuffling order depends only on ``seed`` (no worker processes)."""
    if batch_size <= 0:
        raise ValueError(f"batch_size must be positive, got {batch_size}")
    generator = torch.Generator().manual_seed(seed)
    return DataLoader(dataset, batch_size=batch_size, shuffle=shuffle, generator=generator, **kwargs)

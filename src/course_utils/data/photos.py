"""Real photographs that ship with scikit-image and matplotlib (offline), and random patches.

Photos are float32 tensors ``C x H x W`` in [0, 1] (C = 3 for colour, 1 for grey).
"""
from __future__ import annotations

import numpy as np
import torch

from course_utils.data.datasets import ImageDataset

# Name -> (source, loader name). All of these are bundled with the packages: no download.
PHOTO_NAMES = (
    "camera", "astronaut", "chelsea", "coffee", "rocket", "brick", "grass", "gravel",
    "moon", "coins", "horse", "clock", "text", "page", "immunohistochemistry",
    "hubble_deep_field", "cell", "grace_hopper",
)


def _load_array(name: str) -> np.ndarray:
    if name == "grace_hopper":
        import matplotlib.cbook
        from PIL import Image

        with matplotlib.cbook.get_sample_data("grace_hopper.jpg") as f:
            return np.asarray(Image.open(f).convert("RGB"))
    import skimage.data

    return np.asarray(getattr(skimage.data, name)())


# ITU-R 601 luma weights: how bright red, green and blue each look to people.
LUMA = (0.299, 0.587, 0.114)


def brightness(image: torch.Tensor) -> torch.Tensor:
    """Colour to grey: ``3 x H x W`` -> ``1 x H x W``, the channels mixed by :data:`LUMA`."""
    if image.ndim != 3 or image.shape[0] != 3:
        raise ValueError(f"expected a 3 x H x W colour image, got shape {tuple(image.shape)}")
    return (torch.tensor(LUMA).view(3, 1, 1) * image).sum(0, keepdim=True)


def photo(name: str, grayscale: bool = False, size: int | None = None) -> torch.Tensor:
    """One sample photo as ``C x H x W`` float32 in [0, 1]; ``size`` resizes the short side."""
    if name not in PHOTO_NAMES:
        raise ValueError(f"unknown photo {name!r}; valid names: {', '.join(PHOTO_NAMES)}")
    array = _load_array(name).astype(np.float32)
    if array.max() > 1.0:
        array = array / (255.0 if array.max() <= 255 else array.max())
    image = torch.tensor(array)
    image = image.unsqueeze(0) if image.ndim == 2 else image[..., :3].permute(2, 0, 1)
    if grayscale and image.shape[0] == 3:
        image = brightness(image)
    if not grayscale and image.shape[0] == 1:
        image = image.expand(3, -1, -1).clone()
    if size is not None:
        if size <= 0:
            raise ValueError(f"size must be positive, got {size}")
        scale = size / min(image.shape[-2:])
        new_hw = [max(1, round(s * scale)) for s in image.shape[-2:]]
        image = torch.nn.functional.interpolate(image[None], size=new_hw, mode="bilinear", antialias=True, align_corners=False)[0]
    return image.clamp(0, 1).contiguous()


def sample_photos(names=PHOTO_NAMES, grayscale: bool = False, size: int | None = 256) -> dict[str, torch.Tensor]:
    """Several photos by name, each ``C x H x W`` in [0, 1]."""
    return {name: photo(name, grayscale, size) for name in names}


def photo_patches(
    n: int = 2000, size: int = 32, seed: int = 0, grayscale: bool = True,
    names=PHOTO_NAMES, photo_size: int = 256,
) -> ImageDataset:
    """``n`` random ``size x size`` patches cut from the sample photos, label = which photo.

    Images ``n x C x size x size`` in [0, 1]; ``params`` holds each patch's photo index, top and
    left corner. A "which photo is this patch from" task makes first-layer filters oriented.
    """
    if n <= 0 or size <= 0:
        raise ValueError(f"n and size must be positive, got n={n}, size={size}")
    pictures = [photo(name, grayscale, photo_size) for name in names]
    too_small = [nm for nm, p in zip(names, pictures) if min(p.shape[-2:]) < size]
    if too_small:
        raise ValueError(f"size={size} is larger than photos {too_small} at photo_size={photo_size}")
    g = torch.Generator().manual_seed(seed)
    which = torch.randint(len(pictures), (n,), generator=g)
    tops, lefts, patches = [], [], []
    for k in which.tolist():
        h, w = pictures[k].shape[-2:]
        top = int(torch.randint(h - size + 1, (1,), generator=g))
        left = int(torch.randint(w - size + 1, (1,), generator=g))
        patches.append(pictures[k][:, top : top + size, left : left + size])
        tops.append(top)
        lefts.append(left)
    params = {"photo": which, "top": torch.tensor(tops), "left": torch.tensor(lefts)}
    return ImageDataset(torch.stack(patches), which.clone(), list(names), params, name="photo_patches")

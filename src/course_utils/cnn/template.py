"""Convolution as template matching: each output value is a dot product of a patch and the kernel.

Introduced in chapter 3. At output position ``(i, j)`` (stride 1, no padding) the convolution
computes ``<patch(i, j), kernel> = ||patch|| ||kernel|| cos(angle)``: large and positive when the
patch points the same way as the kernel. Among patches of a fixed norm the largest response
belongs to the kernel itself, rescaled (Cauchy-Schwarz): :func:`best_patch`. How well a
response map singles out where the pattern is, against noise elsewhere: :func:`detection_snr`.
"""
from __future__ import annotations

import torch

from course_utils.cnn.conv import conv2d


def extract_patches(images: torch.Tensor, kernel_size: int, stride: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
    """Every ``k x k`` window of ``images: N x C x H x W``, and where it came from.

    Returns ``patches: P x C x k x k`` and ``where: P x 3`` rows ``(image, top, left)``, ordered
    image by image, then row by row: the same order as a convolution's output with this stride.
    """
    if images.ndim != 4:
        raise ValueError(f"images must be N x C x H x W, got shape {tuple(images.shape)}")
    n, c, h, w = images.shape
    if kernel_size > min(h, w) or kernel_size < 1 or stride < 1:
        raise ValueError(f"need 1 <= kernel_size <= {min(h, w)} and stride >= 1, got kernel_size={kernel_size}, stride={stride}")
    windows = images.unfold(2, kernel_size, stride).unfold(3, kernel_size, stride)  # N x C x H_out x W_out x k x k
    h_out, w_out = windows.shape[2], windows.shape[3]
    patches = windows.permute(0, 2, 3, 1, 4, 5).reshape(-1, c, kernel_size, kernel_size)
    image_i, row, col = torch.meshgrid(torch.arange(n), torch.arange(h_out) * stride, torch.arange(w_out) * stride, indexing="ij")
    return patches, torch.stack([image_i.flatten(), row.flatten(), col.flatten()], dim=1)


def responses(patches: torch.Tensor, kernel: torch.Tensor) -> torch.Tensor:
    """Dot product of each of ``patches: P x C x k x k`` with ``kernel: C x k x k`` -> ``P``.

    This is exactly what ``conv2d`` computes at each patch's position (no bias).
    """
    if patches.shape[1:] != kernel.shape:
        raise ValueError(f"patches are {tuple(patches.shape[1:])} but the kernel is {tuple(kernel.shape)}")
    return patches.flatten(1) @ kernel.flatten()


def cosine_similarity(patches: torch.Tensor, kernel: torch.Tensor, center: bool = False, eps: float = 1e-12) -> torch.Tensor:
    """``cos(angle)`` between each of ``patches: P x C x k x k`` and ``kernel`` -> ``P``, in [-1, 1].

    The response divided by both norms: how much the patch *looks like* the kernel, whatever its
    contrast. ``center=True`` first subtracts each patch's mean: for a zero-mean kernel the mean
    brightness never changes the response, but it would inflate the patch's norm. A flat
    (zero-norm) patch gets 0.
    """
    if center:
        patches = patches - patches.mean(dim=(1, 2, 3), keepdim=True)
    norms = patches.flatten(1).norm(dim=1) * kernel.norm()
    return responses(patches, kernel) / norms.clamp_min(eps)


def best_patch(kernel: torch.Tensor, norm: float = 1.0) -> torch.Tensor:
    """The patch of the given ``norm`` with the largest response: ``norm * kernel / ||kernel||``.

    Cauchy-Schwarz: ``<p, w> <= ||p|| ||w||``, with equality only when ``p`` points along ``w``.
    So at fixed norm the best stimulus for a kernel is the kernel itself, and its response is
    ``norm * ||kernel||``.
    """
    length = kernel.norm()
    if length == 0:
        raise ValueError("an all-zero kernel responds 0 to every patch: no best patch")
    return norm * kernel / length


def top_patches(images: torch.Tensor, kernel: torch.Tensor, n: int = 16, stride: int = 1) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The ``n`` patches of ``images: N x C x H x W`` with the largest response to ``kernel: C x k x k``.

    Responses come from :func:`~course_utils.cnn.conv.conv2d` over whole images; a stride of a few
    pixels keeps near-copies of the same spot (shifted by one pixel) out of the top list.
    Returns ``patches: n x C x k x k``, ``responses: n`` (descending) and ``where: n x 3``.
    """
    k = kernel.shape[-1]
    conv = conv2d(images, kernel.unsqueeze(0), stride=stride)[:, 0]  # N x H_out x W_out
    values, flat = conv.flatten().topk(n)
    image_i, rest = flat // conv[0].numel(), flat % conv[0].numel()
    top, left = (rest // conv.shape[2]) * stride, (rest % conv.shape[2]) * stride
    patches = torch.stack([images[i, :, t : t + k, l : l + k] for i, t, l in zip(image_i.tolist(), top.tolist(), left.tolist())])
    return patches, values, torch.stack([image_i, top, left], dim=1)


def detection_snr(response: torch.Tensor, signal: torch.Tensor, background: torch.Tensor | None = None) -> float:
    """Signal-to-noise ratio of a response map: how far the pattern's positions stand out.

    ``(mean(response[signal]) - mean(response[background])) / std(response[background])``, the
    std over the background positions (population std, no Bessel correction). ``response`` has
    any shape, e.g. ``N x C x H x W``; ``signal`` and ``background`` are boolean masks of the
    same shape (``background`` defaults to ``~signal``). A linear map on white noise of std
    ``sigma`` and a zero-mean kernel ``w`` gives ``<w, pattern> / (sigma ||w||)``.
    """
    for name, mask in (("signal", signal), ("background", background)):
        if mask is not None and (mask.shape != response.shape or mask.dtype != torch.bool):
            raise ValueError(f"{name} must be a boolean mask of shape {tuple(response.shape)}, "
                             f"got {mask.dtype} of shape {tuple(mask.shape)}")
    background = ~signal if background is None else background
    if signal.sum() < 1 or background.sum() < 2:
        raise ValueError(f"need at least 1 signal and 2 background positions, got "
                         f"{int(signal.sum())} and {int(background.sum())}")
    rest = response[background].double()
    spread = rest.std(unbiased=False)
    if spread == 0:
        raise ValueError("the background is constant (std 0): the SNR is unbounded")
    return ((response[signal].double().mean() - rest.mean()) / spread).item()

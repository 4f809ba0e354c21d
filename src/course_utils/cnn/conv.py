"""The convolution operation of chapter 2, written two ways, both checked against torch.

For an input ``x: N x C_in x H x W`` and kernels ``weight: C_out x C_in x k_h x k_w`` (torch's
layout; the book writes one image as H x W x C_in), output channel ``c`` at position ``(i, j)`` is

    f[n, c, i, j] = sum_{p < C_in} sum_{k1 < k_h} sum_{k2 < k_w}
                        weight[c, p, k1, k2] * x_pad[n, p, i*s + k1*d, j*s + k2*d]  + bias[c]

with stride ``s``, dilation ``d`` and ``x_pad`` the input with ``padding`` zeros on every side.
Like every deep-learning library this is cross-correlation (the kernel is not flipped), and the
window starts at the top-left corner ``(i*s, j*s)`` rather than being centred on ``(i, j)``.
"""
from __future__ import annotations

import torch

from course_utils.data.photos import LUMA

IntPair = int | tuple[int, int]


def _pair(value: IntPair, name: str) -> tuple[int, int]:
    pair = (value, value) if isinstance(value, int) else tuple(value)
    if len(pair) != 2 or not all(isinstance(v, int) for v in pair):
        raise ValueError(f"{name} must be an int or a pair of ints, got {value!r}")
    return pair


def conv_output_size(size: int, kernel_size: int, stride: int = 1, padding: int = 0, dilation: int = 1) -> int:
    """Output length along one axis: ``floor((size + 2*padding - dilation*(kernel_size-1) - 1) / stride) + 1``."""
    if stride < 1 or dilation < 1 or kernel_size < 1 or padding < 0:
        raise ValueError(
            f"need kernel_size, stride, dilation >= 1 and padding >= 0, got kernel_size={kernel_size}, "
            f"stride={stride}, padding={padding}, dilation={dilation}"
        )
    span = dilation * (kernel_size - 1) + 1  # how far one window reaches
    if span > size + 2 * padding:
        raise ValueError(f"kernel (reach {span}) is larger than the padded input ({size} + 2*{padding})")
    return (size + 2 * padding - span) // stride + 1


def _check_inputs(x, weight, bias, stride, padding, dilation):
    if x.ndim != 4 or weight.ndim != 4:
        raise ValueError(
            f"expected x: N x C_in x H x W and weight: C_out x C_in x k x k (4 dimensions each), "
            f"got x {tuple(x.shape)} and weight {tuple(weight.shape)}"
        )
    if x.shape[1] != weight.shape[1]:
        raise ValueError(
            f"channel mismatch: x {tuple(x.shape)} has C_in={x.shape[1]} but weight {tuple(weight.shape)} "
            f"expects C_in={weight.shape[1]}"
        )
    if bias is not None and bias.shape != (weight.shape[0],):
        raise ValueError(f"bias must have shape ({weight.shape[0]},), got {tuple(bias.shape)}")
    (sh, sw), (ph, pw), (dh, dw) = _pair(stride, "stride"), _pair(padding, "padding"), _pair(dilation, "dilation")
    if min(sh, sw) < 1 or min(dh, dw) < 1 or min(ph, pw) < 0:
        raise ValueError(f"need stride >= 1, dilation >= 1, padding >= 0; got stride={stride}, padding={padding}, dilation={dilation}")
    for axis, size, k, p, d in (("height", x.shape[2], weight.shape[2], ph, dh), ("width", x.shape[3], weight.shape[3], pw, dw)):
        if d * (k - 1) + 1 > size + 2 * p:
            raise ValueError(
                f"kernel {tuple(weight.shape)} is larger than the padded input along {axis}: "
                f"x {tuple(x.shape)} with padding {p} gives {size + 2 * p}"
            )
    return (sh, sw), (ph, pw), (dh, dw)


def conv2d_loops(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None = None,
                 stride: IntPair = 1, padding: IntPair = 0, dilation: IntPair = 1) -> torch.Tensor:
    """The formula, literally: one loop per index. Slow; for reading and for tiny inputs.

    Shapes: ``x: N x C_in x H x W``, ``weight: C_out x C_in x k_h x k_w``, ``bias: C_out`` ->
    ``N x C_out x H_out x W_out``. Same signature as ``torch.nn.functional.conv2d``.
    """
    (sh, sw), (ph, pw), (dh, dw) = _check_inputs(x, weight, bias, stride, padding, dilation)
    x_pad = torch.nn.functional.pad(x, (pw, pw, ph, ph))
    n_batch, c_in, c_out, kh, kw = x.shape[0], x.shape[1], weight.shape[0], weight.shape[2], weight.shape[3]
    h_out = conv_output_size(x.shape[2], kh, sh, ph, dh)
    w_out = conv_output_size(x.shape[3], kw, sw, pw, dw)
    out = torch.zeros(n_batch, c_out, h_out, w_out, dtype=x.dtype)
    for n in range(n_batch):
        for c in range(c_out):
            for i in range(h_out):
                for j in range(w_out):
                    total = bias[c].item() if bias is not None else 0.0
                    for p in range(c_in):
                        for k1 in range(kh):
                            for k2 in range(kw):
                                total += weight[c, p, k1, k2].item() * x_pad[n, p, i * sh + k1 * dh, j * sw + k2 * dw].item()
                    out[n, c, i, j] = total
    return out


def sliding_windows(x: torch.Tensor, kernel_size: tuple[int, int], stride=(1, 1), dilation=(1, 1)) -> torch.Tensor:
    """Every k_h x k_w window of ``x: N x C x H x W`` as a view ``N x C x H_out x W_out x k_h x k_w``.

    No copy is made: the view reuses x's memory with adjusted strides (moving one output
    position moves ``stride`` pixels, moving one kernel offset moves ``dilation`` pixels).
    """
    (kh, kw), (sh, sw), (dh, dw) = kernel_size, stride, dilation
    h_out = (x.shape[2] - dh * (kh - 1) - 1) // sh + 1
    w_out = (x.shape[3] - dw * (kw - 1) - 1) // sw + 1
    sn, sc, s_h, s_w = x.stride()
    return x.as_strided((x.shape[0], x.shape[1], h_out, w_out, kh, kw), (sn, sc, s_h * sh, s_w * sw, s_h * dh, s_w * dw))


def conv2d(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None = None,
           stride: IntPair = 1, padding: IntPair = 0, dilation: IntPair = 1) -> torch.Tensor:
    """Vectorized convolution: a strided view of all windows, then one matrix product.

    The product is ``einsum("cpab,npijab->ncij", weight, windows)``: for every image ``n``,
    output channel ``c`` and position ``(i, j)``, sum over channels ``p`` and kernel offsets
    ``(a, b)``. Same shapes and signature as :func:`conv2d_loops` and ``torch.nn.functional.conv2d``.
    """
    (sh, sw), (ph, pw), (dh, dw) = _check_inputs(x, weight, bias, stride, padding, dilation)
    x_pad = torch.nn.functional.pad(x, (pw, pw, ph, ph))
    windows = sliding_windows(x_pad, tuple(weight.shape[2:]), (sh, sw), (dh, dw))  # N x C_in x H_out x W_out x kh x kw
    n, c_in, h_out, w_out, kh, kw = windows.shape
    # Lay every window out as a column ("im2col", the only copy): N x (C_in*kh*kw) x (H_out*W_out).
    # Then one matrix product with the kernels as rows does the einsum above for all windows at once,
    # and its result is already in N x C_out x positions order.
    columns = windows.permute(0, 1, 4, 5, 2, 3).reshape(n, c_in * kh * kw, h_out * w_out)
    out = (weight.reshape(weight.shape[0], -1) @ columns).view(n, -1, h_out, w_out)
    if bias is not None:
        out += bias.view(1, -1, 1, 1)
    return out


# Classic hand-designed 3 x 3 kernels (chapter 2). Under torch's cross-correlation convention a
# kernel is laid on the image as printed: "sobel_x" has -1 ... +1 from left to right, so it
# answers positively where the image gets brighter to the right (a vertical edge).
KERNELS: dict[str, list[list[float]]] = {
    "identity": [[0, 0, 0], [0, 1, 0], [0, 0, 0]],
    "sobel_x": [[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]],
    "sobel_y": [[-1, -2, -1], [0, 0, 0], [1, 2, 1]],
    "blur": [[1 / 16, 2 / 16, 1 / 16], [2 / 16, 4 / 16, 2 / 16], [1 / 16, 2 / 16, 1 / 16]],
    "sharpen": [[0, -1, 0], [-1, 5, -1], [0, -1, 0]],
    "laplacian": [[0, 1, 0], [1, -4, 1], [0, 1, 0]],
}


def kernel(name: str) -> torch.Tensor:
    """A hand-designed kernel from ``KERNELS`` as a ``3 x 3`` float32 tensor."""
    if name not in KERNELS:
        raise ValueError(f"unknown kernel {name!r}; valid names: {', '.join(KERNELS)}")
    return torch.tensor(KERNELS[name], dtype=torch.float32)


def oriented_kernels(size: int = 5, sigma: float = 1.0, orientations: int = 8) -> tuple[torch.Tensor, list[str]]:
    """Hand-designed edge and line detectors at evenly spaced orientations, with their names.

    First derivatives of a Gaussian answer to edges (dark on one side, bright on the other),
    second derivatives to thin lines. Returns ``2 * orientations x size x size`` (each kernel
    with zero mean, so a flat patch gives 0) and names such as ``"edge 45 deg"``.
    """
    if size < 1 or size % 2 == 0:
        raise ValueError(f"size must be a positive odd number, got {size}")
    offsets = torch.arange(size, dtype=torch.float32) - size // 2
    y, x = torch.meshgrid(offsets, offsets, indexing="ij")
    gaussian = torch.exp(-(x**2 + y**2) / (2 * sigma**2))
    kernels, names = [], []
    for t in range(orientations):
        angle = torch.pi * t / orientations
        u = x * torch.cos(torch.tensor(angle)) + y * torch.sin(torch.tensor(angle))  # distance across the edge
        degrees = round(180 * t / orientations)
        kernels += [u * gaussian, (u**2 / sigma**2 - 1) * gaussian]
        names += [f"edge {degrees} deg", f"line {degrees} deg"]
    bank = torch.stack(kernels)
    return bank - bank.mean(dim=(1, 2), keepdim=True), names


def best_match(kernels: torch.Tensor, bank: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """For each of ``kernels: N x k x k``, the kernel of ``bank: M x k x k`` with the largest
    ``|cosine|``: returns that cosine (with its sign) and the index, both of length ``N``.

    Matching by ``|cosine|`` ignores the sign: a kernel and its negative detect the same feature
    (one answers where the other is silent). Multiply the match by the sign to compare pictures.
    """
    if kernels.shape[1:] != bank.shape[1:]:
        raise ValueError(f"kernels {tuple(kernels.shape)} and bank {tuple(bank.shape)} need the same k x k")
    cosine = torch.nn.functional.normalize(kernels.flatten(1), dim=1) @ torch.nn.functional.normalize(bank.flatten(1), dim=1).T
    index = cosine.abs().argmax(dim=1)
    return cosine.gather(1, index[:, None])[:, 0], index


def rgb_kernel_bank() -> tuple[torch.Tensor, list[str]]:
    """Four hand-designed kernels for an RGB image, ``4 x 3 x 3 x 3`` (torch's ``C_out x C_in x k x k``).

    Vertical and horizontal edges of the brightness (Sobel on the luma mix of R, G, B), a blur of
    the brightness, and a colour-opponent kernel (red minus green at the centre). Chapter 1 uses
    them as a convolution layer whose every output channel has a known meaning.
    """
    luma = torch.tensor(LUMA).view(3, 1, 1)  # how bright each colour looks
    red_minus_green = torch.zeros(3, 3, 3)
    red_minus_green[0, 1, 1], red_minus_green[1, 1, 1] = 1.0, -1.0
    bank = torch.stack([luma * kernel("sobel_x"), luma * kernel("sobel_y"), luma * kernel("blur"), red_minus_green])
    return bank, ["vertical edges", "horizontal edges", "blurred brightness", "red minus green"]

"""Attribution maps for a small CNN classifier, and the sanity checks that test them (chapter 7).

An attribution map gives every input pixel a share of one output, the logit of a target class:

- **saliency** (Simonyan et al., 2014): the gradient of the logit with respect to the input;
- **integrated gradients** (Sundararajan et al., 2017): the gradient averaged along the straight
  path from a baseline ``x'`` to the input ``x``, times ``x - x'``. The map sums to
  ``f(x) - f(x')`` (*completeness*), up to the error of the quadrature over the path;
- **occlusion** (Zeiler and Fergus, 2014): how much the logit drops when a window of the input
  is replaced by a fill value, averaged over the windows that cover each pixel.

A map can look convincing and still say nothing about the model. The sanity checks of Adebayo
et al. (2018, "Sanity Checks for Saliency Maps") ask whether it changes when the model does:
:func:`cascading_randomization` re-draws the weights from the top layer down, and
:func:`rank_correlation` compares the maps before and after. (Their second check, training on
shuffled labels, uses the zoo model ``mnist_small_shuffled``.)

Every map function takes images ``N x C x H x W``, a target (one class index, or ``N`` of
them) and a model in eval mode, and returns a detached float tensor ``N x C x H x W``.
"""
from __future__ import annotations

import copy
import math
from typing import Sequence

import torch
from torch import nn

IG_METHODS = ("trapezoid", "right", "middle")


def _check_inputs(model: nn.Module, images: torch.Tensor, target: int | torch.Tensor) -> torch.Tensor:
    """Validate the arguments every map takes; return the targets as ``N`` int64."""
    if model.training:
        raise ValueError("model is in training mode: dropout and batch norm would change the map "
                         "from call to call; call model.eval() first")
    if not isinstance(images, torch.Tensor) or images.ndim != 4:
        got = tuple(images.shape) if isinstance(images, torch.Tensor) else type(images).__name__
        raise ValueError(f"images must be a tensor N x C x H x W, got {got}; "
                         "for one image use image[None]")
    n = len(images)
    if isinstance(target, torch.Tensor):
        if target.dtype.is_floating_point or target.shape not in ((), (n,)):
            raise ValueError(f"target must be a class index or {n} integer indices (one per "
                             f"image), got a {target.dtype} tensor of shape {tuple(target.shape)}")
        return target.to(torch.int64).expand(n).to(images.device)
    if isinstance(target, bool) or not isinstance(target, int):
        raise ValueError(f"target must be an int or a tensor of {n} class indices, "
                         f"got {type(target).__name__}")
    return torch.full((n,), target, dtype=torch.int64, device=images.device)


def _target_logits(model: nn.Module, x: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """The logit of each image's target class: ``N x C x H x W -> N``."""
    logits = model(x)
    if logits.ndim != 2:
        raise ValueError(f"model must return logits N x classes, got shape {tuple(logits.shape)}")
    classes = logits.shape[1]
    if int(target.min()) < 0 or int(target.max()) >= classes:
        raise ValueError(f"target must be a class index in [0, {classes}), got values from "
                         f"{int(target.min())} to {int(target.max())}")
    return logits.gather(1, target[:, None]).squeeze(1)


def _gradient(model: nn.Module, x: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """d logit[target] / d input, ``N x C x H x W``; the model's parameters get no gradient."""
    x = x.detach().requires_grad_(True)
    with torch.enable_grad():
        # Each logit depends on its own image only (eval mode), so one backward pass of the
        # sum gives every image's gradient.
        (grad,) = torch.autograd.grad(_target_logits(model, x, target).sum(), x)
    return grad


def saliency(model: nn.Module, images: torch.Tensor, target: int | torch.Tensor,
             absolute: bool = False) -> torch.Tensor:
    """The gradient of the target logit with respect to each pixel, ``N x C x H x W``.

    ``absolute=True`` returns its magnitude, as Simonyan et al. (2014) show it (and as captum's
    ``Saliency`` does by default).
    """
    grad = _gradient(model, images, _check_inputs(model, images, target))
    return grad.abs() if absolute else grad


def gradient_times_input(model: nn.Module, images: torch.Tensor,
                         target: int | torch.Tensor) -> torch.Tensor:
    """The gradient times the input, ``N x C x H x W``: integrated gradients with one step."""
    return saliency(model, images, target) * images


def _path_points(steps: int, method: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Positions ``alpha`` in [0, 1] on the path and their quadrature weights (they sum to 1)."""
    if method not in IG_METHODS:
        raise ValueError(f"method must be one of {IG_METHODS}, got {method!r}")
    if not isinstance(steps, int) or steps < (2 if method == "trapezoid" else 1):
        raise ValueError(f"steps must be an int >= {2 if method == 'trapezoid' else 1} for "
                         f"method {method!r}, got {steps!r}")
    if method == "trapezoid":       # steps points, steps - 1 intervals, half weight at the ends
        alphas = torch.linspace(0, 1, steps, dtype=torch.float64)
        weights = torch.full((steps,), 1 / (steps - 1), dtype=torch.float64)
        weights[[0, -1]] /= 2
    else:                           # the right end or the middle of each of steps intervals
        alphas = (torch.arange(steps, dtype=torch.float64) + (1.0 if method == "right" else 0.5))
        alphas, weights = alphas / steps, torch.full((steps,), 1 / steps, dtype=torch.float64)
    return alphas, weights


def integrated_gradients(model: nn.Module, images: torch.Tensor, target: int | torch.Tensor,
                         baseline: torch.Tensor | float | None = None, steps: int = 32,
                         method: str = "trapezoid", batch_size: int = 1024) -> torch.Tensor:
    """Integrated gradients ``(x - x') * mean of the gradient on the path x' -> x``, ``N x C x H x W``.

    baseline: ``x'``, a tensor ``N x C x H x W`` or ``C x H x W`` or a number (default 0, a
    black image). steps: gradient evaluations on the path. method: ``"trapezoid"`` (``steps``
    points from ``x'`` to ``x``), ``"right"`` or ``"middle"`` (a Riemann sum over ``steps``
    intervals). The path points of several images are evaluated together, ``batch_size`` at a
    time. Completeness: ``map.sum((1, 2, 3))`` approaches ``f(x) - f(x')`` as steps grow.
    """
    targets = _check_inputs(model, images, target)
    baseline = torch.zeros_like(images) if baseline is None else baseline
    baseline = torch.as_tensor(baseline, dtype=images.dtype, device=images.device)
    if baseline.shape not in ((), images.shape, images.shape[1:]):
        raise ValueError(f"baseline must be a number or have shape {tuple(images.shape)} or "
                         f"{tuple(images.shape[1:])}, got {tuple(baseline.shape)}")
    baseline = baseline.expand_as(images)
    alphas, weights = _path_points(steps, method)
    n, delta = len(images), images - baseline
    per_chunk = max(1, batch_size // max(n, 1))    # path points per forward pass
    total = torch.zeros_like(images)
    for start in range(0, steps, per_chunk):
        a = alphas[start:start + per_chunk].to(images.dtype)[:, None, None, None, None]
        w = weights[start:start + per_chunk].to(images.dtype)[:, None, None, None, None]
        path = (baseline + a * delta).flatten(0, 1)             # (k * N) x C x H x W
        grads = _gradient(model, path, targets.repeat(len(a))).unflatten(0, (len(a), n))
        total += (w * grads).sum(0)                              # N x C x H x W
    return total * delta


def occlusion(model: nn.Module, images: torch.Tensor, target: int | torch.Tensor,
              window: int = 4, stride: int = 2, fill: float = 0.0,
              batch_size: int = 1024) -> torch.Tensor:
    """The drop of the target logit when a ``window x window`` patch is set to ``fill``.

    The patch covers every channel and slides by ``stride`` from the top left corner, as in
    captum's ``Occlusion``: ``ceil((H - window) / stride) + 1`` positions down (the last one
    cut off at the edge when the stride does not fit), likewise across, so every pixel is
    covered. Each pixel gets the mean drop over the patches that cover it. Returns
    ``N x C x H x W``.
    """
    targets = _check_inputs(model, images, target)
    n, _, h, w = images.shape
    if not (isinstance(window, int) and isinstance(stride, int) and 1 <= window <= min(h, w)
            and stride >= 1):
        raise ValueError(f"window must be an int in [1, {min(h, w)}] and stride an int >= 1, "
                         f"got window={window!r}, stride={stride!r}")
    starts = lambda size: [k * stride for k in range(math.ceil((size - window) / stride) + 1)]
    corners = [(y, x) for y in starts(h) for x in starts(w)]
    masks = torch.zeros(len(corners), 1, h, w, dtype=images.dtype, device=images.device)
    for i, (y, x) in enumerate(corners):
        masks[i, :, y:y + window, x:x + window] = 1
    with torch.no_grad():
        clean = _target_logits(model, images, targets)                      # N
        drops = []
        for start in range(0, len(masks), max(1, batch_size // n)):
            m = masks[start:start + max(1, batch_size // n), None]           # k x 1 x 1 x H x W
            occluded = (images * (1 - m) + fill * m).flatten(0, 1)          # (k * N) x C x H x W
            logits = _target_logits(model, occluded, targets.repeat(len(m)))
            drops.append(clean - logits.unflatten(0, (len(m), n)))          # k x N
        drops = torch.cat(drops)                                            # positions x N
    total = torch.einsum("pn,pchw->nchw", drops, masks)                     # N x 1 x H x W
    return (total / masks.sum(0)).expand_as(images).clone()


def cascading_randomization(model: nn.Module, seed: int = 0,
                            layers: Sequence[str] | None = None) -> list[tuple[str, nn.Module]]:
    """Copies of ``model`` with one more layer re-initialised at each step, from the top down.

    layers: names of the modules that hold parameters, input to output (default: every module
    with parameters of its own, e.g. ``conv1, conv2, conv3, fc``). Returns
    ``[(layer, copy), ...]`` top first: the copy named ``"conv2"`` has fresh ``fc``, ``conv3``
    and ``conv2`` and the trained ``conv1``. Fresh weights and biases are drawn like PyTorch's
    default (uniform in +-1/sqrt(fan_in)) from a ``torch.Generator`` seeded with ``seed``: the
    global generator is untouched, and every step keeps the draws of the step before.
    ``model`` itself is not changed; the copies are in eval mode.
    """
    owners = {name: m for name, m in model.named_modules() if list(m.parameters(recurse=False))}
    layers = list(owners) if layers is None else list(layers)
    unknown = [name for name in layers if name not in owners]
    if unknown or not layers:
        raise ValueError(f"layers must name modules with parameters ({', '.join(owners)}), "
                         f"got {unknown or layers}")
    g = torch.Generator().manual_seed(seed)
    fresh = {}
    for name in reversed(layers):            # top first, so a layer's draw never depends on
        params = dict(owners[name].named_parameters(recurse=False))   # how deep the cascade goes
        fan_in = params["weight"][0].numel() if "weight" in params else 1
        bound = 1 / math.sqrt(fan_in)
        fresh[name] = {key: (torch.rand(p.shape, generator=g, dtype=torch.float64) * 2 - 1)
                       .mul(bound).to(p.dtype) for key, p in params.items()}
    steps, current = [], copy.deepcopy(model).eval()
    with torch.no_grad():
        for name in reversed(layers):
            current = copy.deepcopy(current)
            for key, p in current.get_submodule(name).named_parameters(recurse=False):
                p.copy_(fresh[name][key])
            steps.append((name, current))
    return steps


def _average_ranks(x: torch.Tensor) -> torch.Tensor:
    """Ranks 1..n of a 1-D tensor, ties sharing their average rank (as scipy's rankdata)."""
    _, inverse, counts = torch.unique(x, sorted=True, return_inverse=True, return_counts=True)
    ends = counts.cumsum(0).to(torch.float64)
    return (ends - (counts - 1) / 2)[inverse]


def rank_correlation(a: torch.Tensor, b: torch.Tensor, absolute: bool = True,
                     mask: torch.Tensor | None = None) -> torch.Tensor:
    """Spearman rank correlation of two stacks of maps, one value per map: ``N x ... -> N``.

    With ``absolute=True`` (as Adebayo et al. do) the magnitudes are ranked, so a map and its
    negative agree. Ties get their average rank. ``mask`` (boolean, the shape of ``a``) keeps
    only some pixels of each map, for example those where the digit is. A constant map has no
    correlation: NaN. Returns float64.
    """
    tensors = (a, b) if mask is None else (a, b, mask)
    if not all(isinstance(t, torch.Tensor) for t in tensors) or a.ndim < 2 \
            or any(t.shape != a.shape for t in tensors):
        shapes = [tuple(t.shape) if isinstance(t, torch.Tensor) else type(t).__name__
                  for t in tensors]
        raise ValueError(f"a, b (and mask) must be tensors of the same shape N x ... (a stack "
                         f"of maps), got {', '.join(map(str, shapes))}")
    a, b = a.detach().flatten(1).double(), b.detach().flatten(1).double()
    if absolute:
        a, b = a.abs(), b.abs()
    keep = torch.ones_like(a, dtype=torch.bool) if mask is None else mask.flatten(1).bool()
    values = []
    for row_a, row_b, row_keep in zip(a, b, keep):
        ranks = torch.stack([_average_ranks(row_a[row_keep]), _average_ranks(row_b[row_keep])])
        values.append(torch.corrcoef(ranks)[0, 1])  # Spearman: Pearson's r of the ranks
    return torch.stack(values)

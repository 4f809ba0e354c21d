"""Reading circuits in the weights: weight maps, expanded weights and attribution (chapter 5b).

A unit of a conv layer is a weighted sum of the previous layer's channels: output channel ``j``
reads input channel ``i`` through one small ``k x k`` map of weights. Drawn in red (excitation)
and blue (inhibition) next to pictures of both units, these maps show how a feature is built
from earlier ones (Voss et al., "Visualizing Weights", Distill 2021).

- :func:`weight_maps` and :func:`plot_weight_maps`: the ``k x k`` maps into one output channel;
- :func:`expanded_weights`: the same idea across several layers, through the network without
  its nonlinearities (:func:`~course_utils.cnn.linearity.linearized`), where the product of the
  layers' weights is exact; for adjacent layers it equals the raw weights;
- :func:`contributions` / :func:`attribution`: weight x activation, how much each input
  channel actually added to the unit on given images. These terms sum exactly to the unit's
  pre-activation, so they say which inputs to ablate (:mod:`course_utils.interp.interventions`).

Functions take the course's sequential models (:class:`~course_utils.cnn.models.ConvNet`), whose
layer names (``conv3``, ``relu3``, ``pool3``, ...) double as hook names.
"""
from __future__ import annotations

from typing import Sequence

import matplotlib.pyplot as plt
import torch
import torch.nn.functional as F
from torch import nn

from course_utils.interp.hooks import best_positions, record
from course_utils.cnn.layers import conv_layer, input_layer, model_shape, run_between
from course_utils.cnn.linearity import linearized
from course_utils.interp.similarity import unit_correlations


def weight_maps(model: nn.Module, layer: str, out_channel: int) -> torch.Tensor:
    """The ``C_in x k x k`` weights from every input channel of conv ``layer`` into ``out_channel``."""
    conv = conv_layer(model, layer)
    if not 0 <= out_channel < conv.out_channels:
        raise ValueError(f"out_channel must be in [0, {conv.out_channels}) for {layer!r}, got {out_channel}")
    return conv.weight[out_channel].detach().clone()


def plot_weight_maps(weights: torch.Tensor, titles: Sequence[str] | None = None,
                     above: torch.Tensor | None = None, size: float = 1.1, suptitle: str | None = None):
    """Weight maps ``n x k x k`` as small multiples, red = excitatory, blue = inhibitory.

    All maps share one colour scale, so a faint map really is a weak connection (scaling each
    map to its own maximum would make every connection look equally strong). ``above``
    (``n x H x W`` or ``n x 1 x H x W``, e.g. pictures of the input units) is drawn in a row
    above the maps. Returns the figure.
    """
    weights = weights.detach().float().cpu()
    if weights.ndim != 3:
        raise ValueError(f"weights must be n x k x k, got shape {tuple(weights.shape)}")
    n, rows = len(weights), 1 if above is None else 2
    limit = float(weights.abs().max()) or 1.0
    height = size * rows + 0.4 + (0.3 if suptitle else 0.0)
    # A constrained layout keeps the colour bar and the title clear of the maps.
    fig, axes = plt.subplots(rows, n, figsize=(size * n + 0.8, height), squeeze=False, layout="constrained")
    for i in range(n):
        if above is not None:
            picture = above[i].detach().float().cpu()
            axes[0, i].imshow(picture.squeeze(0) if picture.ndim == 3 else picture, cmap="gray")
            axes[0, i].axis("off")
        ax = axes[-1, i]
        image = ax.imshow(weights[i].numpy(), cmap="RdBu_r", vmin=-limit, vmax=limit)
        ax.set_xticks([]), ax.set_yticks([])
        if titles is not None:
            (axes[0, i]).set_title(str(titles[i]), fontsize=8)
    fig.colorbar(image, ax=axes[-1, :].tolist(), shrink=0.9, aspect=10, label="weight")
    if suptitle:
        fig.suptitle(suptitle, fontsize=10)
    return fig


# --- Expanded weights --------------------------------------------------------------------


def expanded_weights(model: nn.Module, start: str | None, layer: str, channel: int,
                     position: tuple[int, int] | None = None, crop: bool = True) -> torch.Tensor:
    """The expanded weights from every channel of ``start``'s output (``None``: the input pixels)
    to unit ``channel`` of ``layer`` at ``position`` (default: the centre of its map).

    Computed as the gradient of that unit in the :func:`~course_utils.cnn.linearity.linearized`
    network, which equals the sum over all paths of the products of their weights. Returns ``C_start x H x W``, or with ``crop=True``
    only the window that can reach the unit (everything outside is exactly 0). For adjacent
    layers (``start`` the input of conv ``layer``) this is the raw ``C_in x k x k`` weight map.
    """
    grad = _unit_gradient(linearized(model), model_shape(model, start), start, layer, channel, position)
    if not crop:
        return grad
    # The window comes from a copy with every weight 1: there, unlike with the real weights, no
    # weight inside the window can happen to be 0.
    ones = linearized(model, unit_weights=True)
    reach = _unit_gradient(ones, grad.shape, start, layer, channel, position).sum(0) > 0
    rows, cols = torch.nonzero(reach, as_tuple=True)
    return grad[:, rows.min() : rows.max() + 1, cols.min() : cols.max() + 1]


def _unit_gradient(net: nn.Module, shape: Sequence[int], start: str | None, layer: str, channel: int,
                   position: tuple[int, int] | None) -> torch.Tensor:
    """Gradient of unit ``(channel, position)`` of ``layer`` with respect to ``start``'s output: ``shape``."""
    x = torch.zeros(1, *shape, requires_grad=True)
    out = run_between(net, x, start, layer)
    if out.ndim != 4:
        raise ValueError(f"layer {layer!r} has output shape {tuple(out.shape)}; expected N x C x H x W")
    if not 0 <= channel < out.shape[1]:
        raise ValueError(f"channel must be in [0, {out.shape[1]}) for {layer!r}, got {channel}")
    y, x_pos = position if position is not None else (out.shape[2] // 2, out.shape[3] // 2)
    if not (0 <= y < out.shape[2] and 0 <= x_pos < out.shape[3]):
        raise ValueError(f"position ({y}, {x_pos}) is outside {layer!r}'s {out.shape[2]}x{out.shape[3]} map")
    out[0, channel, y, x_pos].backward()
    return x.grad[0]


# --- Attribution: weight x activation ----------------------------------------------------


def layer_input(model: nn.Module, images: torch.Tensor, layer: str) -> torch.Tensor:
    """What conv ``layer`` reads for ``images: N x C x H x W``: ``N x C_in x H' x W'``."""
    source = input_layer(model, layer)
    return images if source is None else record(model, images, source)[source]


def contributions(model: nn.Module, images: torch.Tensor, layer: str, channel: int,
                  baseline: torch.Tensor | None = None) -> torch.Tensor:
    """Weight x activation: what each input channel adds to ``channel`` of conv ``layer``.

    Returns ``N x C_in x H x W`` (one map per input channel, the layer's output size) with
    ``contributions.sum(1) + bias`` equal to the layer's output. With ``baseline: C_in`` (e.g.
    each channel's mean activation) the terms are measured against it,
    ``w * (a - baseline)``: exactly how much the unit would change if the channel were replaced
    by its baseline (mean-ablation), because one conv layer is linear.
    """
    conv = conv_layer(model, layer)
    acts = layer_input(model, images, layer)
    if baseline is not None:
        if baseline.shape != (acts.shape[1],):
            raise ValueError(f"baseline must have shape ({acts.shape[1]},), got {tuple(baseline.shape)}")
        acts = acts - baseline.view(1, -1, 1, 1)
    weight = conv.weight[channel].detach().unsqueeze(1)  # C_in x 1 x k x k: one filter per group
    with torch.no_grad():
        return F.conv2d(acts, weight, padding=conv.padding, stride=conv.stride, groups=acts.shape[1])


def attribution(model: nn.Module, images: torch.Tensor, layer: str, channel: int,
                baseline: torch.Tensor | None = None,
                positions: torch.Tensor | None = None) -> torch.Tensor:
    """Each input channel's contribution to one unit per image: ``N x C_in``.

    The unit is ``channel`` of conv ``layer`` at ``positions: N x 2`` (``(y, x)`` per image;
    default: where that image drives the channel most, see :func:`unit_positions`).
    """
    maps = contributions(model, images, layer, channel, baseline)
    if positions is None:
        positions = unit_positions(model, images, layer, channel)
    index = torch.arange(len(images))
    return maps[index, :, positions[:, 0], positions[:, 1]]


def unit_positions(model: nn.Module, images: torch.Tensor, layer: str, channel: int) -> torch.Tensor:
    """Per image, the ``(y, x)`` where ``channel`` of ``layer`` responds most: ``N x 2``."""
    return best_positions(record(model, images, layer)[layer], channel)[1]


def linear_agreement(model: nn.Module, images: torch.Tensor, layers: Sequence[str]) -> dict[str, float]:
    """How well the network without nonlinearities (:func:`~course_utils.cnn.linearity.linearized`)
    tracks the real one, per layer: ``{layer: r}``.

    For every channel, the correlation over ``images`` between its value at the centre of the
    map in the real and in the linearized network; ``r`` is the median over channels (units
    that never vary count as 0). Expanded weights describe the linearized network exactly, so
    this says how far they can be trusted for the real one.
    """
    real = record(model, images, layers)
    linear = record(linearized(model), images, layers)
    agreement = {}
    for name in layers:
        a, b = real[name], linear[name]
        if a.ndim == 4:
            a, b = a[:, :, a.shape[2] // 2, a.shape[3] // 2], b[:, :, b.shape[2] // 2, b.shape[3] // 2]
        # each channel with its own linearized self: the diagonal of the unit correlations
        agreement[name] = float(unit_correlations(a, b).diagonal().median())
    return agreement


def permutation_correlation(x: torch.Tensor, y: torch.Tensor, n_permutations: int = 2000,
                            seed: int = 0) -> tuple[float, torch.Tensor]:
    """Pearson correlation of ``x: n`` and ``y: n``, and its values when ``y`` is shuffled: ``n_permutations``.

    The shuffled values are the baseline for "the weights line up with the inputs' tuning":
    they are what pairing weights with inputs at random gives.
    """
    if x.shape != y.shape or x.ndim != 1:
        raise ValueError(f"x and y must be 1-D with the same length, got {tuple(x.shape)} and {tuple(y.shape)}")
    x = (x.double() - x.double().mean()) / (x.double() - x.double().mean()).norm()
    y = (y.double() - y.double().mean()) / (y.double() - y.double().mean()).norm()
    g = torch.Generator().manual_seed(seed)
    shuffles = torch.rand(n_permutations, len(y), generator=g).argsort(1)  # one permutation per row
    return float(x @ y), y[shuffles] @ x


def net_input_similarity(model: nn.Module, layer: str) -> torch.Tensor:
    """Cosine similarity of every pair of output channels of conv ``layer``, each described by
    its net input weights (each ``k x k`` map summed, as in :func:`weight_maps`): ``C_out x C_out``.

    Two units built from the same inputs with the same signs score near 1; units reading
    unrelated inputs score near 0 (chapter 5b: the curve detectors of one layer are redundant).
    """
    net = conv_layer(model, layer).weight.detach().sum((2, 3))    # C_out x C_in
    unit = F.normalize(net, dim=1)
    return unit @ unit.T

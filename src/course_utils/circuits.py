"""Reading circuits in the weights: weight maps, expanded weights and attribution (chapter 5b).

A unit of a conv layer is a weighted sum of the previous layer's channels: output channel ``j``
reads input channel ``i`` through one small ``k x k`` map of weights. Drawn in red (excitation)
and blue (inhibition) next to pictures of both units, these maps show how a feature is built
from earlier ones (Voss et al., "Visualizing Weights", Distill 2021).

- :func:`weight_maps` and :func:`plot_weight_maps`: the ``k x k`` maps into one output channel;
- :func:`expanded_weights`: the same idea across several layers, through a
  :func:`linearized_model` (ReLU -> identity, max-pool -> average-pool), where the product of
  the layers' weights is exact; for adjacent layers it equals the raw weights;
- :func:`contributions` / :func:`attribution`: weight x activation, how much each input
  channel actually added to the unit on given images. These terms sum exactly to the unit's
  pre-activation, so they say which inputs to ablate (:mod:`course_utils.interventions`).

Functions take the course's sequential models (:class:`~course_utils.models.ConvNet`), whose
layer names (``conv3``, ``relu3``, ``pool3``, ...) double as hook names.
"""
from __future__ import annotations

import copy
from typing import Sequence

import matplotlib.pyplot as plt
import torch
import torch.nn.functional as F
from torch import nn

from .hooks import get_layer, record
from .models import ACTIVATIONS
from .receptive_field import linearized_copy
from .similarity import unit_correlations

_NONLINEAR = tuple(layer for name, layer in ACTIVATIONS.items() if name != "identity")


def conv_layer(model: nn.Module, layer: str) -> nn.Conv2d:
    """The ``nn.Conv2d`` called ``layer``; anything else raises, naming what it is."""
    module = get_layer(model, layer)
    if not isinstance(module, nn.Conv2d):
        raise ValueError(f"layer {layer!r} is a {type(module).__name__}; expected a Conv2d (e.g. 'conv3')")
    return module


def _children(model: nn.Module) -> list[str]:
    return [name for name, _ in model.named_children()]


def input_layer(model: nn.Module, layer: str) -> str | None:
    """Name of the layer whose output feeds ``layer`` in a sequential model (``None``: the image).

    In a ConvNet ``input_layer(model, "conv3") == "pool2"``: the max-pooled, rectified conv2
    channels are what conv3's weights read.
    """
    names = _children(model)
    if layer not in names:
        get_layer(model, layer)  # raises, listing the valid names
        raise ValueError(f"layer {layer!r} is not a top-level layer of this sequential model")
    index = names.index(layer)
    return names[index - 1] if index > 0 else None


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


def linearized_model(model: nn.Module) -> nn.Module:
    """A copy of ``model`` with its real weights but no nonlinearity: ReLU-like layers become
    identities and max pools become average pools (of the same size).

    What is left is affine, so the effect of any earlier unit on a later one is a fixed number:
    the *expanded weight*. (Unlike :func:`course_utils.receptive_field.linearized_copy`, which
    also sets every weight to 1 to find which pixels a unit *can* see.)
    """
    clone = copy.deepcopy(model).eval()
    for name, layer in list(clone.named_children()):
        if isinstance(layer, nn.MaxPool2d):
            setattr(clone, name, nn.AvgPool2d(layer.kernel_size, layer.stride, layer.padding))
        elif isinstance(layer, _NONLINEAR):
            setattr(clone, name, nn.Identity())
    return clone


def run_between(model: nn.Module, x: torch.Tensor, start: str | None, stop: str) -> torch.Tensor:
    """Run a sequential ``model`` from the output of layer ``start`` (``None``: the image ``x``)
    through layer ``stop`` inclusive, and return ``stop``'s output."""
    names = _children(model)
    for name in (stop,) if start is None else (start, stop):
        if name not in names:
            get_layer(model, name)
            raise ValueError(f"layer {name!r} is not a top-level layer of this sequential model")
    first = 0 if start is None else names.index(start) + 1
    last = names.index(stop)
    if last < first:
        raise ValueError(f"layer {stop!r} comes before {start!r}; expected a later layer")
    for name in names[first : last + 1]:
        x = getattr(model, name)(x)
    return x


def expanded_weights(model: nn.Module, start: str | None, layer: str, channel: int,
                     position: tuple[int, int] | None = None, crop: bool = True) -> torch.Tensor:
    """The expanded weights from every channel of ``start``'s output (``None``: the input pixels)
    to unit ``channel`` of ``layer`` at ``position`` (default: the centre of its map).

    Computed as the gradient of that unit in :func:`linearized_model`, which equals the sum over
    all paths of the products of their weights. Returns ``C_start x H x W``, or with ``crop=True``
    only the window that can reach the unit (everything outside is exactly 0). For adjacent
    layers (``start`` the input of conv ``layer``) this is the raw ``C_in x k x k`` weight map.
    """
    grad = _unit_gradient(linearized_model(model), model_shape(model, start), start, layer, channel, position)
    if not crop:
        return grad
    # The window comes from a copy with every weight 1 (receptive_field.linearized_copy): there,
    # unlike with the real weights, no weight inside the window can happen to be 0.
    reach = _unit_gradient(linearized_copy(model), grad.shape, start, layer, channel, position).sum(0) > 0
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


def model_shape(model: nn.Module, layer: str | None) -> tuple[int, ...]:
    """Shape of one example at the output of ``layer`` (``None``: the input ``C x H x W``), for a
    model with ``in_channels`` and ``image_size`` attributes such as a ConvNet."""
    image = torch.zeros(1, model.in_channels, model.image_size, model.image_size)
    if layer is None:
        return tuple(image.shape[1:])
    with torch.no_grad():
        return tuple(run_between(model, image, None, layer).shape[1:])


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
    maps = record(model, images, layer)[layer][:, channel]  # N x H x W
    flat = maps.flatten(1).argmax(1)
    return torch.stack([flat // maps.shape[-1], flat % maps.shape[-1]], 1)


def linear_agreement(model: nn.Module, images: torch.Tensor, layers: Sequence[str]) -> dict[str, float]:
    """How well the :func:`linearized_model` tracks the real one, per layer: ``{layer: r}``.

    For every channel, the correlation over ``images`` between its value at the centre of the
    map in the real and in the linearized network; ``r`` is the median over channels (units
    that never vary count as 0). Expanded weights describe the linearized network exactly, so
    this says how far they can be trusted for the real one.
    """
    real = record(model, images, layers)
    linear = record(linearized_model(model), images, layers)
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

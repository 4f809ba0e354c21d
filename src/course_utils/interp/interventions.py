"""Testing a circuit causally: mean-ablation of channels and editing of weights (chapter 5b).

Reading weights gives a hypothesis ("this unit is built from those channels"); an intervention
tests it. *Mean-ablation* replaces a channel's activations by its average over a dataset, so
the channel stops carrying information about the image while the next layer still receives
typical input (zeroing would instead inject an unusual, strongly negative signal).
*Weight editing* changes a connection and checks that the unit's tuning changes the way the
weights said it would. A targeted ablation only means something next to a baseline: the same
number of randomly chosen channels.
"""
from __future__ import annotations

import copy
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Iterator, Sequence

import torch
from torch import nn

from course_utils.interp.circuits import attribution, contributions, unit_positions
from course_utils.interp.hooks import record, unit_values
from course_utils.cnn.layers import conv_layer, get_layer, input_layer, run_between


def channel_means(model: nn.Module, images: torch.Tensor, layer: str) -> torch.Tensor:
    """Each channel's mean activation at ``layer`` over ``images`` (and positions): ``C``."""
    acts = record(model, images, layer)[layer]
    return acts.mean(0) if acts.ndim == 2 else acts.mean((0, 2, 3))


@contextmanager
def mean_ablated(model: nn.Module, layer: str, channels: Sequence[int], means: torch.Tensor) -> Iterator[nn.Module]:
    """Within the ``with`` block, ``channels`` of ``layer``'s output are replaced by ``means[c]``.

    ``means: C`` comes from :func:`channel_means`. The hook is removed on exit, even on error.
    """
    channels = [int(c) for c in channels]
    module = get_layer(model, layer)

    def hook(mod, inputs, output):
        output = output.clone()  # never modify a tensor another hook may hold
        for c in channels:
            output[:, c] = means[c]
        return output

    handle = module.register_forward_hook(hook)
    try:
        yield model
    finally:
        handle.remove()


def unit_response(model: nn.Module, images: torch.Tensor, layer: str, channel: int,
                  positions: torch.Tensor | None = None) -> torch.Tensor:
    """The rectified output of ``channel`` of conv ``layer`` (what the next layer sees): ``N``.

    At ``positions: N x 2`` if given, else the strongest position of each image.
    """
    rectified = record(model, images, layer)[layer].clamp(min=0)  # N x C x H x W
    return unit_values(rectified, channel, at=positions, reduce="max")


def fraction_removed(model: nn.Module, images: torch.Tensor, layer: str, channel: int,
                     channels: Sequence[int], means: torch.Tensor,
                     positions: torch.Tensor | None = None) -> float:
    """Share of the unit's total response on ``images`` that disappears when the input
    ``channels`` of conv ``layer`` are mean-ablated (1: all of it, 0: none, < 0: it grew).

    The response is read at fixed ``positions`` (default: where the intact unit peaks). Same
    result as running the model inside :func:`mean_ablated`, but the layers before the ablation
    run only once.
    """
    source = input_layer(model, layer)
    if source is None:
        raise ValueError(f"{layer!r} reads the image itself; ablate the channels of a layer after the first")
    if positions is None:
        positions = unit_positions(model, images, layer, channel)
    inputs = record(model, images, source)[source]
    return _fraction_removed(model, inputs, source, layer, channel, channels, means, positions)


@torch.no_grad()
def _response_from(model: nn.Module, inputs: torch.Tensor, source: str, layer: str, channel: int,
                   positions: torch.Tensor) -> torch.Tensor:
    """The unit's rectified value at ``positions``, running ``model`` from ``source``'s output ``inputs``."""
    maps = run_between(model, inputs, source, layer)[:, channel].clamp(min=0)
    return maps[torch.arange(len(maps)), positions[:, 0], positions[:, 1]]


def _fraction_removed(model, inputs, source, layer, channel, channels, means, positions) -> float:
    intact = _response_from(model, inputs, source, layer, channel, positions).sum()
    if intact <= 0:
        raise ValueError(f"{layer}[{channel}] does not respond to these images (total response {float(intact):.3g})")
    ablated = inputs.clone()
    index = torch.as_tensor(list(channels), dtype=torch.long)
    ablated[:, index] = means[index].view(1, -1, *[1] * (inputs.ndim - 2)).to(ablated.dtype)
    return float(1 - _response_from(model, ablated, source, layer, channel, positions).sum() / intact)


@dataclass
class AblationTest:
    """Targeted vs random ablation of ``k`` input channels of one unit.

    ``ranking``: input channels by mean weight x activation on the images, strongest first;
    ``targeted``: fraction of the response removed by ablating ``ranking[:k]``;
    ``random``: the same for each of several random sets of ``k`` channels.
    """

    layer: str
    channel: int
    k: int
    ranking: torch.Tensor
    targeted: float
    random: torch.Tensor

    def __repr__(self) -> str:
        return (f"AblationTest({self.layer}[{self.channel}], top-{self.k} inputs "
                f"{self.ranking[:self.k].tolist()}: removes {self.targeted:.0%} of the response; "
                f"{self.k} random inputs: {float(self.random.mean()):.0%} on average over {len(self.random)} draws)")


def ablation_test(model: nn.Module, images: torch.Tensor, layer: str, channel: int, k: int = 3,
                  reference: torch.Tensor | None = None, n_random: int = 50, seed: int = 0) -> AblationTest:
    """Mean-ablate the ``k`` input channels with the largest attribution (weight x activation)
    to ``channel`` of conv ``layer``, and ``n_random`` random sets of ``k`` channels.

    ``images`` are the inputs the unit should respond to (e.g. its top dataset examples);
    ``reference`` (default ``images``) gives the means used for ablation: pass a whole dataset.
    """
    source = input_layer(model, layer)
    n_in = conv_layer(model, layer).in_channels
    if not 1 <= k < n_in:
        raise ValueError(f"k must be in [1, {n_in}) for {layer!r} ({n_in} input channels), got {k}")
    means = channel_means(model, images if reference is None else reference, source)
    positions = unit_positions(model, images, layer, channel)
    ranking = attribution(model, images, layer, channel, positions=positions).mean(0).argsort(descending=True)
    inputs = record(model, images, source)[source]  # recorded once, reused by every ablation
    removed = lambda channels: _fraction_removed(model, inputs, source, layer, channel, channels, means, positions)
    targeted = removed(ranking[:k].tolist())
    g = torch.Generator().manual_seed(seed)
    random = torch.tensor([removed(torch.randperm(n_in, generator=g)[:k].tolist()) for _ in range(n_random)])
    return AblationTest(layer, channel, k, ranking, targeted, random)


def edited_copy(model: nn.Module, layer: str, out_channel: int, in_channels: Sequence[int],
                factor: float = 0.0) -> nn.Module:
    """A copy of ``model`` whose weights from ``in_channels`` into ``out_channel`` of conv
    ``layer`` are multiplied by ``factor`` (0 cuts the connections, -1 flips their sign).

    The original model is untouched, so the edit can be compared with it side by side.
    """
    clone = copy.deepcopy(model).eval()
    conv = conv_layer(clone, layer)
    if not 0 <= out_channel < conv.out_channels:
        raise ValueError(f"out_channel must be in [0, {conv.out_channels}) for {layer!r}, got {out_channel}")
    with torch.no_grad():
        conv.weight[out_channel, list(in_channels)] *= factor
    return clone


def predicted_edit_response(model: nn.Module, images: torch.Tensor, layer: str, channel: int,
                            in_channels: Sequence[int], factor: float = 0.0) -> torch.Tensor:
    """What :func:`edited_copy` will do to the unit, predicted from weights x activations: ``N``.

    Scaling the weights from ``in_channels`` by ``factor`` changes the pre-activation by
    ``(factor - 1)`` times their contributions (:func:`~course_utils.interp.circuits.contributions`);
    then the ReLU and the maximum over positions give the unit's new response to each image.
    """
    return predicted_edit_responses(model, images, layer, channel, [in_channels], factor)[0]


def predicted_edit_responses(model: nn.Module, images: torch.Tensor, layer: str, channel: int,
                             channel_sets: Sequence[Sequence[int]],
                             factor: float = 0.0) -> torch.Tensor:
    """:func:`predicted_edit_response` for many edits at once: ``len(channel_sets) x N``.

    Row ``s`` is the unit's response to each image after scaling the weights from
    ``channel_sets[s]`` by ``factor``. The weight x activation maps are computed once, so
    hundreds of random cuts cost about one forward pass instead of one edited network each
    (chapter 5b compares the cut of its line detectors with random cuts this way).
    """
    maps = contributions(model, images, layer, channel)           # N x C_in x H x W
    pre = maps.sum(1) + conv_layer(model, layer).bias[channel].detach()
    rows = []
    for chosen in channel_sets:
        index = torch.as_tensor(list(chosen), dtype=torch.long)
        edited = pre + (factor - 1) * maps[:, index].sum(1)      # N x H x W
        rows.append(edited.clamp(min=0).flatten(1).amax(1))
    return torch.stack(rows) if rows else torch.zeros(0, len(images))

"""Recording what a layer computes, with forward hooks, by layer name.

In the course's models (:class:`~course_utils.cnn.models.ConvNet`) every layer has a name:
``conv2`` is the convolution's output *before* the nonlinearity and ``relu2`` the same values
*after* it. Interpretability methods usually want the pre-nonlinearity values: after a ReLU,
everything negative is flattened to 0 and its gradient is lost.
"""
from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator, Sequence

import torch
from torch import nn

from course_utils.cnn.layers import get_layer

# Layers whose output depends on train/eval mode: recording them in training mode is a bug.
_MODE_DEPENDENT = (nn.Dropout, nn.BatchNorm1d, nn.BatchNorm2d, nn.Dropout2d)


def check_eval_mode(model: nn.Module) -> None:
    """Raise if ``model`` is in training mode and has layers that behave differently then."""
    if model.training and any(isinstance(m, _MODE_DEPENDENT) for m in model.modules()):
        raise RuntimeError(
            "model is in training mode and has dropout or batch-norm layers, so its activations "
            "would be random or use batch statistics; call model.eval() first"
        )


class _StopForward(Exception):
    """Raised by a hook to end a forward pass once the wanted layer has run."""


@contextmanager
def capture(model: nn.Module, layers: Sequence[str], stop_when_complete: bool = False) -> Iterator[dict[str, torch.Tensor]]:
    """Within the ``with`` block, each forward pass stores ``layers``' outputs in the yielded dict.

    The stored tensors keep their graph, so gradients can flow through them (feature
    visualization needs that); the hooks are removed when the block ends, even on error. With
    ``stop_when_complete`` the forward pass stops (raising ``_StopForward``, see
    :func:`activations`) as soon as every layer has been stored.
    """
    layers = list(dict.fromkeys(layers))
    store: dict[str, torch.Tensor] = {}
    handles = []
    for name in layers:
        def hook(module, inputs, output, name=name):
            store[name] = output
            if stop_when_complete and len(store) == len(layers):
                raise _StopForward
        handles.append(get_layer(model, name).register_forward_hook(hook))
    try:
        yield store
    finally:
        for handle in handles:
            handle.remove()


@torch.no_grad()
def record(model: nn.Module, images: torch.Tensor, layers: Sequence[str] | str, batch_size: int = 256) -> dict[str, torch.Tensor]:
    """Activations of ``layers`` for ``images: N x C x H x W``, batched, returned on the CPU.

    Returns ``{name: N x ...}`` (``N x C x H x W`` for a conv layer, ``N x F`` for a linear one).
    Layers after the last requested one are not run.
    """
    layers = [layers] if isinstance(layers, str) else list(layers)
    check_eval_mode(model)
    device = next(model.parameters()).device
    chunks: dict[str, list[torch.Tensor]] = {name: [] for name in layers}
    for start in range(0, len(images), batch_size):
        outputs = activations(model, images[start : start + batch_size].to(device), layers)
        for name in layers:
            chunks[name].append(outputs[name].detach().cpu())
    return {name: torch.cat(parts) for name, parts in chunks.items()}


def activations(model: nn.Module, images: torch.Tensor, layers: Sequence[str]) -> dict[str, torch.Tensor]:
    """``layers``' outputs for ``images: N x C x H x W``, *with* their graph, skipping later layers.

    Unlike :func:`record` this keeps gradients (feature visualization needs them) and stops the
    forward pass as soon as every wanted layer has run, which saves the cost of the rest of the
    network when the loop calls it hundreds of times.
    """
    layers = list(dict.fromkeys(layers))
    with capture(model, layers, stop_when_complete=True) as store:
        try:
            model(images)
        except _StopForward:
            pass
    missing = [name for name in layers if name not in store]
    if missing:  # e.g. a layer the forward pass never calls
        raise RuntimeError(f"layers {missing} did not run during the forward pass")
    return store


def forward_to(model: nn.Module, images: torch.Tensor, layer: str) -> torch.Tensor:
    """The output of ``layer`` for ``images: N x C x H x W``, with its graph (see :func:`activations`)."""
    return activations(model, images, [layer])[layer]


Position = tuple[int, int] | torch.Tensor   # one (y, x) for every image, or N x 2: one each


def unit_values(acts: torch.Tensor, channel: int | None = None, at: Position | None = None,
                reduce: str = "mean") -> torch.Tensor:
    """One value per image for one unit, from recorded activations: ``N`` (``N x C`` for
    every channel, ``channel=None``). The one reduction of the book's unit readings.

    ``acts`` is ``N x C x H x W`` (a conv layer) or ``N x F`` (a linear layer, whose values are
    read as they are). In a conv map, ``at`` picks one neuron: a position ``(y, x)`` for every
    image, or an ``N x 2`` tensor of one position per image. Without ``at`` the map is reduced
    over positions: ``"mean"`` (the channel's average) or ``"max"`` (its strongest response
    anywhere, whatever the stimulus's exact place).
    """
    if acts.ndim not in (2, 4):
        raise ValueError(f"acts must be N x F or N x C x H x W, got shape {tuple(acts.shape)}")
    if channel is not None and not 0 <= channel < acts.shape[1]:
        raise ValueError(f"channel must be in [0, {acts.shape[1]}), got {channel}")
    if reduce not in ("mean", "max"):
        raise ValueError(f"reduce must be 'mean' or 'max', got {reduce!r}")
    maps = acts if channel is None else acts[:, channel : channel + 1]   # N x C' (x H x W)
    if maps.ndim == 4 and at is not None:
        maps = _at(maps, at)
    elif maps.ndim == 4:
        maps = maps.mean((2, 3)) if reduce == "mean" else maps.flatten(2).amax(2)
    return maps if channel is None else maps[:, 0]


def _at(maps: torch.Tensor, at: Position) -> torch.Tensor:
    """``maps: N x C x H x W`` read at one position, or at one position per image: ``N x C``."""
    if isinstance(at, torch.Tensor) and at.ndim == 2:
        if at.shape != (len(maps), 2):
            raise ValueError(f"positions must be N x 2 = {len(maps)} x 2, got {tuple(at.shape)}")
        return maps[torch.arange(len(maps)), :, at[:, 0], at[:, 1]]
    if len(at) != 2:
        raise ValueError(f"at must be a position (y, x) or an N x 2 tensor, got {at!r}")
    return maps[:, :, int(at[0]), int(at[1])]


def best_positions(acts: torch.Tensor, channel: int, largest: bool = True
                   ) -> tuple[torch.Tensor, torch.Tensor]:
    """Per image, the strongest (or weakest) response of ``channel`` and where it is.

    ``acts`` is ``N x C x H x W`` (returns values ``N`` and positions ``N x 2``, which
    :func:`unit_values` reads back with ``at=``) or ``N x F`` (positions are ``-1``).
    """
    if acts.ndim == 2:
        return acts[:, channel], torch.full((len(acts), 2), -1, dtype=torch.long)
    if acts.ndim != 4:
        raise ValueError(f"acts must be N x F or N x C x H x W, got shape {tuple(acts.shape)}")
    maps = acts[:, channel].flatten(1)  # N x (H*W)
    values, flat = maps.max(1) if largest else maps.min(1)
    width = acts.shape[-1]
    return values, torch.stack([flat // width, flat % width], 1)

"""Recording what a layer computes, with forward hooks, by layer name.

In the course's models (:class:`~course_utils.models.ConvNet`) every layer has a name:
``conv2`` is the convolution's output *before* the nonlinearity and ``relu2`` the same values
*after* it. Interpretability methods usually want the pre-nonlinearity values: after a ReLU,
everything negative is flattened to 0 and its gradient is lost.
"""
from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator, Sequence

import torch
from torch import nn

# Layers whose output depends on train/eval mode: recording them in training mode is a bug.
_MODE_DEPENDENT = (nn.Dropout, nn.BatchNorm1d, nn.BatchNorm2d, nn.Dropout2d)


def layer_names(model: nn.Module) -> list[str]:
    """Every hookable name in ``model`` (as in ``model.named_modules()``), excluding the root."""
    return [name for name, _ in model.named_modules() if name]


class UnknownLayerError(KeyError, ValueError):
    """An unknown layer name. A ``KeyError`` (a failed lookup) and a ``ValueError`` (a bad argument),
    so either ``except`` catches it; its message lists the valid names."""

    def __str__(self) -> str:  # KeyError would print the message inside quotes
        return str(self.args[0])


def get_layer(model: nn.Module, name: str) -> nn.Module:
    """The sub-module called ``name``; an unknown name raises and lists the valid ones."""
    modules = dict(model.named_modules())
    if not name or name not in modules:
        raise UnknownLayerError(f"no layer named {name!r}; valid layer names: {', '.join(layer_names(model))}")
    return modules[name]


def conv_layer_names(model: nn.Module) -> list[str]:
    """Names of the ``nn.Conv2d`` layers, in order: in the course's models these are the
    pre-nonlinearity outputs (``conv1``, ``conv2``, ...) that interpretability methods hook."""
    return [name for name, m in model.named_modules() if isinstance(m, nn.Conv2d)]


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


def unit_values(acts: torch.Tensor, channel: int, y: int | None = None, x: int | None = None) -> torch.Tensor:
    """One unit's values from recorded activations, one number per image: ``N``.

    ``acts`` is ``N x C x H x W`` (a conv layer) or ``N x F`` (a linear layer). For a conv layer
    give a position ``(y, x)`` for one neuron; without it the channel's spatial mean is returned.
    """
    if acts.ndim not in (2, 4):
        raise ValueError(f"acts must be N x F or N x C x H x W, got shape {tuple(acts.shape)}")
    if not 0 <= channel < acts.shape[1]:
        raise ValueError(f"channel must be in [0, {acts.shape[1]}), got {channel}")
    if acts.ndim == 2:
        return acts[:, channel]
    if (y is None) != (x is None):
        raise ValueError("give both y and x (one neuron) or neither (the channel mean)")
    return acts[:, channel].mean((-2, -1)) if y is None else acts[:, channel, y, x]

"""Layers by name: finding one, the order of a sequential model, running part of it.

In the course's models (:class:`~course_utils.cnn.models.ConvNet`) every layer has a name
(``conv1``, ``relu1``, ``pool1``, ...), which the interpretability tools take wherever they need
a layer: hooks record it (:mod:`course_utils.interp.hooks`), circuits read its weights, interventions
run the network from it. Every lookup goes through :func:`get_layer`, so a wrong name always
fails the same way, listing the valid ones.
"""
from __future__ import annotations

import torch
from torch import nn


class UnknownLayerError(KeyError, ValueError):
    """An unknown layer name. A ``KeyError`` (a failed lookup) and a ``ValueError`` (a bad
    argument), so either ``except`` catches it; its message lists the valid names."""

    def __str__(self) -> str:  # KeyError would print the message inside quotes
        return str(self.args[0])


def layer_names(model: nn.Module) -> list[str]:
    """Every hookable name in ``model`` (as in ``model.named_modules()``), excluding the root."""
    return [name for name, _ in model.named_modules() if name]


def get_layer(model: nn.Module, name: str) -> nn.Module:
    """The sub-module called ``name`` (``"features.3"`` reaches inside blocks, as in
    ``nn.Module.get_submodule``); an unknown name raises and lists the valid ones."""
    if name:   # "" would be the model itself, which is not a layer
        try:
            return model.get_submodule(name)
        except AttributeError:
            pass
    raise UnknownLayerError(f"no layer named {name!r}; valid layer names: "
                            f"{', '.join(layer_names(model))}")


def conv_layer_names(model: nn.Module) -> list[str]:
    """Names of the ``nn.Conv2d`` layers, in order: in the course's models these are the
    pre-nonlinearity outputs (``conv1``, ``conv2``, ...) that interpretability methods hook."""
    return [name for name, m in model.named_modules() if isinstance(m, nn.Conv2d)]


def conv_layer(model: nn.Module, layer: str) -> nn.Conv2d:
    """The ``nn.Conv2d`` called ``layer``; anything else raises, naming what it is."""
    module = get_layer(model, layer)
    if not isinstance(module, nn.Conv2d):
        raise ValueError(f"layer {layer!r} is a {type(module).__name__}; "
                         f"expected a Conv2d (e.g. 'conv3')")
    return module


def top_level_names(model: nn.Module, *layers: str) -> list[str]:
    """The names of a sequential ``model``'s layers in order; each of ``layers`` must be one."""
    names = [name for name, _ in model.named_children()]
    for layer in layers:
        if layer not in names:
            get_layer(model, layer)  # an unknown name raises, listing the valid names
            raise ValueError(f"layer {layer!r} is not a top-level layer of this sequential model")
    return names


def input_layer(model: nn.Module, layer: str) -> str | None:
    """Name of the layer whose output feeds ``layer`` in a sequential model (``None``: the image).

    In a ConvNet ``input_layer(model, "conv3") == "pool2"``: the max-pooled, rectified conv2
    channels are what conv3's weights read.
    """
    names = top_level_names(model, layer)
    index = names.index(layer)
    return names[index - 1] if index > 0 else None


def run_between(model: nn.Module, x: torch.Tensor, start: str | None, stop: str) -> torch.Tensor:
    """Run a sequential ``model`` from the output of layer ``start`` (``None``: the image ``x``)
    through layer ``stop`` inclusive, and return ``stop``'s output."""
    names = top_level_names(model, *((stop,) if start is None else (start, stop)))
    first = 0 if start is None else names.index(start) + 1
    last = names.index(stop)
    if last < first:
        raise ValueError(f"layer {stop!r} comes before {start!r}; expected a later layer")
    for name in names[first : last + 1]:
        x = getattr(model, name)(x)
    return x


def model_shape(model: nn.Module, layer: str | None) -> tuple[int, ...]:
    """Shape of one example at the output of ``layer`` (``None``: the input ``C x H x W``), for a
    model with ``in_channels`` and ``image_size`` attributes such as a ConvNet."""
    image = torch.zeros(1, model.in_channels, model.image_size, model.image_size)
    if layer is None:
        return tuple(image.shape[1:])
    with torch.no_grad():
        return tuple(run_between(model, image, None, layer).shape[1:])

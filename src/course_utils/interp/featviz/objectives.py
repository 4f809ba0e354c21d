"""Objectives: what feature visualization maximizes, and how objectives combine.

An :class:`Objective` maps recorded activations ``{layer name: tensor}`` to one value *per batch
item* (shape ``N``); the render loop maximizes their sum. Objectives combine like numbers::

    channel("conv2", 3) - 0.5 * channel("conv2", 7)      # one feature but not another
    channel("conv3", 1) + 0.2 * diversity("conv3")      # several different images of one unit
    sum(channel("conv1", c, batch=i) for i, c in enumerate(range(8)))   # 8 units at once

Hook the convolution output *before* the ReLU (``conv2``, not ``relu2``): after a ReLU a unit
that starts negative has value 0 and gradient 0, so optimization could never start.
"""
from __future__ import annotations

from typing import Callable, Sequence

import torch
import torch.nn.functional as F

Values = Callable[[dict[str, torch.Tensor]], torch.Tensor]


class Objective:
    """A named function ``acts -> values N`` with the set of ``layers`` it reads."""

    def __init__(self, fn: Values, name: str, layers: Sequence[str]) -> None:
        self.fn, self.name, self.layers = fn, name, tuple(dict.fromkeys(layers))

    def __call__(self, acts: dict[str, torch.Tensor]) -> torch.Tensor:
        return self.fn(acts)

    def __add__(self, other: "Objective | float") -> "Objective":
        if isinstance(other, (int, float)):
            return Objective(lambda a: self(a) + other, f"{self.name} + {other:g}", self.layers)
        return Objective(lambda a: self(a) + other(a), f"{self.name} + {other.name}", self.layers + other.layers)

    def __radd__(self, other: float) -> "Objective":  # makes sum([...]) work (it starts from 0)
        return self + other if other != 0 else self

    def __neg__(self) -> "Objective":
        return Objective(lambda a: -self(a), f"-({self.name})", self.layers)

    def __sub__(self, other: "Objective | float") -> "Objective":
        return self + (-other)

    def __rsub__(self, other: float) -> "Objective":
        return (-self) + other

    def __mul__(self, factor: float) -> "Objective":
        if not isinstance(factor, (int, float)):
            raise TypeError(f"an objective can be multiplied by a number, not by {type(factor).__name__}")
        return Objective(lambda a: factor * self(a), f"{factor:g} * ({self.name})", self.layers)

    __rmul__ = __mul__

    def __truediv__(self, divisor: float) -> "Objective":
        return self * (1.0 / divisor)

    def __repr__(self) -> str:
        return f"Objective({self.name})"


def _only(values: torch.Tensor, batch: int | None) -> torch.Tensor:
    """Keep the value of batch item ``batch`` only (others 0), so items can get different goals."""
    if batch is None:
        return values
    if not 0 <= batch < len(values):
        raise ValueError(f"batch index {batch} out of range for a batch of {len(values)} images")
    mask = torch.zeros_like(values)
    mask[batch] = 1.0
    return values * mask


def _check_channel(acts: torch.Tensor, layer: str, index: int) -> None:
    if not 0 <= index < acts.shape[1]:
        raise ValueError(f"{layer!r} has {acts.shape[1]} channels/features, got index {index}")


def channel(layer: str, index: int, batch: int | None = None) -> Objective:
    """Mean of channel ``index`` over all positions (conv layer) or feature ``index`` (linear layer)."""
    def fn(acts):
        a = acts[layer]
        _check_channel(a, layer, index)
        values = a[:, index].flatten(1).mean(1) if a.ndim == 4 else a[:, index]
        return _only(values, batch)
    return Objective(fn, f"channel({layer}:{index})", [layer])


def neuron(layer: str, index: int, y: int | None = None, x: int | None = None, batch: int | None = None) -> Objective:
    """One unit: channel ``index`` at position ``(y, x)``, the centre of the map by default."""
    def fn(acts):
        a = acts[layer]
        _check_channel(a, layer, index)
        if a.ndim == 2:
            return _only(a[:, index], batch)
        h, w = a.shape[-2:]
        yy, xx = (h // 2 if y is None else y), (w // 2 if x is None else x)
        if not (0 <= yy < h and 0 <= xx < w):
            raise ValueError(f"position ({yy}, {xx}) is outside {layer!r}'s {h}x{w} map")
        return _only(a[:, index, yy, xx], batch)
    return Objective(fn, f"neuron({layer}:{index})", [layer])


def direction(layer: str, vector: torch.Tensor, batch: int | None = None, cosine: bool = True) -> Objective:
    """Alignment of the activation vector with ``vector`` (length = channels), averaged over positions.

    ``cosine=True``: cosine similarity, which rewards the *direction* and not sheer size (a plain
    dot product can grow by making every unit large). ``cosine=False``: the dot product.
    """
    vector = torch.as_tensor(vector, dtype=torch.float32).flatten()

    def fn(acts):
        a = acts[layer]
        if a.shape[1] != len(vector):
            raise ValueError(f"direction has {len(vector)} entries but {layer!r} has {a.shape[1]} channels")
        a = a if a.ndim == 4 else a[:, :, None, None]
        v = vector.view(1, -1, 1, 1)
        per_position = F.cosine_similarity(a, v.expand_as(a), dim=1) if cosine else (a * v).sum(1)
        return _only(per_position.flatten(1).mean(1), batch)
    return Objective(fn, f"direction({layer})", [layer])


def diversity(layer: str) -> Objective:
    """Minus each image's mean cosine similarity to the others' Gram matrices ("style").

    Adding ``w * diversity(layer)`` pushes a batch of visualizations of one unit apart, so they
    show different things that excite it (Olah et al. 2017). The Gram matrix here is of the
    mean-removed features (their covariance over positions): without centring, a shared
    offset (biases, the positive mean after a ReLU) makes every Gram matrix alike and the term
    has almost no gradient on small networks. Needs a conv layer and a batch of at least 2.
    """
    def fn(acts):
        a = acts[layer]
        if a.ndim != 4 or len(a) < 2:
            raise ValueError(f"diversity needs a conv layer and a batch of >= 2 images, got shape {tuple(a.shape)}")
        n, c = a.shape[:2]
        flat = a.reshape(n, c, -1)
        flat = flat - flat.mean(-1, keepdim=True)                                # N x C x positions
        gram = F.normalize((flat @ flat.transpose(1, 2)).reshape(n, -1), dim=1)  # N x C*C, unit length
        similarity = gram @ gram.T                                              # N x N
        return -(similarity.sum(1) - similarity.diagonal()) / (n - 1)
    return Objective(fn, f"diversity({layer})", [layer])

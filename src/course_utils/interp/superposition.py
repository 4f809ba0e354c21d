"""The toy model of superposition: more sparse features than dimensions (chapter 6).

Elhage et al. (2022), "Toy Models of Superposition": ``n`` features ``x`` are squeezed into
``m < n`` hidden dimensions, ``h = W x``, and read back out, ``x' = ReLU(W^T h + b)``, with the
reconstruction error of feature ``i`` weighted by its importance. When the features are dense
the model keeps the ``m`` most important ones, one per dimension, and drops the rest; when they
are sparse it packs more features than dimensions into the hidden space, at the price of
*interference* between their directions. Column ``W_i`` (``m`` numbers) is feature ``i``'s
direction in the hidden space; the measures below read the model off these columns.

Several models are trained side by side as *instances* (one per sparsity, say): ``W`` is
``I x m x n``. The instances share nothing but the batches' random stream, so a sweep of
sparsities costs about as much as one model.
"""
from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from course_utils.cnn.training import torch_threads

REPRESENTED = 0.5   # a feature with a column norm above this counts as represented


def importance_weights(n_features: int, decay: float = 0.9) -> torch.Tensor:
    """Importance ``decay ** i`` of feature ``i``: ``n``; feature 0 matters most."""
    if n_features < 1:
        raise ValueError(f"n_features must be >= 1, got {n_features}")
    return decay ** torch.arange(n_features, dtype=torch.float32)


def sample_features(batch_size: int, n_features: int, sparsity: float | Sequence[float],
                    generator: torch.Generator | None = None) -> torch.Tensor:
    """Synthetic sparse features: each is 0 with probability ``sparsity``, else uniform in [0, 1].

    A float ``sparsity`` gives ``batch_size x n``; a sequence of ``I`` sparsities gives
    ``I x batch_size x n``, one batch per instance.
    """
    s = torch.as_tensor(sparsity, dtype=torch.float32)
    if s.ndim > 1 or bool(((s < 0) | (s >= 1)).any()):
        raise ValueError(f"sparsity must be a float or a list of floats in [0, 1), got {sparsity}")
    s = s.reshape(*s.shape, 1, 1)
    u = torch.rand((*s.shape[:-2], batch_size, n_features), generator=generator)
    # One draw does both jobs: u >= s has probability 1 - s, and given that, (u - s) / (1 - s)
    # is uniform in [0, 1].
    return torch.where(u >= s, (u - s) / (1 - s), torch.zeros(()))


def toy_forward(W: torch.Tensor, b: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """``ReLU(W^T W x + b)`` for ``W: ... x m x n``, ``b: ... x n``, ``x: ... x B x n`` -> ``... x B x n``."""
    if W.shape[-1] != x.shape[-1] or b.shape[-1] != x.shape[-1]:
        raise ValueError(f"W (... x m x n), b (... x n) and x (... x B x n) must share n, got "
                         f"{tuple(W.shape)}, {tuple(b.shape)} and {tuple(x.shape)}")
    h = x @ W.transpose(-1, -2)                              # ... x B x m
    return F.relu(h @ W + b.unsqueeze(-2))                   # ... x B x n


def toy_loss(x_hat: torch.Tensor, x: torch.Tensor, importance: torch.Tensor) -> torch.Tensor:
    """Importance-weighted squared error, ``mean_b mean_i importance_i (x'_i - x_i)^2``.

    ``x_hat, x: ... x B x n``, ``importance: n``; returns one loss per instance (``...``).
    """
    return (importance * (x_hat - x) ** 2).mean((-1, -2))


class ToyModel(nn.Module):
    """``I`` independent toy models: ``W: I x m x n`` (column ``W[k, :, i]`` is feature ``i``), ``b: I x n``."""

    def __init__(self, n_features: int, n_hidden: int, n_instances: int = 1,
                 generator: torch.Generator | None = None):
        super().__init__()
        if not 1 <= n_hidden <= n_features:
            raise ValueError(f"need 1 <= n_hidden <= n_features, got m={n_hidden}, n={n_features}")
        std = (2.0 / (n_features + n_hidden)) ** 0.5   # Xavier normal, as in Elhage et al.
        W = torch.randn(n_instances, n_hidden, n_features, generator=generator) * std
        self.W = nn.Parameter(W)
        self.b = nn.Parameter(torch.zeros(n_instances, n_features))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x: I x B x n`` -> reconstruction ``I x B x n``."""
        return toy_forward(self.W, self.b, x)

    def __repr__(self) -> str:
        i, m, n = self.W.shape
        return f"ToyModel({i} instance(s), {n} features in {m} dimensions)"


def train_toy_model(n_features: int, n_hidden: int, sparsity: float | Sequence[float],
                    importance: torch.Tensor, steps: int = 3000, seed: int = 0,
                    batch_size: int = 1024, lr: float = 1e-2) -> ToyModel:
    """Train toy models on fresh sparse batches, AdamW without weight decay, on one thread.

    A sequence of ``I`` sparsities trains ``I`` instances at once (``W: I x m x n``); a float
    trains one. ``importance: n``. The initial weights and the batches come from one local
    ``torch.Generator`` seeded with ``seed``: the global random state is left alone.
    """
    sparsities = [float(sparsity)] if isinstance(sparsity, (int, float)) else list(sparsity)
    importance = torch.as_tensor(importance, dtype=torch.float32)
    if importance.shape != (n_features,):
        raise ValueError(f"importance must have n_features={n_features} entries, "
                         f"got shape {tuple(importance.shape)}")
    generator = torch.Generator().manual_seed(seed)
    model = ToyModel(n_features, n_hidden, len(sparsities), generator)
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.0)
    with torch_threads(1):
        for _ in range(steps):
            x = sample_features(batch_size, n_features, sparsities, generator)
            # the sum keeps each instance's gradient its own
            loss = toy_loss(model(x), x, importance).sum()
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    return model.eval()


def _weights(W: torch.Tensor | ToyModel) -> torch.Tensor:
    W = W.W if isinstance(W, ToyModel) else W
    if W.ndim < 2:
        raise ValueError(f"W must be m x n (or I x m x n), got shape {tuple(W.shape)}")
    return W.detach()


def feature_norms(W: torch.Tensor | ToyModel) -> torch.Tensor:
    """``||W_i||``, the length of each feature's column: ``... x m x n`` -> ``... x n``."""
    return _weights(W).norm(dim=-2)


def interference(W: torch.Tensor | ToyModel) -> torch.Tensor:
    """``sum_{j != i} (W^_i . W_j)^2`` per feature, ``W^_i = W_i / ||W_i||``: ``... x m x n`` -> ``... x n``.

    How much of the other features leaks into feature ``i``'s direction. 0 for orthogonal
    columns; a feature with a zero column has no direction and interference 0.
    """
    W = _weights(W)
    unit = F.normalize(W, dim=-2)                  # zero columns stay zero
    overlaps = unit.transpose(-1, -2) @ W          # ... x n x n, [i, j] = W^_i . W_j
    return (overlaps**2).sum(-1) - torch.diagonal(overlaps, dim1=-2, dim2=-1) ** 2


def features_represented(W: torch.Tensor | ToyModel, threshold: float = REPRESENTED) -> torch.Tensor:
    """How many features have ``||W_i|| > threshold``: ``... x m x n`` -> ``...`` (integers)."""
    return (feature_norms(W) > threshold).sum(-1)


def dimensions_per_feature(W: torch.Tensor | ToyModel) -> torch.Tensor:
    """Elhage et al.'s ``m / ||W||_F^2``: ``... x m x n`` -> ``...``.

    ``||W||_F^2`` roughly counts the features represented (a learned column has norm near 1),
    so this is the number of hidden dimensions each of them gets: 1 for one feature per
    dimension, 1/2 for two features sharing a dimension (antipodal pairs), 2/5 for a pentagon.
    """
    W = _weights(W)
    return W.shape[-2] / (W**2).sum((-1, -2))

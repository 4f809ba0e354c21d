"""Dictionary learning with a sparse autoencoder, and how monosemantic a unit is (chapter 6).

If a layer holds more features than it has neurons (superposition, see
:mod:`course_utils.interp.superposition`), its neurons are mixtures and each may respond to
several unrelated things: they are *polysemantic*. A **sparse autoencoder** (Bricken et al.
2023, "Towards Monosemanticity") tries to undo the mixing: it rewrites each activation vector
``x`` (``d`` numbers) as a sparse non-negative combination of many more learned directions,

    f = ReLU(W_enc (x - b_dec) + b_enc),    x' = W_dec f + b_dec,

with unit-norm columns of ``W_dec`` (the *dictionary*) and an L1 penalty on ``f``. Each
column is a candidate feature. :func:`effective_classes` scores any set of units (neurons,
NMF directions, dictionary features) on one scale: how many classes its top images come from.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from course_utils.cnn.training import torch_threads


class SparseAutoencoder(nn.Module):
    """``d`` inputs, ``F`` features: ``W_enc: F x d``, ``b_enc: F``, ``W_dec: d x F``, ``b_dec: d``.

    ``scale`` (a buffer) divides the inputs first, so that the L1 coefficient means the same
    whatever the size of the activations; the decoder multiplies it back.
    """

    def __init__(self, n_inputs: int, n_features: int, generator: torch.Generator | None = None):
        super().__init__()
        if n_inputs < 1 or n_features < 1:
            raise ValueError(f"need n_inputs >= 1 and n_features >= 1, got {n_inputs}, {n_features}")
        decoder = F.normalize(torch.randn(n_inputs, n_features, generator=generator), dim=0)
        self.W_dec = nn.Parameter(decoder)
        self.W_enc = nn.Parameter(decoder.T.clone())   # tied at the start, free afterwards
        self.b_enc = nn.Parameter(torch.zeros(n_features))
        self.b_dec = nn.Parameter(torch.zeros(n_inputs))
        self.register_buffer("scale", torch.ones(()))

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """Feature activations: ``x: N x d`` -> ``N x F`` (non-negative)."""
        if x.ndim != 2 or x.shape[1] != self.W_dec.shape[0]:
            raise ValueError(f"x must be N x {self.W_dec.shape[0]}, got shape {tuple(x.shape)}")
        return F.relu((x / self.scale - self.b_dec) @ self.W_enc.T + self.b_enc)

    def decode(self, f: torch.Tensor) -> torch.Tensor:
        """Reconstruction from features: ``f: N x F`` -> ``N x d``."""
        return (f @ self.W_dec.T + self.b_dec) * self.scale

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``x: N x d`` -> ``(x': N x d, f: N x F)``."""
        f = self.encode(x)
        return self.decode(f), f

    @torch.no_grad()
    def normalize_decoder(self) -> None:
        """Give every dictionary column unit norm (otherwise the L1 penalty could be dodged by
        shrinking ``f`` and growing the column)."""
        self.W_dec.copy_(F.normalize(self.W_dec, dim=0))

    def __repr__(self) -> str:
        d, n = self.W_dec.shape
        return f"SparseAutoencoder({d} inputs -> {n} features)"


def sae_loss(x: torch.Tensor, x_hat: torch.Tensor, f: torch.Tensor, l1: float) -> torch.Tensor:
    """``mean_n ||x_n - x'_n||^2 + l1 * mean_n ||f_n||_1`` for ``x, x_hat: N x d``, ``f: N x F``."""
    return ((x - x_hat) ** 2).sum(1).mean() + l1 * f.abs().sum(1).mean()


def train_sae(acts: torch.Tensor, n_features: int, l1: float = 1.0, steps: int = 2000,
              seed: int = 0, batch_size: int = 256, lr: float = 1e-3) -> SparseAutoencoder:
    """A sparse autoencoder fitted to ``acts: N x d`` with Adam, on one thread.

    The inputs are scaled so that their mean squared norm is ``d`` (the loss is computed on
    the scaled values), ``b_dec`` starts at their mean, and the decoder columns are put back
    to unit norm after every step. The weights and the batches come from a local generator
    seeded with ``seed``.
    """
    if acts.ndim != 2:
        raise ValueError(f"acts must be N x d (flatten conv maps first), got shape {tuple(acts.shape)}")
    acts = acts.detach().float()
    generator = torch.Generator().manual_seed(seed)
    sae = SparseAutoencoder(acts.shape[1], n_features, generator)
    with torch.no_grad():
        sae.scale.copy_(((acts**2).sum(1).mean() / acts.shape[1]).sqrt().clamp(min=1e-12))
        sae.b_dec.copy_(acts.mean(0) / sae.scale)
    optimizer = torch.optim.Adam(sae.parameters(), lr=lr)
    with torch_threads(1):
        for _ in range(steps):
            batch = acts[torch.randint(len(acts), (batch_size,), generator=generator)]
            x_hat, f = sae(batch)
            loss = sae_loss(batch / sae.scale, x_hat / sae.scale, f, l1)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            sae.normalize_decoder()
    return sae.eval()


@dataclass
class SAEStats:
    """How well a sparse autoencoder rewrites a set of activations.

    ``fvu``: fraction of variance unexplained, ``sum ||x - x'||^2 / sum ||x - mean(x)||^2``
    (0 perfect, 1 no better than the mean); ``mean_l0``: features active per example, on
    average; ``dead``: features active on none of the examples; ``n_features``: all of them.
    """

    fvu: float
    mean_l0: float
    dead: int
    n_features: int

    def __repr__(self) -> str:
        return (f"SAEStats(unexplained variance {self.fvu:.3f}, {self.mean_l0:.1f} active "
                f"features per example, {self.dead} of {self.n_features} dead)")


def fraction_unexplained(x: torch.Tensor, x_hat: torch.Tensor) -> float:
    """``sum ||x - x'||^2 / sum ||x - mean(x)||^2`` over ``x, x_hat: N x d``."""
    if x.shape != x_hat.shape:
        raise ValueError(f"x and x_hat must have the same shape, got {tuple(x.shape)} and {tuple(x_hat.shape)}")
    return float(((x - x_hat) ** 2).sum() / ((x - x.mean(0)) ** 2).sum().clamp(min=1e-12))


@torch.no_grad()
def sae_stats(sae: SparseAutoencoder, acts: torch.Tensor) -> SAEStats:
    """Reconstruction error and sparsity of ``sae`` on ``acts: N x d``."""
    x_hat, f = sae(acts.float())
    active = f > 0
    return SAEStats(fraction_unexplained(acts.float(), x_hat), float(active.sum(1).float().mean()),
                    int((~active.any(0)).sum()), f.shape[1])


def effective_classes(acts: torch.Tensor, labels: torch.Tensor, k: int = 50,
                      num_classes: int | None = None) -> torch.Tensor:
    """How many classes each unit's top ``k`` examples come from: ``acts: N x U``, ``labels: N`` -> ``U``.

    For each unit (a neuron, a direction's projections, a dictionary feature: any column of
    ``acts``), take the ``k`` examples where it is largest and the share ``p_c`` of each class
    among them; the score is ``exp(-sum_c p_c log p_c)``, the *effective* number of classes:
    1 when all ``k`` share one class (monosemantic for the labels), 2 for an even split of two,
    up to ``min(k, classes)``. A unit positive on fewer than ``k`` examples has no top ``k``:
    its score is NaN (count those apart, as rare or dead).
    """
    if acts.ndim != 2 or labels.shape != (len(acts),):
        raise ValueError(f"acts must be N x U and labels N, got {tuple(acts.shape)} and {tuple(labels.shape)}")
    if not 1 <= k <= len(acts):
        raise ValueError(f"k must be in [1, N={len(acts)}], got {k}")
    num_classes = int(labels.max()) + 1 if num_classes is None else num_classes
    values, top = acts.float().topk(k, dim=0)                       # k x U
    shares = F.one_hot(labels[top], num_classes).float().mean(0)    # U x classes
    entropy = -(shares * shares.clamp(min=1e-12).log()).sum(1)
    score = entropy.exp()
    return torch.where(values[-1] > 0, score, torch.full_like(score, float("nan")))

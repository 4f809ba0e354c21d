"""Is the neuron basis special? Statistics of activation-space axes (chapter 5a).

"Features are directions" leaves open whether the coordinate axes (neurons) matter. A test
must give different answers under the two hypotheses:

- *only directions matter*: the representation would work the same after any rotation, so
  the neuron axes would look like random axes;
- *the basis is privileged*: something acts on each neuron separately (the ReLU), so the
  activations along neurons are distributed differently from those along random directions.

A rotation-invariant measurement (a linear probe without per-axis scaling) cannot tell them
apart. The statistics here are computed per axis and compared with the same statistic along
randomly rotated axes (:func:`course_utils.interp.probes.random_rotation`): excess kurtosis (how
heavy-tailed, i.e. sparse, an axis is) and the best one-vs-rest AUC (how well one axis alone
separates one class from the others, unchanged by any offset or positive scale of the axis).
"""
from __future__ import annotations

import torch
from scipy.stats import rankdata


def _check_matrix(features: torch.Tensor) -> None:
    if features.ndim != 2 or len(features) < 2:
        raise ValueError(f"features must be N x D with N >= 2, got shape {tuple(features.shape)}")


def excess_kurtosis(features: torch.Tensor) -> torch.Tensor:
    """Excess kurtosis of each column of ``features: N x D``: ``D`` values.

    ``E[(x - mean)^4] / var^2 - 3``: 0 for a Gaussian, large for a sparse, heavy-tailed axis
    (mostly near zero, sometimes large). A constant column (a dead unit) gives NaN: select the
    live units first.
    """
    _check_matrix(features)
    x = features.double() - features.double().mean(0)
    variance = (x**2).mean(0)
    kurtosis = (x**4).mean(0) / variance**2 - 3.0
    return torch.where(variance > 0, kurtosis, torch.nan).float()


def one_vs_rest_auc(features: torch.Tensor, labels: torch.Tensor, num_classes: int | None = None) -> torch.Tensor:
    """ROC AUC of each column of ``features: N x D`` for each class against the rest: ``classes x D``.

    The AUC is the probability that an image of the class scores higher on the axis than an
    image of another class (ties count half), from the ranks (Mann-Whitney). It depends only on
    the order of the values, so an offset or a positive scale of the axis changes nothing.
    """
    _check_matrix(features)
    if len(labels) != len(features):
        raise ValueError(f"features has {len(features)} rows but labels has {len(labels)}")
    num_classes = int(labels.max()) + 1 if num_classes is None else num_classes
    ranks = torch.tensor(rankdata(features.double().numpy(), axis=0), dtype=torch.float64)  # N x D
    aucs = []
    for c in range(num_classes):
        member = labels == c
        n_pos, n_neg = int(member.sum()), int((~member).sum())
        if n_pos == 0 or n_neg == 0:
            raise ValueError(f"class {c} needs images inside and outside it, got {n_pos} and {n_neg}")
        aucs.append((ranks[member].sum(0) - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))
    return torch.stack(aucs).float()


def best_class_auc(features: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """How well each axis of ``features: N x D`` alone picks out one class: ``D`` values in [0.5, 1].

    The largest over classes of ``max(AUC, 1 - AUC)`` (:func:`one_vs_rest_auc`): a direction and
    its opposite are the same axis, so an axis that is *low* for one class counts too. 0.5: the
    axis orders the images without regard to any class; 1: one class is perfectly separated.
    """
    auc = one_vs_rest_auc(features, labels)
    return torch.maximum(auc, 1 - auc).max(0).values

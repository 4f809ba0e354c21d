"""Features as directions: linear probes, concept directions, selectivity and NMF (chapters 4, 5a).

A *linear probe* asks how much of a property (here the class) can be read off a layer's
activations by a linear classifier: if probe accuracy rises layer by layer, the layers make the
property more and more linearly available. A *direction* in activation space is any unit vector;
a neuron is just one special direction, the coordinate axis. Comparing neurons with rotated
(random) axes and with directions found by NMF tests whether the neuron basis is special.
Every function takes activations as tensors: record them with :func:`course_utils.interp.hooks.record`.
A *regression probe* (:func:`probe_r2`) asks the same of a continuous property, such as the
radius or position of the arc that made an image (chapter 5c).
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from sklearn.decomposition import NMF
from scipy.linalg import LinAlgWarning
from sklearn.linear_model import LogisticRegression, RidgeClassifier, RidgeCV
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler
from torch import nn

from course_utils.interp.hooks import record


def flatten_features(acts: torch.Tensor, pool_size: int | None = None) -> torch.Tensor:
    """Activations as one vector per image: ``N x C x H x W`` -> ``N x (C * p * p)``, ``N x F`` unchanged.

    ``pool_size`` ``p`` first averages each map down to ``p x p`` (adaptive average pooling), which
    keeps probes small and fast; ``None`` keeps every position.
    """
    if acts.ndim == 2:
        return acts.float()
    if acts.ndim != 4:
        raise ValueError(f"acts must be N x F or N x C x H x W, got shape {tuple(acts.shape)}")
    if pool_size is not None and pool_size < acts.shape[-1]:
        acts = F.adaptive_avg_pool2d(acts, pool_size)
    return acts.flatten(1).float()


PROBES = ("ridge", "logistic")


def fit_probe(features: torch.Tensor, labels: torch.Tensor, kind: str = "ridge", alpha: float = 1.0,
              standardize: bool = True) -> Pipeline:
    """A linear probe fitted on ``features: N x D``, ``labels: N``.

    ``kind="ridge"``: least squares on one-hot targets with an L2 penalty ``alpha``, solved in
    closed form (a fraction of a second). ``kind="logistic"``: logistic regression with
    ``C = 1 / alpha``, a little more accurate and much slower on a CPU. ``standardize`` scales
    each feature to mean 0, variance 1 first (a per-axis step: turn it off for a probe whose
    predictions do not change at all when the features are rotated).
    """
    if len(features) != len(labels):
        raise ValueError(f"features has {len(features)} rows but labels has {len(labels)}")
    if kind not in PROBES:
        raise ValueError(f"unknown probe kind {kind!r}; expected one of {PROBES}")
    head = RidgeClassifier(alpha=alpha) if kind == "ridge" else LogisticRegression(C=1.0 / alpha, max_iter=500)
    probe = make_pipeline(StandardScaler(), head) if standardize else make_pipeline(head)
    with warnings.catch_warnings():  # near-duplicate features (dead units) make ridge warn, harmlessly
        warnings.simplefilter("ignore", category=LinAlgWarning)
        return probe.fit(features.numpy(), labels.numpy())


def probe_accuracy(train_x: torch.Tensor, train_y: torch.Tensor, test_x: torch.Tensor, test_y: torch.Tensor,
                   kind: str = "ridge", alpha: float = 1.0, shuffle_labels: bool = False, seed: int = 0,
                   standardize: bool = True) -> float:
    """Test accuracy of a linear probe trained on ``(train_x: N x D, train_y: N)``, tested on ``test_x, test_y``.

    ``shuffle_labels=True`` trains on randomly permuted labels: the chance-level baseline a real
    probe must beat (a probe with many dimensions can memorize its training set).
    """
    if shuffle_labels:
        train_y = train_y[torch.randperm(len(train_y), generator=torch.Generator().manual_seed(seed))]
    probe = fit_probe(train_x, train_y, kind, alpha, standardize)
    return float((probe.predict(test_x.numpy()) == test_y.numpy()).mean())


def probe_by_layer(model: nn.Module, train_images: torch.Tensor, train_labels: torch.Tensor,
                   test_images: torch.Tensor, test_labels: torch.Tensor, layers: list[str],
                   pool_size: int | None = 2, kind: str = "ridge", alpha: float = 1.0) -> dict[str, float]:
    """Probe accuracy for the raw pixels and for each of ``layers``: ``{"pixels": acc, layer: acc, ...}``.

    Each layer's activations are average-pooled to ``pool_size x pool_size`` first (pixels too),
    so every probe sees a comparable number of positions.
    """
    train_acts = record(model, train_images, layers)
    test_acts = record(model, test_images, layers)
    train_acts, test_acts = {"pixels": train_images, **train_acts}, {"pixels": test_images, **test_acts}
    return {name: probe_accuracy(flatten_features(train_acts[name], pool_size), train_labels,
                                 flatten_features(test_acts[name], pool_size), test_labels, kind, alpha)
            for name in train_acts}


def random_rotation(dim: int, seed: int = 0) -> torch.Tensor:
    """A random orthogonal ``dim x dim`` matrix, uniform over rotations (QR of a Gaussian matrix)."""
    if dim < 1:
        raise ValueError(f"dim must be >= 1, got {dim}")
    gaussian = torch.randn(dim, dim, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    q, r = torch.linalg.qr(gaussian)
    # Fixing the signs by diag(r) makes the distribution uniform (Mezzadri 2007).
    return (q * torch.sign(torch.diagonal(r))).float()


def random_directions(n: int, dim: int, seed: int = 0) -> torch.Tensor:
    """``n`` random unit vectors in ``dim`` dimensions: ``n x dim``, the baseline for any found direction."""
    vectors = torch.randn(n, dim, generator=torch.Generator().manual_seed(seed))
    return F.normalize(vectors, dim=1)


def class_means(features: torch.Tensor, labels: torch.Tensor, num_classes: int | None = None) -> torch.Tensor:
    """Mean of ``features: N x D`` over the images of each class: ``classes x D``."""
    num_classes = int(labels.max()) + 1 if num_classes is None else num_classes
    onehot = F.one_hot(labels, num_classes).float()  # N x classes
    return (onehot.T @ features.float()) / onehot.sum(0, keepdim=True).T.clamp(min=1)


def class_selectivity(features: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Class-selectivity index of each of the ``D`` axes of ``features: N x D`` (Morcos et al. 2018).

    ``(mu_best - mu_rest) / (mu_best + mu_rest)`` with ``mu_best`` the largest class mean and
    ``mu_rest`` the mean of the other class means: 0 when every class drives the axis equally,
    1 when only one class does. The index needs non-negative values, so each axis is first
    shifted to have minimum 0 (a no-op after a ReLU; needed for rotated axes). Returns ``D``.
    """
    shifted = features.float() - features.float().min(0).values
    means = class_means(shifted, labels)                  # classes x D
    best = means.max(0).values
    rest = (means.sum(0) - best) / (len(means) - 1)
    return (best - rest) / (best + rest).clamp(min=1e-12)


def concept_direction(concept: torch.Tensor, other: torch.Tensor, seed: int = 0, test_fraction: float = 0.3) -> tuple[torch.Tensor, float]:
    """A TCAV-style concept vector: the normal of a linear classifier "concept vs other".

    ``concept: N1 x D`` and ``other: N2 x D`` are activations. Returns the unit direction ``D``
    (in raw activation coordinates) and the classifier's held-out accuracy (0.5 = no concept).
    """
    x = torch.cat([concept, other]).float()
    y = torch.cat([torch.ones(len(concept)), torch.zeros(len(other))]).long()
    order = torch.randperm(len(x), generator=torch.Generator().manual_seed(seed))
    n_test = max(1, int(len(x) * test_fraction))
    test, train = order[:n_test], order[n_test:]
    clf = LogisticRegression(max_iter=500).fit(x[train].numpy(), y[train].numpy())
    accuracy = float((clf.predict(x[test].numpy()) == y[test].numpy()).mean())
    return F.normalize(torch.tensor(clf.coef_[0], dtype=torch.float32), dim=0), accuracy


@dataclass
class NMFResult:
    """Non-negative factors of a conv layer's activations.

    ``directions: k x C`` non-negative channel mixtures ("neuron groups"); ``maps: N x k x H x W``
    how strongly each group is present at each position; ``explained``: fraction of the
    activations' squared norm the factorization reconstructs.
    """

    directions: torch.Tensor
    maps: torch.Tensor
    explained: float

    def __repr__(self) -> str:
        return f"NMFResult(k={len(self.directions)}, channels={self.directions.shape[1]}, explained={self.explained:.3f})"


def nmf_directions(acts: torch.Tensor, k: int, seed: int = 0, max_iter: int = 400) -> NMFResult:
    """Factor post-ReLU ``acts: N x C x H x W`` as ``maps @ directions`` with both non-negative.

    Every position of every image is one sample of ``C`` numbers; NMF finds ``k`` directions that
    rebuild them with non-negative weights ("The Building Blocks of Interpretability", Olah et al. 2018).
    """
    if acts.ndim != 4:
        raise ValueError(f"acts must be N x C x H x W, got shape {tuple(acts.shape)}")
    if acts.min() < 0:
        raise ValueError("NMF needs non-negative activations: record the layer after the ReLU (e.g. 'relu2')")
    if not 1 <= k <= acts.shape[1]:
        raise ValueError(f"k must be in [1, {acts.shape[1]}], got {k}")
    n, c, h, w = acts.shape
    samples = acts.permute(0, 2, 3, 1).reshape(-1, c).double().numpy()  # (N*H*W) x C
    model = NMF(n_components=k, init="nndsvda", random_state=seed, max_iter=max_iter)
    weights = model.fit_transform(samples)
    explained = 1.0 - model.reconstruction_err_**2 / float((samples**2).sum())
    maps = torch.tensor(weights, dtype=torch.float32).reshape(n, h, w, k).permute(0, 3, 1, 2)
    return NMFResult(torch.tensor(model.components_, dtype=torch.float32), maps, float(explained))


def gaussian_projection(in_features: int, out_features: int,
                      seed: int = 0) -> torch.Tensor:
    """A random linear map ``in_features x out_features``, entries N(0, 1 / out_features).

    ``x @ gaussian_projection(D, d)`` turns ``N x D`` data into ``d`` random features. Chapter 4
    uses it as the baseline of a probe on a layer with ``d`` features: a probe with more features
    has an easier job, so a layer is compared with the pixels at the same dimension.
    """
    if in_features < 1 or out_features < 1:
        raise ValueError(f"a projection needs at least 1 input and 1 output feature, "
                         f"got {in_features} x {out_features}")
    g = torch.Generator().manual_seed(seed)
    return torch.randn(in_features, out_features, generator=g) / out_features**0.5


def projected_probe_accuracy(train_x: torch.Tensor, train_y: torch.Tensor, test_x: torch.Tensor,
                             test_y: torch.Tensor, dim: int, draws: int = 5, seed: int = 0,
                             kind: str = "ridge", alpha: float = 1.0) -> float:
    """Mean probe accuracy on ``dim`` random projections of ``train_x, test_x: N x D``.

    Draw ``i`` projects both sets with :func:`gaussian_projection` ``(D, dim, seed + i)`` and fits
    :func:`probe_accuracy` on the result; the mean over ``draws`` draws is returned.
    """
    if draws < 1:
        raise ValueError(f"draws must be >= 1, got {draws}")
    if train_x.ndim != 2 or test_x.ndim != 2 or train_x.shape[1] != test_x.shape[1]:
        raise ValueError(f"train_x and test_x must be N x D with the same D, got "
                         f"{tuple(train_x.shape)} and {tuple(test_x.shape)}")
    accuracies = []
    for i in range(draws):
        projection = gaussian_projection(train_x.shape[1], dim, seed + i)   # D x dim
        accuracies.append(probe_accuracy(train_x.float() @ projection, train_y,
                                         test_x.float() @ projection, test_y, kind, alpha))
    return sum(accuracies) / draws


RIDGE_ALPHAS = (1e-2, 0.1, 1.0, 10.0, 100.0, 1e3, 1e4, 1e5, 1e6)


def probe_r2(train_x: torch.Tensor, train_y: torch.Tensor, test_x: torch.Tensor, test_y: torch.Tensor,
             alphas: tuple[float, ...] = RIDGE_ALPHAS, shuffle_targets: bool = False, seed: int = 0,
             standardize: bool = False) -> torch.Tensor:
    """Held-out R^2 of a ridge regression probe, one per target: ``T``.

    Fits ``train_x: N x D`` to ``train_y: N x T`` (or ``N``) and predicts ``test_x: M x D``;
    target ``t`` scores ``1 - sum (y - y_hat)^2 / sum (y - mean(y))^2`` over ``test_y[:, t]``:
    1 is a perfect read-out, 0 no better than predicting the test mean, below 0 worse. Each
    target gets its own penalty from ``alphas``, chosen by leave-one-out error on the training
    set (scikit-learn's ``RidgeCV``), so a probe on many weak features cannot win by
    overfitting. ``shuffle_targets=True`` permutes the training targets first: the baseline
    of a probe that has nothing to read. Features are not standardized by default: a unit that
    fires on only a few training images would get a tiny scale and explode on the test images.
    """
    if len(train_x) != len(train_y) or len(test_x) != len(test_y):
        raise ValueError(f"features and targets must have the same rows, got train {len(train_x)} vs "
                         f"{len(train_y)}, test {len(test_x)} vs {len(test_y)}")
    if not alphas:
        raise ValueError("alphas must hold at least one penalty")
    train_y, test_y = train_y.reshape(len(train_y), -1), test_y.reshape(len(test_y), -1)
    if shuffle_targets:
        train_y = train_y[torch.randperm(len(train_y), generator=torch.Generator().manual_seed(seed))]
    head = RidgeCV(alphas=list(alphas), alpha_per_target=True)
    probe = make_pipeline(StandardScaler(), head) if standardize else make_pipeline(head)
    with warnings.catch_warnings():  # dead units make the scaled features singular, harmlessly
        warnings.simplefilter("ignore", category=LinAlgWarning)
        probe.fit(train_x.double().numpy(), train_y.double().numpy())
    predicted = torch.as_tensor(probe.predict(test_x.double().numpy())).reshape(test_y.shape)
    truth = test_y.double()
    residual = (truth - predicted).square().sum(0)
    spread = (truth - truth.mean(0)).square().sum(0)
    if (spread == 0).any():
        raise ValueError(f"R^2 needs targets that vary over the test set; constant targets: "
                         f"{torch.nonzero(spread == 0).flatten().tolist()}")
    return 1 - residual / spread

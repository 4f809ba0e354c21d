"""Probes, rotations, selectivity, concept directions and NMF against closed forms and planted truths."""
import pytest
import torch

from course_utils.interp import probes


def _blobs(n=600, dim=10, classes=3, seed=0, spread=0.5):
    """Gaussian clusters around random class centres: linearly separable when ``spread`` is small."""
    g = torch.Generator().manual_seed(seed)
    centres = torch.randn(classes, dim, generator=g) * 2
    labels = torch.randint(classes, (n,), generator=g)
    return centres[labels] + spread * torch.randn(n, dim, generator=g), labels


def test_flatten_features_pools_and_keeps_vectors():
    acts = torch.rand(5, 3, 8, 8)
    assert probes.flatten_features(acts).shape == (5, 192)
    pooled = probes.flatten_features(acts, 2)
    assert pooled.shape == (5, 12)
    assert torch.allclose(pooled[:, 0], acts[:, 0, :4, :4].mean((1, 2)))
    assert torch.equal(probes.flatten_features(acts[:, :, 0, 0]), acts[:, :, 0, 0])
    with pytest.raises(ValueError, match="N x F"):
        probes.flatten_features(torch.rand(5, 3, 8))


@pytest.mark.parametrize("kind", ["ridge", "logistic"])
def test_probe_beats_shuffled_labels(kind):
    x, y = _blobs()
    acc = probes.probe_accuracy(x[:400], y[:400], x[400:], y[400:], kind=kind)
    shuffled = probes.probe_accuracy(x[:400], y[:400], x[400:], y[400:], kind=kind, shuffle_labels=True)
    assert acc > 0.95 and shuffled < 0.6
    with pytest.raises(ValueError, match="probe kind"):
        probes.fit_probe(x, y, kind="svm")


def test_random_rotation_is_orthogonal_and_keeps_unstandardized_probes_identical():
    rotation = probes.random_rotation(10, seed=3)
    assert torch.allclose(rotation @ rotation.T, torch.eye(10), atol=1e-5)
    assert not torch.allclose(rotation, probes.random_rotation(10, seed=4))
    x, y = _blobs(spread=2.0)                        # overlapping classes: accuracy well below 1
    plain = probes.fit_probe(x[:400], y[:400], standardize=False).predict(x[400:].numpy())
    turned = probes.fit_probe(x[:400] @ rotation, y[:400], standardize=False).predict((x[400:] @ rotation).numpy())
    assert (plain == turned).all()


def test_random_directions_are_unit_vectors():
    d = probes.random_directions(50, 7, seed=1)
    assert d.shape == (50, 7) and torch.allclose(d.norm(dim=1), torch.ones(50))


def test_class_selectivity_closed_forms():
    labels = torch.tensor([0, 0, 1, 1, 2, 2])
    onehot = torch.nn.functional.one_hot(labels).float()          # each axis fires for one class only
    assert torch.allclose(probes.class_selectivity(onehot, labels), torch.ones(3))
    constant = torch.ones(6, 2) * 3.0                              # all classes equal (after shift: 0 / 0)
    assert torch.allclose(probes.class_selectivity(constant + torch.tensor([[0.0, 1.0]]), labels), torch.zeros(2))
    # class means 4, 1, 1 -> best 4, rest 1 -> (4 - 1) / (4 + 1)
    values = torch.tensor([[4.0], [4.0], [1.0], [1.0], [1.0], [1.0]]) - 1.0 + 0.0
    values = torch.cat([values + 1.0, torch.zeros(1, 1)])         # an extra image at 0 sets the minimum
    assert probes.class_selectivity(values, torch.cat([labels, torch.tensor([2])]))[0] == pytest.approx(
        (4 - (1 + 2 / 3) / 2) / (4 + (1 + 2 / 3) / 2), rel=1e-5)


def test_class_means():
    features = torch.tensor([[1.0, 0.0], [3.0, 2.0], [5.0, 5.0]])
    assert torch.allclose(probes.class_means(features, torch.tensor([0, 0, 1])), torch.tensor([[2.0, 1.0], [5.0, 5.0]]))


def test_concept_direction_recovers_a_planted_direction():
    g = torch.Generator().manual_seed(0)
    planted = torch.nn.functional.normalize(torch.randn(20, generator=g), dim=0)
    other = torch.randn(300, 20, generator=g)
    concept = torch.randn(300, 20, generator=g) + 3 * planted
    direction, accuracy = probes.concept_direction(concept, other)
    random_cos = (probes.random_directions(100, 20) @ planted).abs().max()
    assert accuracy > 0.9 and direction @ planted > 0.8 > random_cos
    _, chance = probes.concept_direction(torch.randn(300, 20, generator=g), other)
    assert chance < 0.65


def test_nmf_recovers_planted_groups():
    g = torch.Generator().manual_seed(0)
    directions = torch.zeros(3, 8)
    directions[0, :3], directions[1, 3:6], directions[2, 6:] = 1.0, 1.0, 1.0   # three disjoint neuron groups
    maps = torch.rand(20, 3, 5, 5, generator=g) ** 4                          # sparse, non-negative
    acts = torch.einsum("nkhw,kc->nchw", maps, directions)
    result = probes.nmf_directions(acts, 3)
    assert result.explained > 0.99 and result.maps.shape == (20, 3, 5, 5)
    found = torch.nn.functional.normalize(result.directions, dim=1)
    match = found @ torch.nn.functional.normalize(directions, dim=1).T
    assert (match.max(1).values > 0.99).all()
    with pytest.raises(ValueError, match="non-negative"):
        probes.nmf_directions(acts - 1, 3)


def test_gaussian_projection_is_seeded_with_variance_one_over_out():
    p = probes.gaussian_projection(400, 50, seed=2)
    assert p.shape == (400, 50) and torch.equal(p, probes.gaussian_projection(400, 50, seed=2))
    assert not torch.equal(p, probes.gaussian_projection(400, 50, seed=3))
    assert (p**2).mean().item() == pytest.approx(1 / 50, rel=0.05)   # E[p^2] = 1 / out
    with pytest.raises(ValueError, match="at least 1"):
        probes.gaussian_projection(10, 0)


def test_projected_probe_accuracy_is_the_mean_over_seeded_draws():
    x, y = _blobs(dim=30, spread=1.5)
    reference = [probes.probe_accuracy(x[:400] @ probes.gaussian_projection(30, 4, 7 + i), y[:400],
                                       x[400:] @ probes.gaussian_projection(30, 4, 7 + i), y[400:])
                 for i in range(3)]
    got = probes.projected_probe_accuracy(x[:400], y[:400], x[400:], y[400:], 4, draws=3, seed=7)
    assert got == pytest.approx(sum(reference) / 3)
    # fewer random features lose information: 1 dimension cannot separate 3 clusters in 30
    one = probes.projected_probe_accuracy(x[:400], y[:400], x[400:], y[400:], 1, draws=3)
    full = probes.projected_probe_accuracy(x[:400], y[:400], x[400:], y[400:], 30, draws=3)
    assert full > one + 0.1
    with pytest.raises(ValueError, match="same D"):
        probes.projected_probe_accuracy(x[:400], y[:400], x[400:, :5], y[400:], 4)


def test_probe_r2_is_least_squares_r2_and_shuffled_targets_read_nothing():
    import numpy as np
    g = torch.Generator().manual_seed(0)
    x = torch.randn(500, 6, generator=g, dtype=torch.float64)
    truth = torch.stack([x @ torch.arange(1.0, 7.0, dtype=torch.float64), x[:, 0] * 0.1], 1)
    y = truth + torch.randn(500, 2, generator=g, dtype=torch.float64)   # R^2 about 0.99 and 0.01
    got = probes.probe_r2(x[:300], y[:300], x[300:], y[300:], alphas=(1e-9,))
    design = np.c_[x[:300].numpy(), np.ones(300)]                         # least squares + intercept
    coef = np.linalg.lstsq(design, y[:300].numpy(), rcond=None)[0]
    predicted = np.c_[x[300:].numpy(), np.ones(200)] @ coef
    test = y[300:].numpy()
    expected = 1 - ((test - predicted) ** 2).sum(0) / ((test - test.mean(0)) ** 2).sum(0)
    assert got.shape == (2,) and np.allclose(got.numpy(), expected, atol=1e-8)
    assert got[0] > 0.95 and got[1] < 0.1
    single = probes.probe_r2(x[:300], y[:300, 0], x[300:], y[300:, 0], alphas=(1e-9,))
    assert single.shape == (1,) and float(single) == pytest.approx(expected[0], abs=1e-8)
    shuffled = probes.probe_r2(x[:300], y[:300], x[300:], y[300:], shuffle_targets=True)
    assert (shuffled < 0.05).all()
    with pytest.raises(ValueError, match="same rows"):
        probes.probe_r2(x[:300], y[:299], x[300:], y[300:])
    with pytest.raises(ValueError, match="constant targets: \\[1\\]"):
        probes.probe_r2(x[:300], y[:300], x[300:], torch.stack([y[300:, 0], torch.ones(200)], 1))

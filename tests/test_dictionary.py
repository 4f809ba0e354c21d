"""Sparse autoencoders and the effective number of classes (chapter 6), against closed forms."""
import math

import pytest
import torch
import torch.nn.functional as F

from course_utils.interp import dictionary as dl

pytestmark = pytest.mark.usefixtures("one_thread")


def _sparse_data(n_samples=3000, dim=12, k=6, p_active=0.15, seed=0):
    """Data built from k known unit directions with sparse non-negative coefficients."""
    g = torch.Generator().manual_seed(seed)
    directions = F.normalize(torch.randn(k, dim, generator=g), dim=1)        # k x dim
    active = torch.rand(n_samples, k, generator=g) < p_active
    coefficients = active * (0.5 + torch.rand(n_samples, k, generator=g))
    return coefficients @ directions, directions


# ----------------------------------------------------------------------------- the SAE
def test_an_sae_recovers_known_sparse_directions():
    acts, directions = _sparse_data()
    sae = dl.train_sae(acts, n_features=12, l1=0.3, steps=800, seed=0, lr=3e-3)
    cosines = directions @ F.normalize(sae.W_dec.detach(), dim=0)           # k x features
    best = cosines.max(1).values
    assert best.min().item() > 0.9, best
    # a random dictionary of the same size would not: the best of 12 random cosines is far lower
    random = directions @ F.normalize(torch.randn(12, 12, generator=torch.Generator().manual_seed(9)), dim=0)
    assert random.max(1).values.min().item() < 0.9
    stats = dl.sae_stats(sae, acts)
    assert stats.fvu < 0.1
    assert stats.mean_l0 < 3          # the data have 0.9 active directions per example
    assert stats.n_features == 12


def test_decoder_columns_have_unit_norm_and_training_repeats():
    acts, _ = _sparse_data(500, 6, 3)
    sae = dl.train_sae(acts, 10, steps=30, seed=3)
    assert torch.allclose(sae.W_dec.norm(dim=0), torch.ones(10), atol=1e-5)
    state = torch.random.get_rng_state()
    again = dl.train_sae(acts, 10, steps=30, seed=3)
    assert torch.equal(torch.random.get_rng_state(), state)
    assert torch.equal(sae.W_dec, again.W_dec)
    assert not torch.equal(sae.W_dec, dl.train_sae(acts, 10, steps=30, seed=4).W_dec)


def test_the_l1_coefficient_does_not_depend_on_the_scale_of_the_activations():
    acts, _ = _sparse_data(500, 6, 3)
    small = dl.train_sae(acts, 8, steps=50, seed=1)
    large = dl.train_sae(100 * acts, 8, steps=50, seed=1)
    assert torch.allclose(small.encode(acts), large.encode(100 * acts), atol=1e-3)
    assert torch.allclose(100 * small(acts)[0], large(100 * acts)[0], atol=1e-2)


def test_sae_loss_is_squared_error_plus_l1_per_example():
    x = torch.tensor([[1.0, 2.0], [0.0, 0.0]])
    x_hat = torch.tensor([[1.0, 0.0], [1.0, 1.0]])
    f = torch.tensor([[3.0, 0.0, 1.0], [0.0, 0.0, 2.0]])
    # squared errors 4 and 2 -> mean 3; L1 norms 4 and 2 -> mean 3
    assert dl.sae_loss(x, x_hat, f, 0.5).item() == pytest.approx(3 + 0.5 * 3)
    assert dl.sae_loss(x, x, f, 0.0).item() == 0.0


def test_stats_of_a_hand_made_autoencoder():
    """Encoder = identity plus one feature that can never fire: f = x, nothing lost, one dead."""
    sae = dl.SparseAutoencoder(3, 4)
    with torch.no_grad():
        sae.W_enc.copy_(torch.cat([torch.eye(3), -torch.ones(1, 3)]))
        sae.W_dec.copy_(torch.cat([torch.eye(3), torch.ones(3, 1) / math.sqrt(3)], 1))
        sae.b_enc.zero_()
        sae.b_dec.zero_()
    x = torch.tensor([[1.0, 0.0, 0.0], [2.0, 3.0, 0.0], [0.0, 1.0, 4.0], [1.0, 1.0, 1.0]])
    assert torch.allclose(sae.encode(x), torch.cat([x, torch.zeros(4, 1)], 1))
    stats = dl.sae_stats(sae, x)
    assert stats.fvu == pytest.approx(0.0, abs=1e-7)
    assert stats.mean_l0 == pytest.approx((1 + 2 + 2 + 3) / 4)
    assert stats.dead == 1
    with pytest.raises(ValueError, match="N x 3"):
        sae.encode(torch.zeros(2, 4))


def test_fraction_unexplained_of_perfect_and_mean_reconstructions():
    x = torch.randn(50, 4, generator=torch.Generator().manual_seed(2))
    assert dl.fraction_unexplained(x, x) == 0.0
    assert dl.fraction_unexplained(x, x.mean(0).expand_as(x)) == pytest.approx(1.0)
    assert dl.fraction_unexplained(x, torch.zeros_like(x)) > 1.0   # the mean was not even used


# ----------------------------------------------------------------------------- the score
def _labels():
    return torch.arange(40) % 4                     # 10 examples of each of 4 classes


def test_a_unit_that_fires_on_one_class_only_scores_one():
    labels = _labels()
    unit = (labels == 2).float() * torch.linspace(1, 2, 40)
    assert dl.effective_classes(unit[:, None], labels, k=10).tolist() == [1.0]


def test_even_splits_score_the_number_of_classes():
    labels = _labels()
    two = ((labels == 0) | (labels == 3)).float()[:, None]          # 20 equal top values
    four = torch.ones(40, 1)                                        # every class alike
    # k = 20 of two classes, 10 each; k = 40 of four classes, 10 each
    assert dl.effective_classes(two, labels, k=20).item() == pytest.approx(2.0)
    assert dl.effective_classes(four, labels, k=40).item() == pytest.approx(4.0)


def test_an_uneven_split_scores_the_exponential_of_the_entropy():
    labels = _labels()
    unit = torch.zeros(40)
    unit[labels == 1] = 2.0                         # 10 of class 1 on top ...
    unit[torch.nonzero(labels == 0).flatten()[:5]] = 1.0   # ... then 5 of class 0
    p = torch.tensor([10 / 15, 5 / 15])
    expected = math.exp(-float((p * p.log()).sum()))
    assert dl.effective_classes(unit[:, None], labels, k=15).item() == pytest.approx(expected)


def test_units_positive_on_fewer_than_k_examples_score_nan_and_columns_are_units():
    labels = _labels()
    acts = torch.stack([(labels == 1).float(), torch.zeros(40), -torch.ones(40),
                        (labels < 2).float()], 1)
    score = dl.effective_classes(acts, labels, k=20)
    assert math.isnan(score[0]) and math.isnan(score[1]) and math.isnan(score[2])
    assert score[3].item() == pytest.approx(2.0)
    with pytest.raises(ValueError, match="k must be"):
        dl.effective_classes(acts, labels, k=41)
    with pytest.raises(ValueError, match="labels"):
        dl.effective_classes(acts, labels[:10], k=5)

"""The toy model of superposition (chapter 6) against closed forms and the obvious loops."""
import math

import pytest
import torch

from course_utils.interp import superposition as sp

pytestmark = pytest.mark.usefixtures("one_thread")


def _interference_loops(W):
    """sum over j != i of (W_i / ||W_i|| . W_j)^2, one feature at a time."""
    n = W.shape[1]
    out = torch.zeros(n)
    for i in range(n):
        norm = W[:, i].norm()
        if norm == 0:
            continue
        for j in range(n):
            if j != i:
                out[i] += float(W[:, i] @ W[:, j] / norm) ** 2
    return out


# ----------------------------------------------------------------------------- sampling
def test_sampled_features_are_zero_with_probability_s_else_uniform():
    g = torch.Generator().manual_seed(0)
    x = sp.sample_features(20000, 10, 0.8, g)
    assert x.shape == (20000, 10)
    zero_share = float((x == 0).float().mean())
    sd = math.sqrt(0.8 * 0.2 / x.numel())
    assert zero_share == pytest.approx(0.8, abs=5 * sd)
    present = x[x > 0]
    assert float(present.max()) <= 1.0
    # uniform on [0, 1]: mean 1/2, variance 1/12
    assert float(present.mean()) == pytest.approx(0.5, abs=0.01)
    assert float(present.var()) == pytest.approx(1 / 12, abs=0.005)
    assert float((present < 0.25).float().mean()) == pytest.approx(0.25, abs=0.02)


def test_one_sparsity_per_instance_and_the_generator_decides():
    x = sp.sample_features(5000, 8, [0.0, 0.5, 0.99], torch.Generator().manual_seed(1))
    assert x.shape == (3, 5000, 8)
    shares = (x == 0).float().mean((1, 2))
    assert shares[0] == 0.0
    assert shares.tolist() == pytest.approx([0.0, 0.5, 0.99], abs=0.02)
    again = sp.sample_features(5000, 8, [0.0, 0.5, 0.99], torch.Generator().manual_seed(1))
    assert torch.equal(x, again)


@pytest.mark.parametrize("bad", [1.0, -0.1, [0.5, 1.2]])
def test_sparsity_outside_zero_one_is_refused(bad):
    with pytest.raises(ValueError, match="sparsity"):
        sp.sample_features(4, 3, bad)


# ----------------------------------------------------------------------------- the model
def test_forward_is_relu_of_w_transpose_w_x_plus_b_per_instance():
    g = torch.Generator().manual_seed(2)
    W, b, x = torch.randn(3, 4, 7, generator=g), torch.randn(3, 7, generator=g), torch.rand(3, 5, 7, generator=g)
    out = sp.toy_forward(W, b, x)
    for k in range(3):
        for n in range(5):
            expected = torch.relu(W[k].T @ (W[k] @ x[k, n]) + b[k])
            assert torch.allclose(out[k, n], expected, atol=1e-5)
    model = sp.ToyModel(7, 4, 3)
    with torch.no_grad():
        model.W.copy_(W)
        model.b.copy_(b)
    assert torch.allclose(model(x), out)
    with pytest.raises(ValueError, match="share n"):
        sp.toy_forward(W, b, torch.rand(3, 5, 6))


def test_loss_is_the_importance_weighted_mean_squared_error():
    x_hat, x = torch.tensor([[[1.0, 2.0], [0.0, 0.0]]]), torch.tensor([[[0.0, 0.0], [1.0, 1.0]]])
    importance = torch.tensor([1.0, 0.5])
    # (1 * 1 + 0.5 * 4 + 1 * 1 + 0.5 * 1) / 4 = 1.125
    assert sp.toy_loss(x_hat, x, importance).tolist() == pytest.approx([1.125])
    assert sp.importance_weights(3, 0.9).tolist() == pytest.approx([1.0, 0.9, 0.81])


# ----------------------------------------------------------------------------- the measures
def test_orthogonal_columns_do_not_interfere():
    W = torch.zeros(4, 6)
    W[:, :4] = torch.linalg.qr(torch.randn(4, 4, generator=torch.Generator().manual_seed(3)))[0] * 2
    assert torch.allclose(sp.interference(W), torch.zeros(6), atol=1e-6)   # zero columns too
    assert sp.features_represented(W).item() == 4
    assert torch.allclose(sp.feature_norms(W), torch.tensor([2.0] * 4 + [0.0] * 2), atol=1e-6)


def test_interference_of_known_configurations_and_against_loops():
    pair = torch.tensor([[1.0, -1.0, 0.0]])                        # an antipodal pair in 1 dim
    assert sp.interference(pair).tolist() == pytest.approx([1.0, 1.0, 0.0])
    # feature 1 twice as long: it leaks 4x into feature 0, feature 0 leaks 1x into feature 1
    assert sp.interference(torch.tensor([[1.0, 2.0]])).tolist() == pytest.approx([4.0, 1.0])
    g = torch.Generator().manual_seed(4)
    W = torch.randn(3, 8, generator=g)
    W[:, 5] = 0
    assert torch.allclose(sp.interference(W), _interference_loops(W), atol=1e-5)
    stacked = torch.stack([W, 2 * W])                              # instances: I x m x n
    assert torch.allclose(sp.interference(stacked)[1], 4 * _interference_loops(W), atol=1e-4)


def test_dimensions_per_feature_of_known_geometries():
    dedicated = torch.cat([torch.eye(5), torch.zeros(5, 15)], 1)   # one feature per dimension
    assert sp.dimensions_per_feature(dedicated).item() == pytest.approx(1.0)
    antipodal = torch.cat([torch.eye(3), -torch.eye(3)], 1)        # two features per dimension
    assert sp.dimensions_per_feature(antipodal).item() == pytest.approx(0.5)
    angles = torch.arange(5) * 2 * math.pi / 5                     # a pentagon in 2 dimensions
    pentagon = torch.stack([angles.cos(), angles.sin()])
    assert sp.dimensions_per_feature(pentagon).item() == pytest.approx(0.4)
    assert sp.dimensions_per_feature(torch.stack([dedicated, 0.5 * dedicated])).tolist() == \
        pytest.approx([1.0, 4.0])


def test_represented_counts_norms_above_the_threshold():
    W = torch.tensor([[0.4, 0.6, 1.0, 0.0]])
    assert sp.features_represented(W).item() == 2
    assert sp.features_represented(W, threshold=0.3).item() == 3


# ----------------------------------------------------------------------------- training
def test_dense_features_keep_the_m_most_important_one_per_dimension():
    """S = 0: the best a linear bottleneck can do is keep the m most important features."""
    model = sp.train_toy_model(6, 2, 0.0, sp.importance_weights(6, 0.7), steps=1000,
                               seed=0, batch_size=256)
    norms = sp.feature_norms(model)[0]
    assert torch.nonzero(norms > sp.REPRESENTED).flatten().tolist() == [0, 1]
    assert norms[:2].tolist() == pytest.approx([1.0, 1.0], abs=0.1)
    assert sp.interference(model)[0, :2].max().item() < 0.05
    assert sp.dimensions_per_feature(model).item() == pytest.approx(1.0, abs=0.1)


def test_sparse_features_share_dimensions_and_runs_repeat():
    state = torch.random.get_rng_state()
    threads = torch.get_num_threads()
    kwargs = dict(importance=torch.ones(5), steps=1500, seed=1, batch_size=256)
    model = sp.train_toy_model(5, 2, [0.0, 0.95], **kwargs)
    assert torch.equal(torch.random.get_rng_state(), state)         # the global generator untouched
    assert torch.get_num_threads() == threads
    # equally important dense features: any 2-dimensional projection of them is optimal, so
    # the columns can spread, but together they use exactly the 2 dimensions (||W||_F^2 = 2)
    dense, sparse = sp.dimensions_per_feature(model).tolist()
    assert dense == pytest.approx(1.0, abs=0.05)
    assert sparse == pytest.approx(0.4, abs=0.15)                   # 5 features in 2 dimensions
    # sparse, equally important: a regular pentagon (Elhage et al. 2022, figure 1), whose
    # unit columns meet at 72 and 144 degrees
    assert sp.features_represented(model)[1].item() == 5
    unit = torch.nn.functional.normalize(model.W[1].detach(), dim=0)
    cosines = (unit.T @ unit)[~torch.eye(5, dtype=torch.bool)].view(5, 4).sort(1).values
    pentagon = [math.cos(4 * math.pi / 5)] * 2 + [math.cos(2 * math.pi / 5)] * 2
    assert torch.allclose(cosines, torch.tensor(pentagon).expand(5, 4), atol=0.05)
    short = dict(kwargs, steps=20)
    assert torch.equal(sp.train_toy_model(5, 2, 0.9, **short).W,
                       sp.train_toy_model(5, 2, 0.9, **short).W)
    assert not torch.equal(sp.train_toy_model(5, 2, 0.9, **short).W,
                           sp.train_toy_model(5, 2, 0.9, **dict(short, seed=2)).W)
    with pytest.raises(ValueError, match="importance"):
        sp.train_toy_model(5, 2, 0.5, torch.ones(4), steps=1)

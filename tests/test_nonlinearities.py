"""Chapter 3, section 4: the activation gallery and what activations do to values through depth.

Baselines: closed-form derivatives, torch's modules in models.ACTIVATIONS, torch's batch norm,
and the linear stack at the same weight scale.
"""
import math

import pytest
import torch
import torch.nn.functional as F

from course_utils.cnn import linearity, models, nonlinearities
from course_utils.cnn.conv import conv2d
from course_utils.data import photos


# Tiny tensors: one thread (conftest.py) avoids two threads' coordination cost on 2 busy cores.
pytestmark = pytest.mark.usefixtures("one_thread")


def test_functions_match_the_models_modules():
    z = torch.linspace(-5, 5, 101)
    assert set(nonlinearities.ACTIVATION_FUNCTIONS) == set(models.ACTIVATIONS)
    for name, fn in nonlinearities.ACTIVATION_FUNCTIONS.items():
        assert torch.allclose(fn(z), models.ACTIVATIONS[name]()(z), atol=1e-7), name


def test_derivatives_match_closed_forms():
    z = torch.linspace(-4, 4, 81)
    z = z[z != 0]  # ReLU's kink: any value in [0, 1] is a valid subgradient there
    s, t = torch.sigmoid(z), torch.tanh(z)
    phi = torch.exp(-z**2 / 2) / math.sqrt(2 * math.pi)
    closed = {
        "identity": torch.ones_like(z), "relu": (z > 0).float(), "leaky_relu": torch.where(z > 0, 1.0, 0.01),
        "sigmoid": s * (1 - s), "tanh": 1 - t**2, "gelu": 0.5 * (1 + torch.erf(z / math.sqrt(2))) + z * phi,
    }
    for name, expected in closed.items():
        assert torch.allclose(nonlinearities.derivative(name, z), expected, atol=1e-6), name


def test_gallery_and_unknown_name():
    table = nonlinearities.gallery()
    assert set(table) == set(nonlinearities.ACTIVATION_FUNCTIONS)
    values, slopes = table["sigmoid"]
    assert values.shape == slopes.shape == (401,)
    assert slopes.max().item() == pytest.approx(0.25, abs=1e-4)  # sigmoid's slope never exceeds 1/4
    with pytest.raises(ValueError, match="unknown activation"):
        nonlinearities.get_activation("swish")


def test_standardize_is_batch_norm_without_affine():
    x = torch.randn(8, 5, 6, 6, generator=torch.Generator().manual_seed(0)) * 3 + 1
    assert torch.allclose(nonlinearities.standardize(x), F.batch_norm(x, None, None, training=True, eps=1e-5), atol=1e-5)


def test_dead_channels_get_exactly_zero_gradient():
    x = torch.rand(8, 1, 20, 20, generator=torch.Generator().manual_seed(0))
    layer = linearity.random_conv_stack(1, [1, 32], kernel_size=5, seed=1)[0]
    pre = conv2d(x, layer.weight)
    bias = torch.full((32,), -2.0 * pre.std().item())
    shifted = pre + bias.view(1, -1, 1, 1)
    assert nonlinearities.dead_fraction(pre) < nonlinearities.dead_fraction(shifted)
    dead = (shifted <= 0).flatten(2).all(dim=2).all(dim=0)
    assert nonlinearities.dead_fraction(shifted) == pytest.approx(dead.float().mean().item())
    assert 0 < dead.sum() < 32
    weight = layer.weight.clone().requires_grad_(True)
    F.relu(conv2d(x, weight, bias)).square().mean().backward()
    grad = weight.grad.flatten(1).norm(dim=1)
    assert torch.all(grad[dead] == 0) and torch.all(grad[~dead] > 0)
    with pytest.raises(ValueError, match="N x C x H x W"):
        nonlinearities.dead_fraction(torch.zeros(3, 4))


def test_dead_fraction_rises_as_the_bias_falls():
    pre = torch.randn(4, 16, 10, 10, generator=torch.Generator().manual_seed(2))
    fractions = [nonlinearities.dead_fraction(pre - shift) for shift in (0.0, 2.0, 3.0, 10.0)]
    assert fractions == sorted(fractions) and fractions[0] == 0.0 and fractions[-1] == 1.0


@pytest.fixture(scope="module")
def crops():
    """The chapter's input: 32 standardised 16 x 16 crops of four of eight sample photos' corners."""
    names = ["camera", "astronaut", "coffee", "chelsea", "brick", "grass", "text", "coins"]
    pictures = torch.stack([photos.photo(n, grayscale=True, size=128)[:, :128, :128] for n in names])
    x = torch.cat([pictures[:, :, r : r + 16, c : c + 16] for r in (0, 64) for c in (0, 64)])
    return (x - x.mean()) / x.std()


def _growth(rows):
    return rows[-1]["std"] / rows[0]["std"]


@pytest.mark.parametrize("seed", [0, 1])
def test_linear_stack_vanishes_or_explodes_geometrically(crops, seed):
    assert _growth(nonlinearities.depth_statistics(crops, 20, "identity", gain=0.8, seed=seed)) < 0.05
    assert _growth(nonlinearities.depth_statistics(crops, 20, "identity", gain=1.25, seed=seed)) > 10
    steady = _growth(nonlinearities.depth_statistics(crops, 20, "identity", gain=1.0, seed=seed))
    assert 0.3 < steady < 3


@pytest.mark.parametrize("seed", [0, 1])
def test_relu_with_he_gain_is_steady_where_the_linear_stack_explodes(crops, seed):
    he = math.sqrt(2)
    linear = _growth(nonlinearities.depth_statistics(crops, 20, "identity", gain=he, seed=seed))
    relu_rows = nonlinearities.depth_statistics(crops, 20, "relu", gain=he, seed=seed)
    assert linear > 100
    assert 0.2 < _growth(relu_rows) < 5
    mean_zeros = sum(r["zero_fraction"] for r in relu_rows) / len(relu_rows)
    assert 0.35 < mean_zeros < 0.65  # ReLU zeroes about half of all values


def test_bounded_activations_stay_bounded_even_at_a_large_gain(crops):
    for name, low, high in [("tanh", -1, 1), ("sigmoid", 0, 1)]:
        rows = nonlinearities.depth_statistics(crops, 20, name, gain=4.0)
        assert all(r["max_abs"] <= 1.0 for r in rows)
        assert (name != "sigmoid") or all(r["mean"] > 0 for r in rows)
    assert nonlinearities.depth_statistics(crops, 20, "identity", gain=4.0)[-1]["max_abs"] > 1e6  # the baseline


@pytest.mark.parametrize("name", ["identity", "relu", "leaky_relu", "tanh", "sigmoid", "gelu"])
@pytest.mark.parametrize("gain", [0.5, 3.0])
def test_normalisation_pins_the_scale_at_every_depth(crops, name, gain):
    rows = nonlinearities.depth_statistics(crops, 20, name, gain=gain, normalize=True)
    stds = [r["std"] for r in rows]
    assert max(stds) / min(stds) < 1.5 and min(stds) > 0.1


# --- weight_gradient_norms ----------------------------------------------------------------------

def test_weight_gradient_norms_match_the_closed_form_of_a_one_by_one_network():
    # conv 1x1 (1 -> 3), identity, global average pooling, fc: h = w * mean(x) + b, logits = A h + c,
    # so d loss / d w_j = mean over images of (softmax - onehot) . A[:, j] * mean(x)
    torch.manual_seed(0)
    net = models.ConvNet([3, "G"], [1], 1, 4, 6, activation="identity").eval()
    images = torch.rand(5, 1, 6, 6, generator=torch.Generator().manual_seed(1))
    labels = torch.tensor([0, 1, 2, 3, 1])
    with torch.no_grad():
        logits = net(images)
        delta = (logits.softmax(1) - F.one_hot(labels, 4).float()) / len(images)   # 5 x 4
        expected = ((delta @ net.fc.weight) * images.mean(dim=(1, 2, 3))[:, None]).sum(0)
    norms = nonlinearities.weight_gradient_norms(net, images, labels)
    assert list(norms) == ["conv1"]
    assert norms["conv1"] == pytest.approx(expected.norm().item(), rel=1e-5)
    assert net.conv1.weight.grad is None and not net.training


def test_weight_gradient_norms_use_batch_statistics_and_restore_the_model():
    torch.manual_seed(0)
    net = models.build_model("deep8_bn").eval()
    before = {k: v.clone() for k, v in net.state_dict().items()}
    images = torch.rand(8, 1, 28, 28, generator=torch.Generator().manual_seed(2))
    labels = torch.arange(8)
    norms = nonlinearities.weight_gradient_norms(net, images, labels)
    assert list(norms) == [f"conv{i}" for i in range(1, 9)]
    # the reference: the same loss in training mode, by autograd
    reference = models.build_model("deep8_bn")
    reference.load_state_dict(before)
    loss = F.cross_entropy(reference.train()(images), labels)
    loss.backward()
    assert norms["conv1"] == pytest.approx(reference.conv1.weight.grad.norm().item(), rel=1e-4)
    assert not net.training
    assert all(torch.equal(v, before[k]) for k, v in net.state_dict().items())
    with pytest.raises(ValueError, match="one label per image"):
        nonlinearities.weight_gradient_norms(net, images, labels[:3])
    with pytest.raises(ValueError, match="no nn.Conv2d"):
        nonlinearities.weight_gradient_norms(torch.nn.Flatten(), images, labels)

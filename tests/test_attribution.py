"""Attribution maps against captum's, integrated gradients against a closed form, and the
sanity-check helpers (cascading randomization, rank correlation) against their definitions."""
import pytest
import torch
from captum.attr import IntegratedGradients, Occlusion, Saliency
from scipy.stats import spearmanr
from torch import nn

from course_utils.cnn.models import ConvNet
from course_utils.interp import attribution

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def tiny():
    """A random 2-channel 8 x 8 CNN with 3 classes, five images and one target per image."""
    torch.manual_seed(0)
    model = ConvNet([4, "M", 8, "G"], [3, 3], in_channels=2, num_classes=3, image_size=8)
    images = torch.rand(5, 2, 8, 8, generator=torch.Generator().manual_seed(1))
    return model.eval(), images, torch.tensor([0, 1, 2, 1, 0])


class SquaredProjection(nn.Module):
    """f(x) = ((w . x)^2, -(v . x)^2): integrated gradients from 0 is x_i w_i (w . x), exactly."""

    def __init__(self, shape, seed=2):
        super().__init__()
        g = torch.Generator().manual_seed(seed)
        self.w, self.v = (nn.Parameter(torch.randn(shape, generator=g)) for _ in range(2))

    def forward(self, x):
        return torch.stack([(x * self.w).sum((1, 2, 3)) ** 2,
                            -(x * self.v).sum((1, 2, 3)) ** 2], 1)


# ----------------------------------------------------------------------------- against captum
@pytest.mark.parametrize("absolute", [False, True])
def test_saliency_equals_captums(tiny, absolute):
    model, images, target = tiny
    ours = attribution.saliency(model, images, target, absolute=absolute)
    theirs = Saliency(model).attribute(images.clone().requires_grad_(), target=target,
                                       abs=absolute)
    assert ours.shape == images.shape
    torch.testing.assert_close(ours, theirs, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("method", ["right", "middle", "trapezoid"])
def test_integrated_gradients_equals_captums(tiny, method):
    model, images, target = tiny
    baseline = torch.full_like(images, 0.25)
    steps = 12
    ours = attribution.integrated_gradients(model, images, target, baseline=baseline,
                                            steps=steps, method=method, batch_size=7)
    theirs = IntegratedGradients(model).attribute(
        images, baselines=baseline, target=target, n_steps=steps, method=f"riemann_{method}")
    if method == "trapezoid":
        # captum's trapezoid puts its points at linspace(0, 1, n) but weighs them 1/n (halved
        # at the ends), so its weights sum to (n - 1) / n; ours sum to 1.
        theirs = theirs * steps / (steps - 1)
    torch.testing.assert_close(ours, theirs, rtol=1e-4, atol=1e-7)


@pytest.mark.parametrize("window,stride", [(3, 1), (4, 2), (3, 2), (5, 4)])
def test_occlusion_equals_captums(tiny, window, stride):
    model, images, target = tiny
    ours = attribution.occlusion(model, images, target, window=window, stride=stride,
                                 fill=0.3, batch_size=16)
    theirs = Occlusion(model).attribute(images, target=target, baselines=0.3,
                                        sliding_window_shapes=(2, window, window),
                                        strides=(1, stride, stride))
    torch.testing.assert_close(ours, theirs, rtol=1e-4, atol=1e-6)


# ----------------------------------------------------------------------------- closed forms
def test_integrated_gradients_closed_form():
    model = SquaredProjection((1, 4, 4)).eval()
    x = torch.rand(3, 1, 4, 4, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    model.double()
    exact = x * model.w * (x * model.w).sum((1, 2, 3), keepdim=True)
    # The integrand is linear in alpha: the trapezoid and midpoint rules are exact...
    for method in ("trapezoid", "middle"):
        got = attribution.integrated_gradients(model, x, 0, steps=2 if method == "trapezoid" else 1,
                                               method=method)
        torch.testing.assert_close(got, exact)
    # ... and the right Riemann sum of the integral of alpha, (steps + 1) / (2 steps), is
    # 1 / steps too large.
    right = attribution.integrated_gradients(model, x, 0, steps=5, method="right")
    torch.testing.assert_close(right, exact * (1 + 1 / 5))


@pytest.mark.parametrize("pool,order", [("A", 2), ("M", 1)])
def test_completeness_error_shrinks_with_steps(pool, order):
    """Completeness, sum of the map = f(x) - f(0), holds in the limit. The trapezoid rule's error
    falls as 1 / intervals^2 for a smooth network (tanh, average pooling) and only as
    1 / intervals with max pooling, whose gradient jumps where the maximum changes."""
    torch.manual_seed(4)
    model = ConvNet([4, pool, 8, "G"], [3, 3], num_classes=3, image_size=8,
                    activation="tanh").double().eval()
    x = torch.rand(4, 1, 8, 8, generator=torch.Generator().manual_seed(5), dtype=torch.float64)
    with torch.no_grad():
        gap = model(x)[:, 2] - model(torch.zeros_like(x))[:, 2]
    errors = []
    for steps in (5, 9, 17, 33):                # 4, 8, 16, 32 intervals
        ig = attribution.integrated_gradients(model, x, 2, steps=steps)
        errors.append(float((ig.sum((1, 2, 3)) - gap).abs().max()))
    for coarse, fine in zip(errors, errors[1:]):
        assert 0.7 * 2**order < coarse / fine < 1.4 * 2**order, errors
    assert errors[-1] < 0.02 * float(gap.abs().min())


def test_gradient_times_input_is_one_step_and_misses_completeness_with_biases(tiny):
    model, images, target = tiny
    product = attribution.gradient_times_input(model, images, target)
    torch.testing.assert_close(product, attribution.saliency(model, images, target) * images)
    torch.testing.assert_close(
        product, attribution.integrated_gradients(model, images, target, steps=1, method="right"))


# ----------------------------------------------------------------------------- can fail
def test_another_target_gives_other_maps(tiny):
    model, images, target = tiny
    other = (target + 1) % 3
    for method in (attribution.saliency, attribution.integrated_gradients,
                   attribution.occlusion):
        a, b = method(model, images, target), method(model, images, other)
        assert not torch.allclose(a, b), method.__name__


def test_a_black_image_gets_no_occlusion_or_ig_map(tiny):
    model, images, target = tiny
    black = torch.zeros_like(images)
    assert attribution.occlusion(model, black, target).abs().max() < 1e-6
    assert attribution.integrated_gradients(model, black, target).abs().max() == 0


@pytest.mark.parametrize("call,message", [
    (lambda m, x: attribution.saliency(m, x[0], 0), "N x C x H x W"),
    (lambda m, x: attribution.saliency(m, x, 3), r"\[0, 3\)"),
    (lambda m, x: attribution.saliency(m, x, torch.tensor([0, 1])), "5 integer"),
    (lambda m, x: attribution.saliency(m, x, 0.5), "int"),
    (lambda m, x: attribution.integrated_gradients(m, x, 0, steps=1), "steps"),
    (lambda m, x: attribution.integrated_gradients(m, x, 0, method="simpson"), "method"),
    (lambda m, x: attribution.integrated_gradients(m, x, 0, baseline=x[:, :1]), "baseline"),
    (lambda m, x: attribution.occlusion(m, x, 0, window=9), "window"),
])
def test_clear_errors(tiny, call, message):
    model, images, _ = tiny
    with pytest.raises(ValueError, match=message):
        call(model, images)


def test_training_mode_is_refused(tiny):
    model, images, _ = tiny
    model.train()
    try:
        with pytest.raises(ValueError, match="training mode.*eval"):
            attribution.saliency(model, images, 0)
    finally:
        model.eval()


# ----------------------------------------------------------------------------- sanity checks
def test_cascading_randomization_goes_top_down_and_leaves_the_global_rng(tiny):
    model, images, _ = tiny
    before = {k: v.clone() for k, v in model.state_dict().items()}
    rng = torch.random.get_rng_state()
    steps = attribution.cascading_randomization(model, seed=3)
    assert torch.equal(torch.random.get_rng_state(), rng)
    assert [name for name, _ in steps] == ["fc", "conv2", "conv1"]
    for k, v in model.state_dict().items():
        assert torch.equal(v, before[k]), f"the original model changed: {k}"
    for depth, (name, copy) in enumerate(steps, start=1):
        assert not copy.training
        randomized = ["fc", "conv2", "conv1"][:depth]
        for layer in ("fc", "conv2", "conv1"):
            same = torch.equal(copy.get_submodule(layer).weight, model.get_submodule(layer).weight)
            assert same == (layer not in randomized), (name, layer)
        # the cascade keeps the draws of the step before
        if depth > 1:
            earlier = steps[depth - 2][1]
            assert torch.equal(copy.fc.weight, earlier.fc.weight)
    fc = steps[0][1].fc
    bound = 1 / fc.weight.shape[1] ** 0.5
    assert fc.weight.abs().max() <= bound and fc.bias.abs().max() <= bound
    again = attribution.cascading_randomization(model, seed=3)
    other = attribution.cascading_randomization(model, seed=4)
    assert torch.equal(again[-1][1].conv1.weight, steps[-1][1].conv1.weight)
    assert not torch.equal(other[-1][1].conv1.weight, steps[-1][1].conv1.weight)


def test_cascading_randomization_names_its_layers(tiny):
    model, _, _ = tiny
    steps = attribution.cascading_randomization(model, layers=["conv2", "fc"])
    assert [name for name, _ in steps] == ["fc", "conv2"]
    assert torch.equal(steps[-1][1].conv1.weight, model.conv1.weight)
    with pytest.raises(ValueError, match="conv1, conv2, fc"):
        attribution.cascading_randomization(model, layers=["relu1"])


def test_rank_correlation_equals_scipys_spearman_with_ties():
    g = torch.Generator().manual_seed(6)
    a = torch.randint(-4, 5, (4, 1, 6, 6), generator=g).float()   # many ties, signs
    b = a + torch.randint(-3, 4, a.shape, generator=g).float()
    for absolute in (True, False):
        ours = attribution.rank_correlation(a, b, absolute=absolute)
        fa, fb = (t.abs() if absolute else t for t in (a, b))
        reference = [spearmanr(x.flatten(), y.flatten()).statistic for x, y in zip(fa, fb)]
        torch.testing.assert_close(ours, torch.tensor(reference, dtype=torch.float64))
    assert torch.allclose(attribution.rank_correlation(a, -a), torch.ones(4, dtype=torch.float64))
    assert attribution.rank_correlation(a, -a, absolute=False).max() < 0
    with pytest.raises(ValueError, match="same shape"):
        attribution.rank_correlation(a, b[:, :, :5])


def test_rank_correlation_with_a_mask_ranks_only_the_kept_pixels():
    g = torch.Generator().manual_seed(7)
    a, b = torch.randn(3, 1, 5, 5, generator=g), torch.randn(3, 1, 5, 5, generator=g)
    mask = torch.rand(3, 1, 5, 5, generator=g) > 0.4
    ours = attribution.rank_correlation(a, b, mask=mask)
    reference = [spearmanr(x[m].abs(), y[m].abs()).statistic for x, y, m in zip(a, b, mask)]
    torch.testing.assert_close(ours, torch.tensor(reference, dtype=torch.float64))
    # Outside the mask anything goes: the kept pixels alone decide.
    noisy = torch.where(mask, b, torch.randn(b.shape, generator=g))
    torch.testing.assert_close(attribution.rank_correlation(a, noisy, mask=mask), ours)
    with pytest.raises(ValueError, match="mask"):
        attribution.rank_correlation(a, b, mask=mask[:, :, :4])

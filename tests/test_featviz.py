"""Feature visualization: parameterizations, transforms, objective algebra and the render loop."""
import pytest
import torch

from course_utils.cnn import zoo
from course_utils.interp import featviz as fv
from course_utils.cnn import models
from course_utils.interp import hooks


# Tiny tensors: one thread (conftest.py) avoids two threads' coordination cost on 2 busy cores.
pytestmark = pytest.mark.usefixtures("one_thread")


def _tiny(in_channels=1, size=28, seed=0):
    torch.manual_seed(seed)
    return models.build_model("small", in_channels=in_channels, image_size=size).eval()


@pytest.mark.parametrize("cls", [fv.PixelImage, fv.FourierImage])
@pytest.mark.parametrize("shape", [(2, 1, 28, 28), (1, 3, 32, 32), (3, 1, 15, 22)])
def test_parameterizations_give_images_in_range_starting_grey(cls, shape):
    param = cls(*shape, seed=0)
    images = param()
    assert images.shape == shape and images.min() >= 0 and images.max() <= 1
    assert (images - 0.5).abs().max() < 0.1          # starts near uniform grey
    assert torch.equal(cls(*shape, seed=0)(), images)  # seeded


def test_fourier_zero_frequency_is_the_mean_brightness():
    param = fv.FourierImage(1, 1, 8, 8)
    with torch.no_grad():
        param.spectrum.zero_()
        param.spectrum[0, 0, 0, 0, 0] = 1.0
    image = param()
    # only the DC term: a constant image, value sigmoid(scale_0 * 1 / 8 / 4) with ortho scaling
    expected = torch.sigmoid(param.scale[0, 0] / 8 / 4)
    assert torch.allclose(image, expected.expand_as(image), atol=1e-6)


def test_fourier_scale_prefers_low_frequencies():
    scale = fv.param.spectrum_scale(28, 28)
    assert scale[0, 0] == scale.max() and scale[0, 1] > scale[0, 7] > scale[14, 14]


def test_transforms_keep_size_and_identity_settings_change_nothing():
    g = torch.Generator().manual_seed(0)
    images = torch.rand(4, 3, 28, 28)
    for t in (fv.jitter(2), fv.random_scale(0.9, 1.1), fv.random_rotate(10)):
        assert t(images, g).shape == images.shape
    for t in (fv.jitter(0), fv.random_scale(1.0, 1.0), fv.random_rotate(0.0)):
        assert torch.allclose(t(images, g), images, atol=1e-5)
    assert fv.pad(2)(images, g).shape == (4, 3, 32, 32)
    pipeline = fv.compose(fv.standard_transforms(28))
    out1 = pipeline(images, torch.Generator().manual_seed(5))
    out2 = pipeline(images, torch.Generator().manual_seed(5))
    assert out1.shape == images.shape and torch.equal(out1, out2)
    with pytest.raises(ValueError, match="crop"):
        fv.center_crop(30)(images, g)


def test_jitter_is_a_shift():
    image = torch.zeros(1, 1, 9, 9)
    image[0, 0, 4, 4] = 1.0
    out = fv.jitter(2)(image, torch.Generator().manual_seed(3))
    y, x = torch.nonzero(out[0, 0]).tolist()[0]
    assert abs(y - 4) <= 2 and abs(x - 4) <= 2 and out.sum() == 1


def test_objective_algebra_matches_arithmetic_on_values():
    acts = {"a": torch.randn(3, 4, 5, 5), "b": torch.randn(3, 6)}
    c0, c1, f2 = fv.channel("a", 0), fv.channel("a", 1), fv.channel("b", 2)
    combined = 2 * c0 - c1 * 0.5 + f2 / 4 - 1.0
    expected = 2 * acts["a"][:, 0].mean((1, 2)) - 0.5 * acts["a"][:, 1].mean((1, 2)) + acts["b"][:, 2] / 4 - 1.0
    assert torch.allclose(combined(acts), expected, atol=1e-6)
    assert combined.layers == ("a", "b")
    total = sum(fv.channel("a", c, batch=i) for i, c in enumerate([3, 1, 2]))
    assert torch.allclose(total(acts), torch.stack([acts["a"][i, c].mean() for i, c in enumerate([3, 1, 2])]))
    assert torch.equal(fv.neuron("a", 2)(acts), acts["a"][:, 2, 2, 2])
    with pytest.raises(TypeError):
        c0 * c1


def test_direction_and_diversity_values():
    v = torch.tensor([1.0, 0.0, 0.0])
    acts = {"a": torch.zeros(2, 3, 2, 2)}
    acts["a"][0, 0] = 5.0          # image 0 points along v everywhere
    acts["a"][1, 1] = 5.0          # image 1 is orthogonal to v
    assert torch.allclose(fv.direction("a", v)(acts), torch.tensor([1.0, 0.0]))
    assert torch.allclose(fv.direction("a", v, cosine=False)(acts), torch.tensor([5.0, 0.0]))
    same = {"a": torch.rand(1, 3, 4, 4).expand(3, -1, -1, -1)}
    assert torch.allclose(fv.diversity("a")(same), torch.full((3,), -1.0), atol=1e-5)
    assert (fv.diversity("a")(acts) > -1).all()
    with pytest.raises(ValueError, match="channels"):
        fv.direction("a", torch.ones(4))(acts)


def test_render_raises_the_objective_far_above_random_inputs():
    model = zoo.pretrained("mnist_small")
    objective = fv.channel("conv2", 3)
    random_values = fv.objective_values(model, objective, torch.rand(64, 1, 28, 28, generator=torch.Generator().manual_seed(0)))
    result = fv.render(model, objective, fv.image(1, 1, 28), steps=96, progress=False)
    assert result.history[-1] > result.history[0]
    spread = random_values.max() - random_values.min()
    assert result.values.max() > random_values.max() + 2 * spread


def test_conv1_visualization_correlates_with_its_own_weights_only():
    model = zoo.pretrained("mnist_small")
    channels = list(range(6))
    objective = sum(fv.neuron("conv1", c, batch=i) for i, c in enumerate(channels))
    result = fv.render(model, objective, fv.image(len(channels), 1, 28, fourier=False), transforms=[], steps=96, progress=False)
    crops = result.images[:, 0, 12:17, 12:17].flatten(1)      # the centre unit's 5x5 receptive field
    weights = model.conv1.weight[channels, 0].flatten(1)
    r = torch.corrcoef(torch.cat([crops, weights]))[: len(channels), len(channels):]
    own, others = r.diagonal(), r[~torch.eye(len(channels), dtype=bool)]
    assert own.min() > 0.5 and own.mean() > 0.7 and own.mean() > others.abs().mean() + 0.4


def test_post_relu_objective_from_grey_cannot_start():
    model = zoo.pretrained("mnist_small")
    _, test = zoo.zoo_data("mnist_small")
    grey = torch.full((1, 1, 28, 28), 0.5)
    on_grey = hooks.record(model, grey, "conv2")["conv2"][0, :, 7, 7]
    on_digits = hooks.record(model, test.images, "conv2")["conv2"][:, :, 7, 7].max(0).values
    unit = int(torch.nonzero((on_grey < 0) & (on_digits > 0))[0])     # negative on grey, alive on data
    post = fv.render(model, fv.neuron("relu2", unit), fv.PixelImage(1, 1, 28, sd=0.0), transforms=[], steps=128, progress=False)
    assert post.values.item() == 0.0 and max(post.history) == 0.0
    pre = fv.render(model, fv.neuron("conv2", unit), fv.PixelImage(1, 1, 28, sd=0.0), transforms=[], steps=128, progress=False)
    assert pre.values.item() > 0.0 > on_grey[unit].item()


def test_render_works_for_colour_any_size_and_reports_dataset_max():
    model = _tiny(in_channels=3, size=32)
    references = torch.rand(20, 3, 32, 32)
    result = fv.render(model, fv.channel("conv3", 0), steps=8, progress=False, reference_images=references, seed=1)
    assert result.images.shape == (1, 3, 32, 32)
    assert result.dataset_max == pytest.approx(float(fv.objective_values(model, fv.channel("conv3", 0), references).max()))
    again = fv.render(model, fv.channel("conv3", 0), steps=8, progress=False, seed=1)
    assert torch.equal(result.images, again.images) and "dataset max" in repr(result)


def test_render_fails_clearly():
    model = _tiny()
    with pytest.raises(KeyError, match="valid layer names"):
        fv.render(model, fv.channel("conv9", 0), steps=1, progress=False)
    with pytest.raises(ValueError, match="channels"):
        fv.render(model, fv.channel("conv1", 99), steps=1, progress=False)
    with pytest.raises(ValueError, match="batch index"):
        fv.render(model, fv.channel("conv1", 0, batch=3), fv.image(2, 1, 28), steps=1, progress=False)

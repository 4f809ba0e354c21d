"""Dataset examples: the right images, ranked, cropped to exactly what the unit sees."""
import pytest
import torch
import torch.nn.functional as F

from course_utils.interp import dataset_examples as de
from course_utils.cnn import models
from course_utils.interp import hooks


def _setup(seed=0):
    torch.manual_seed(seed)
    model = models.build_model("small").eval()
    images = torch.rand(40, 1, 28, 28, generator=torch.Generator().manual_seed(seed))
    return model, images


@pytest.mark.parametrize("largest", [True, False])
def test_top_and_bottom_examples_match_brute_force(largest):
    model, images = _setup()
    acts = hooks.record(model, images, "conv2")["conv2"][:, 4]          # N x 14 x 14
    per_image = acts.flatten(1).max(1).values if largest else acts.flatten(1).min(1).values
    expected = per_image.sort(descending=largest)
    found = de.dataset_examples(model, images, "conv2", 4, k=6, largest=largest)
    assert torch.equal(found.indices, expected.indices[:6]) and torch.allclose(found.values, expected.values[:6])
    for i, (y, x) in zip(found.indices, found.positions):
        assert acts[i, y, x] == per_image[i]
    assert found.crops.shape == (6, 1, 10, 10)


def test_conv1_crop_is_exactly_what_the_unit_sees():
    """A conv1 unit's value equals its 5x5 kernel applied to its crop (border crops zero-padded,
    like the convolution's own padding)."""
    model, images = _setup()
    images[3, :, :6, :6] += 5.0            # make a corner win, so a crop reaches outside the image
    found = de.dataset_examples(model, images, "conv1", 2, k=10)
    weight, bias = model.conv1.weight[2, 0], model.conv1.bias[2]
    recomputed = (found.crops[:, 0] * weight).sum((1, 2)) + bias
    assert torch.allclose(recomputed, found.values, atol=1e-5)
    assert (found.positions < 2).any()          # at least one crop reached into the padding


def test_linear_layer_examples_are_whole_images():
    model, images = _setup()
    found = de.dataset_examples(model, images, "fc", 7, k=3)
    logits = hooks.record(model, images, "fc")["fc"][:, 7]
    assert torch.equal(found.crops, images[logits.argsort(descending=True)[:3]])
    assert (found.positions == -1).all()


def test_crop_with_padding():
    image = torch.arange(16.0).reshape(1, 1, 4, 4)
    crop = de.crop_receptive_fields(image, [(-1, 2, 2, 5)], pad_value=-9.0)[0, 0]
    expected = F.pad(image, [1, 1, 1, 1], value=-9.0)[0, 0, 0:3, 3:6]
    assert torch.equal(crop, expected)
    with pytest.raises(ValueError, match="one box per image"):
        de.crop_receptive_fields(image, [])


def test_examples_by_range_draws_from_each_range():
    values = torch.linspace(0, 1, 101)
    picks = de.examples_by_range(values, n_bins=4, per_bin=3, seed=0)
    assert len(picks) == 4 and all(len(p) == 3 for p in picks)
    for b, p in enumerate(picks):
        assert ((values[p] >= b / 4 - 1e-6) & (values[p] <= (b + 1) / 4 + 1e-6)).all()


def test_bad_arguments_fail_clearly():
    model, images = _setup()
    with pytest.raises(ValueError, match="channel must be in"):
        de.dataset_examples(model, images, "conv1", 16)
    with pytest.raises(ValueError, match="k must be"):
        de.dataset_examples(model, images, "conv1", 0, k=41)
    with pytest.raises(KeyError, match="valid layer names"):
        de.dataset_examples(model, images, "conv0", 0)

"""Receptive-field arithmetic agrees with receptive fields measured from gradients."""
import pytest
import torch
from torch import nn

from course_utils.cnn import models
from course_utils.interp.hooks import forward_to
from course_utils.cnn.linearity import linearized
from course_utils.cnn.receptive_field import clip_box, gradient_receptive_field, receptive_fields


def _strided_dilated():
    """Not one of the course's models: stride, dilation, padding 0 and an average pool."""
    net = nn.Sequential()
    net.add_module("conv1", nn.Conv2d(1, 2, 3, stride=2, padding=1))
    net.add_module("relu1", nn.ReLU())
    net.add_module("conv2", nn.Conv2d(2, 2, 3, dilation=2))
    net.add_module("pool1", nn.AvgPool2d(3, stride=1))
    net.add_module("conv3", nn.Conv2d(2, 2, 5, stride=1, padding=2))
    return net


CASES = [(models.build_model("small"), 28), (models.build_model("lenet"), 28),
         (models.build_model("deep", image_size=32), 32), (_strided_dilated(), 31)]


@pytest.mark.parametrize("model,size", CASES, ids=["small", "lenet", "deep", "strided_dilated"])
def test_arithmetic_matches_gradient_support(model, size):
    fields = receptive_fields(model, size)
    image = torch.zeros(1, 1, size, size)
    for name, layer in model.named_children():
        if isinstance(layer, (nn.Flatten, nn.Linear, nn.AdaptiveAvgPool2d)):
            break
        h, w = forward_to(model, image, name).shape[-2:]
        for y, x in {(0, 0), (h - 1, w - 1), (h // 2, w // 3), (0, w - 1)}:
            _, measured = gradient_receptive_field(model, name, (1, size, size), y, x)
            assert measured == clip_box(fields[name].box(y, x), size, size), (name, y, x)


def test_sizes_grow_with_depth_by_the_closed_form():
    fields = receptive_fields(models.build_model("small"))
    # conv5: 5; pool2: 5 + 1 = 6; conv3 at jump 2: 6 + 2*2 = 10; pool: 12; conv3 at jump 4: 20
    assert [fields[n].size for n in ("conv1", "pool1", "conv2", "pool2", "conv3")] == [5, 6, 10, 12, 20]
    assert [fields[n].jump for n in ("conv1", "conv2", "conv3")] == [1, 2, 4]
    assert fields["fc"].global_ and fields["fc"].size == 28


def test_real_gradients_stay_inside_the_theoretical_field():
    torch.manual_seed(0)
    model = models.build_model("small").eval()
    field = receptive_fields(model)["conv3"]
    magnitude, box = gradient_receptive_field(model, "conv3", (1, 28, 28), 3, 3, channel=5, linearize=False)
    top, left, bottom, right = clip_box(field.box(3, 3), 28, 28)
    outside = magnitude.clone()
    outside[top:bottom, left:right] = 0
    assert box is not None and outside.abs().max() == 0


@pytest.mark.parametrize("unit_weights", [False, True])
def test_linearized_leaves_the_model_alone(unit_weights):
    model = models.build_model("small")
    before = model.conv1.weight.clone()
    clone = linearized(model, unit_weights=unit_weights)
    assert torch.equal(model.conv1.weight, before) and isinstance(model.pool1, nn.MaxPool2d)
    assert isinstance(clone.pool1, nn.AvgPool2d) and isinstance(clone.relu1, nn.Identity)
    assert torch.equal(clone.conv1.weight, torch.ones_like(before) if unit_weights else before)


def test_unsupported_layer_and_bad_name_fail_clearly():
    net = nn.Sequential(nn.Conv2d(1, 1, 3), nn.Upsample(scale_factor=2))
    with pytest.raises(ValueError, match="Upsample"):
        receptive_fields(net, 10)
    with pytest.raises(KeyError, match="valid layer names"):
        gradient_receptive_field(models.build_model("small"), "conv7", (1, 28, 28), 0, 0)


@pytest.mark.parametrize("model,size", CASES, ids=["small", "lenet", "deep", "strided_dilated"])
def test_chapter1_table_and_chapter4_arithmetic_agree(model, size):
    """architecture.summary (chapter 1's table) and receptive_fields (chapter 4) give every layer
    the same field: the book never shows two answers to one question."""
    from course_utils.cnn import architecture

    table = architecture.summary(model, (1, size, size))
    fields = receptive_fields(model, size)
    for name, field in fields.items():
        assert table.row(name).field == field, name

"""Every claim chapter 1 (CNN architecture) makes, recomputed with the functions the chapter calls.

Numbers quoted in the chapter's text are checked here too, so text and code cannot drift apart.
"""
import pytest
import torch
import torch.nn.functional as F
from torch import nn

import course_utils as cu
from course_utils import architecture, conv, photos, pooling, training, zoo


@pytest.fixture(scope="module")
def layers():
    """The chapter's photo through its hand-set convolution, ReLU and pooling."""
    x = photos.photo("astronaut", size=128)[None]
    bank, _ = conv.rgb_kernel_bank()
    layer = nn.Conv2d(3, 4, kernel_size=3, padding=1)
    with torch.no_grad():
        layer.weight.copy_(bank)
        layer.bias.zero_()
        pre = layer(x)
    post = F.relu(pre)
    return {"x": x, "layer": layer, "pre": pre, "post": post, "pooled": cu.max_pool2d(post, 2)}


def test_convolution_layer_shape_parameters_and_signed_values(layers):
    assert layers["x"].shape == (1, 3, 128, 128) and layers["pre"].shape == (1, 4, 128, 128)
    assert cu.count_parameters(layers["layer"]) == architecture.conv_parameters(3, 4, 3) == 112
    assert layers["pre"].min() < 0 < layers["pre"].max()  # "its outputs can be negative"
    # the layer with the bank's weights is the package's conv2d with the same weights
    torch.testing.assert_close(layers["pre"], cu.conv2d(layers["x"], conv.rgb_kernel_bank()[0], padding=1))


def test_relu_zeroes_exactly_the_non_positive_values_about_a_third(layers):
    pre, post = layers["pre"], layers["post"]
    assert post.shape == pre.shape and post.min() == 0
    zeroed = (post == 0).float().mean().item()
    assert zeroed == pytest.approx((pre <= 0).float().mean().item())
    assert 0.25 < zeroed < 0.40  # "about a third"
    assert torch.equal(post[pre > 0], pre[pre > 0])


def test_pooling_quarters_the_values_and_matches_torch(layers):
    post, pooled = layers["post"], layers["pooled"]
    assert pooled.shape == (1, 4, 64, 64) and post.numel() == 4 * pooled.numel()
    assert torch.equal(pooled, F.max_pool2d(post, 2))
    torch.testing.assert_close(cu.avg_pool2d(post, 2), F.avg_pool2d(post, 2))


def test_shift_invariance_numbers_quoted_in_the_text(layers):
    edges = layers["post"][:, :1]
    none = pooling.shift_change(edges)
    sub = pooling.shift_change(edges, pooling.subsample)
    max2 = pooling.shift_change(edges, lambda t: cu.max_pool2d(t, 2))
    max4 = pooling.shift_change(edges, lambda t: cu.max_pool2d(t, 4))
    global_max = pooling.shift_change(edges, lambda t: t.amax(dim=(-2, -1)))
    # the ordering the chapter claims, with subsampling as the baseline ...
    assert sub >= 0.95 * none and max2 < 0.9 * none and max4 < 0.85 * max2 and global_max < 0.05
    # ... and the percentages its text quotes (83% -> 68% -> 52%, subsampling 83%)
    for value, quoted in [(none, 0.83), (max2, 0.68), (max4, 0.52), (sub, 0.83)]:
        assert value == pytest.approx(quoted, abs=0.015)


def test_fully_connected_layer_parameters_and_journey_table(layers):
    flat = layers["pooled"].flatten(1)
    assert flat.shape == (1, 16384)
    assert cu.count_parameters(nn.Linear(16384, 10)) == architecture.linear_parameters(16384, 10) == 163_850
    # the values column of the "journey" table
    assert [layers["x"].numel(), layers["pre"].numel(), layers["pooled"].numel()] == [49_152, 65_536, 16_384]


def test_bookkeeping_totals_and_shares_quoted_in_the_text():
    small = architecture.summary(cu.build_model("small"), (1, 28, 28))
    vgg = architecture.summary(architecture.torchvision_model("vgg16"), (3, 224, 224))
    google = architecture.summary(architecture.torchvision_model("googlenet"), (3, 224, 224))
    assert (small.total_parameters, vgg.total_parameters, google.total_parameters) == (24_202, 138_357_544, 6_624_904)
    assert small.row("conv1").field.size == 5 and small.row("conv3").field.size == 20 and small.row("gap").field.whole
    assert vgg.row("features.30").field.size == 212
    in_fc = sum(r.parameters for r in vgg if r.kind == "Linear") / vgg.total_parameters
    assert round(100 * in_fc) == 89
    assert round(vgg.total_parameters / google.total_parameters) == 21
    # the diagram's caption: 13 convolutions in 5 blocks, 5 max pools, 3 fully connected layers
    kinds = [r.kind for r in vgg]
    assert (kinds.count("Conv2d"), kinds.count("MaxPool2d"), kinds.count("Linear")) == (13, 5, 3)
    # "the table shows each Inception block as one row"
    assert sum(r.kind == "Inception" for r in google) == 9


def test_trained_small_cnn_beats_its_untrained_baseline():
    model = zoo.pretrained("mnist_small", seed=0, progress=False)
    history = zoo.training_history("mnist_small", seed=0)
    _, test = zoo.zoo_data("mnist_small")
    accuracy = cu.evaluate(model, test)["accuracy"]
    untrained = cu.evaluate(zoo.untrained("mnist_small", seed=0), test)["accuracy"]
    assert 0.93 <= accuracy <= 0.97       # "about 95%"
    assert untrained < 0.2                # near chance (10%)
    assert history.val_accuracy[-1] > history.accuracy[-1]  # validation above (shifted) training accuracy
    assert history.loss[-1] < history.loss[0] and history.val_accuracy[-1] > history.val_accuracy[0]
    logits, labels = training.predict(model, test)
    matrix = training.confusion_matrix(logits, labels)
    assert int(matrix.sum()) == len(test) and int(matrix.trace()) == round(accuracy * len(test))

"""Chapter 1's bookkeeping (shapes, parameters, receptive fields) and pooling, against torch."""
import copy

import pytest
import torch
import torch.nn.functional as F
import torchinfo
import torchvision
from hypothesis import given, settings, strategies as st
from torch import nn

from course_utils.cnn import conv, pooling
from course_utils.cnn import architecture, models, pooling
from course_utils.data import photos
from course_utils.cnn.conv import kernel


def torch_count(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


@pytest.mark.parametrize("c_in,c_out,k,bias", [(1, 16, 5, True), (3, 64, 3, True), (512, 512, 3, False), (192, 64, 1, True)])
def test_conv_parameter_formula_matches_torch(c_in, c_out, k, bias):
    assert architecture.conv_parameters(c_in, c_out, k, bias) == torch_count(nn.Conv2d(c_in, c_out, k, bias=bias, device="meta"))


@pytest.mark.parametrize("n_in,n_out,bias", [(64, 10, True), (25088, 4096, True), (7, 3, False)])
def test_linear_parameter_formula_matches_torch(n_in, n_out, bias):
    assert architecture.linear_parameters(n_in, n_out, bias) == torch_count(nn.Linear(n_in, n_out, bias=bias, device="meta"))


@pytest.mark.parametrize("name,input_shape,expected_total", [
    ("small", (1, 28, 28), None), ("vgg16", (3, 224, 224), 138_357_544), ("googlenet", (3, 224, 224), 6_624_904),
])
def test_summary_totals_equal_torch_counts(name, input_shape, expected_total):
    model = models.build_model("small") if name == "small" else architecture.torchvision_model(name)
    table = architecture.summary(model, input_shape)
    assert table.total_parameters == torch_count(model)
    assert sum(r.parameters for r in table) == torch_count(model)  # every parameter sits in some row
    if expected_total is not None:  # the published figures (torchvision's model docs)
        assert table.total_parameters == expected_total
    assert all(r.output_shape is not None for r in table)


@pytest.mark.parametrize("name,input_shape", [
    ("small", (1, 28, 28)), ("vgg16", (3, 224, 224)), ("googlenet", (3, 224, 224)),
])
def test_summary_rows_equal_torchinfos(name, input_shape):
    """Every row's output shape and parameter count, against torchinfo's summary of the model."""
    model = models.build_model("small") if name == "small" else architecture.torchvision_model(name)
    device = next(model.parameters()).device
    reference = torchinfo.summary(model, input_size=(1, *input_shape), device=device, verbose=0,
                                  depth=10)
    name_of = {id(module): full for full, module in model.named_modules()}
    theirs = {name_of[id(layer.module)]: (tuple(layer.output_size[1:]), layer.num_params)
              for layer in reference.summary_list if id(layer.module) in name_of}
    table = architecture.summary(model, input_shape)
    ours = {row.name: (row.output_shape, row.parameters) for row in table}
    assert ours and {k: theirs[k] for k in ours} == ours
    assert table.total_parameters == reference.total_params


def test_summary_shapes_of_vgg_and_googlenet_follow_the_output_size_formula():
    vgg = architecture.summary(architecture.torchvision_model("vgg16"), (3, 224, 224))
    sides = [r.output_shape[-1] for r in vgg if r.kind == "MaxPool2d"]
    expected, side = [], 224
    for _ in range(5):
        side = conv.conv_output_size(side, 2, 2)
        expected.append(side)
    assert sides == expected == [112, 56, 28, 14, 7]
    google = architecture.summary(architecture.torchvision_model("googlenet"), (3, 224, 224))
    assert google.row("inception5b").output_shape == (1024, 7, 7)
    assert google.row("fc").output_shape == (1000,)


def test_vgg16_receptive_fields_match_published_values():
    # Araujo, Norris & Sim, "Computing Receptive Fields of Convolutional Neural Networks", Distill 2019.
    table = architecture.summary(architecture.torchvision_model("vgg16"), (3, 224, 224))
    pools = [r.field.size for r in table if r.kind == "MaxPool2d"]
    assert pools == [6, 16, 44, 100, 212]
    assert table.row("features.28").field.size == 196 and table.row("classifier.0").field.global_


def _gradient_extent(model: nn.Module, layer: str, size: int) -> int:
    """Width of the input region that reaches the centre unit of ``layer``, measured by gradients
    through a copy whose every path counts: weights 1, biases 0, max pools turned into average pools."""
    model = copy.deepcopy(model).double().eval()
    for name, module in list(model.named_modules()):
        for child_name, child in list(module.named_children()):
            if isinstance(child, nn.MaxPool2d):
                setattr(module, child_name, nn.AvgPool2d(child.kernel_size, child.stride, child.padding, ceil_mode=child.ceil_mode))
        if isinstance(module, nn.Conv2d):
            nn.init.ones_(module.weight)
            if module.bias is not None:
                nn.init.zeros_(module.bias)
    x = torch.ones(1, next(model.parameters()).shape[1], size, size, dtype=torch.double, requires_grad=True)
    store = {}
    handle = dict(model.named_modules())[layer].register_forward_hook(lambda m, i, o: store.setdefault("out", o))
    try:
        model(x)
    finally:
        handle.remove()
    out = store["out"]
    out[0, :, out.shape[2] // 2, out.shape[3] // 2].sum().backward()  # every channel: the widest branch counts
    columns = (x.grad[0].abs().sum((0, 1)) > 0).nonzero()
    return int(columns.max() - columns.min() + 1)


@pytest.mark.parametrize("layer", ["conv1", "pool1", "conv2", "pool2", "conv3"])
def test_small_cnn_receptive_fields_match_gradients(layer):
    model = models.build_model("small", image_size=64)
    table = architecture.summary(model, (1, 64, 64))
    assert table.row(layer).field.size == _gradient_extent(model, layer, 64)


@pytest.mark.parametrize("layer", ["conv1", "maxpool1", "conv3", "maxpool2", "inception3a", "inception3b"])
def test_googlenet_receptive_fields_match_gradients(layer):
    """Parallel branches: the block's field is its widest branch, which the gradient also finds."""
    torch.manual_seed(0)
    model = torchvision.models.googlenet(weights=None, aux_logits=False, init_weights=False)
    table = architecture.summary(model, (3, 160, 160))
    assert table.row(layer).field.size == _gradient_extent(model, layer, 160)


def test_summary_is_robust_and_restores_training_mode():
    model = models.build_model("small").train()
    architecture.summary(model, (1, 28, 28))
    assert model.training
    with pytest.raises(ValueError, match=r"\(C, H, W\)"):
        architecture.summary(model, (28, 28))
    with pytest.raises(KeyError, match="conv1"):
        architecture.summary(model, (1, 28, 28)).row("conv9")
    with pytest.raises(ValueError, match="vgg16"):
        architecture.torchvision_model("resnet50")


def test_table_prints_and_renders_html():
    table = architecture.summary(models.build_model("small"), (1, 28, 28), title="small CNN")
    text, html = str(table), table._repr_html_()
    assert "conv1" in text and "24,202" in text.replace(" ", "") or f"{table.total_parameters:,}" in text
    assert html.startswith("<table>") and "whole input" in html


def test_vgg_diagram_has_one_box_per_stage():
    import matplotlib.pyplot as plt

    table = architecture.summary(architecture.torchvision_model("vgg16"), (3, 224, 224))
    stages = architecture._stages(table)
    # 5 groups of convolutions, 5 pools (the adaptive pool changes nothing and is skipped), 3 linears
    assert [s["kind"] for s in stages].count("conv") == 5 and [s["kind"] for s in stages].count("pool") == 5
    assert [s["count"] for s in stages if s["kind"] == "conv"] == [2, 2, 3, 3, 3]
    assert [s["kind"] for s in stages][-3:] == ["fc"] * 3
    fig = architecture.plot_architecture(table, "VGG-16")
    assert len(fig.axes[0].patches) == 3 * len(stages)  # three faces per box
    plt.close(fig)


# --- pooling ---------------------------------------------------------------------------------

@settings(max_examples=60, deadline=None)
@given(n=st.integers(1, 2), c=st.integers(1, 3), h=st.integers(1, 12), w=st.integers(1, 12),
       k=st.integers(1, 4), stride=st.one_of(st.none(), st.integers(1, 3)), seed=st.integers(0, 1000))
def test_pooling_matches_torch(n, c, h, w, k, stride, seed):
    x = torch.randn(n, c, h, w, generator=torch.Generator().manual_seed(seed))
    if k > min(h, w):
        with pytest.raises(ValueError, match="larger than the padded input"):
            pooling.max_pool2d(x, k, stride)
        return
    torch.testing.assert_close(pooling.max_pool2d(x, k, stride), F.max_pool2d(x, k, stride))
    torch.testing.assert_close(pooling.avg_pool2d(x, k, stride), F.avg_pool2d(x, k, stride))


def test_pooling_bad_input():
    with pytest.raises(ValueError, match=r"4 dimensions.*\(8, 8\)"):
        pooling.max_pool2d(torch.zeros(8, 8))
    with pytest.raises(ValueError, match="stride"):
        pooling.avg_pool2d(torch.zeros(1, 1, 8, 8), 2, 0)
    with pytest.raises(ValueError, match="shift"):
        pooling.shift_change(torch.zeros(1, 1, 4, 4), shift=0)


def edge_maps() -> torch.Tensor:
    """The chapter's feature maps: Sobel edges of the camera photo, after ReLU (1 x 4 x 128 x 128)."""
    image = photos.photo("camera", grayscale=True, size=128)[None]
    sobel = kernel("sobel_x")
    bank = torch.stack([sobel, sobel.T, -sobel, -sobel.T])[:, None]
    return F.relu(conv.conv2d(image, bank, padding=1))


def test_max_pooling_buys_small_shift_invariance_that_subsampling_does_not():
    maps = edge_maps()
    none = pooling.shift_change(maps)
    sub = pooling.shift_change(maps, pooling.subsample)
    max2 = pooling.shift_change(maps, lambda t: pooling.max_pool2d(t, 2))
    max4 = pooling.shift_change(maps, lambda t: pooling.max_pool2d(t, 4))
    avg2 = pooling.shift_change(maps, lambda t: pooling.avg_pool2d(t, 2))
    assert sub > 0.95 * none                        # shrinking alone buys nothing
    assert max2 < 0.9 * none and avg2 < 0.9 * none  # a 2 x 2 pool buys some invariance ...
    assert max4 < 0.9 * max2                        # ... and a larger pool buys more
    assert pooling.shift_change(maps, lambda t: t.amax(dim=(-2, -1))) < 0.2 * none  # a global max hardly moves


def test_pooling_reduces_values_by_k_squared_without_parameters():
    maps = edge_maps()
    assert maps.numel() == 4 * pooling.max_pool2d(maps, 2).numel() == 16 * pooling.max_pool2d(maps, 4).numel()
    assert torch_count(nn.MaxPool2d(2)) == 0


def test_summary_shows_no_field_after_a_layer_without_a_rule():
    """Shapes and parameters still come; the receptive field is '-' from that layer on."""
    net = nn.Sequential(nn.Conv2d(1, 2, 3), nn.Upsample(scale_factor=2), nn.Conv2d(2, 2, 3))
    table = architecture.summary(net, (1, 10, 10))
    assert [r.field.size if r.field else None for r in table] == [3, None, None]
    assert [r.output_shape for r in table] == [(2, 8, 8), (2, 16, 16), (2, 14, 14)]
    assert [line.split()[-1] for line in str(table).splitlines()[2:5]] == ["3x3", "-", "-"]

"""Hooks record exactly what a manual forward pass computes, and fail clearly on misuse."""
import pytest
import torch
from torch import nn

from course_utils.cnn import layers, models
from course_utils.interp import hooks


def _model(seed=0):
    torch.manual_seed(seed)
    return models.build_model("small").eval()


def _manual_forward(model, images):
    """Every named child's output, computed by calling the layers one by one (no hooks)."""
    outputs, x = {}, images
    for name, layer in model.named_children():
        x = layer(x)
        outputs[name] = x
    return outputs


def test_record_equals_manual_forward_pass():
    model = _model()
    images = torch.rand(37, 1, 28, 28, generator=torch.Generator().manual_seed(1))
    names = ["conv1", "relu1", "pool2", "conv3", "gap", "fc"]
    got = hooks.record(model, images, names, batch_size=10)  # batches of 10 and a last one of 7
    with torch.no_grad():
        expected = _manual_forward(model, images)
    for name in names:
        assert torch.allclose(got[name], expected[name], atol=1e-6), name
    # pre-ReLU values go negative; the ReLU output is their positive part
    assert got["conv1"].min() < 0 and torch.equal(got["relu1"], got["conv1"].clamp(min=0))


def test_record_accepts_one_name_and_leaves_no_hooks():
    model = _model()
    out = hooks.record(model, torch.rand(3, 1, 28, 28), "conv2")
    assert list(out) == ["conv2"] and out["conv2"].shape == (3, 32, 14, 14)
    assert all(not m._forward_hooks for m in model.modules())


def test_capture_keeps_the_graph_and_removes_hooks_on_error():
    model = _model()
    image = torch.rand(1, 1, 28, 28, requires_grad=True)
    with hooks.capture(model, ["conv2"]) as acts:
        model(image)
    acts["conv2"][0, 3].mean().backward()
    assert image.grad is not None and image.grad.abs().sum() > 0
    with pytest.raises(RuntimeError, match="boom"):
        with hooks.capture(model, ["conv1"]):
            raise RuntimeError("boom")
    assert all(not m._forward_hooks for m in model.modules())


def test_forward_to_matches_record_and_skips_later_layers():
    model = _model()
    images = torch.rand(4, 1, 28, 28)
    expected = hooks.record(model, images, "conv2")["conv2"]
    calls = []
    handle = model.conv3.register_forward_hook(lambda *a: calls.append(1))
    got = hooks.forward_to(model, images, "conv2")
    handle.remove()
    assert torch.allclose(got, expected, atol=1e-6) and calls == []


def test_unknown_layer_lists_valid_names():
    model = _model()
    for call in (lambda: layers.get_layer(model, "conv9"), lambda: hooks.record(model, torch.rand(1, 1, 28, 28), ["conv9"])):
        with pytest.raises(KeyError) as info:
            call()
        message = str(info.value)
        assert "conv9" in message and "conv1" in message and "relu3" in message and not message.startswith("'")
    with pytest.raises(ValueError, match="valid layer names"):  # also a ValueError
        layers.get_layer(model, "")


def test_training_mode_is_reported_where_it_matters():
    with_dropout = nn.Sequential(nn.Linear(4, 4), nn.Dropout(0.5)).train()
    with pytest.raises(RuntimeError, match="model.eval"):
        hooks.record(with_dropout, torch.rand(2, 4), "0")
    hooks.record(with_dropout.eval(), torch.rand(2, 4), "0")
    # without dropout or batch norm, training mode changes nothing, so it is allowed
    hooks.record(_model().train(), torch.rand(2, 1, 28, 28), "conv1")


def test_conv_layer_names_and_unit_values():
    model = _model()
    assert layers.conv_layer_names(model) == ["conv1", "conv2", "conv3"]
    acts = torch.arange(2 * 3 * 4 * 4, dtype=torch.float32).reshape(2, 3, 4, 4)
    assert torch.equal(hooks.unit_values(acts, 1, at=(2, 3)), acts[:, 1, 2, 3])
    assert torch.allclose(hooks.unit_values(acts, 2), acts[:, 2].mean((1, 2)))
    assert torch.equal(hooks.unit_values(acts, 2, reduce="max"), acts[:, 2].amax((1, 2)))
    assert torch.equal(hooks.unit_values(acts, reduce="max"), acts.amax((2, 3)))  # N x C
    assert torch.equal(hooks.unit_values(acts[:, :, 0, 0], 1), acts[:, 1, 0, 0])
    positions = torch.tensor([[0, 3], [2, 1]])                 # one position per image
    assert torch.equal(hooks.unit_values(acts, 1, at=positions),
                       torch.stack([acts[0, 1, 0, 3], acts[1, 1, 2, 1]]))
    with pytest.raises(ValueError, match="channel"):
        hooks.unit_values(acts, 3)
    with pytest.raises(ValueError, match="N x 2"):
        hooks.unit_values(acts, 0, at=torch.zeros(3, 2, dtype=torch.long))
    with pytest.raises(ValueError, match="reduce"):
        hooks.unit_values(acts, 0, reduce="median")


def test_best_positions_are_where_unit_values_reads_the_extreme():
    acts = torch.randn(5, 3, 6, 6, generator=torch.Generator().manual_seed(0))
    for largest, extreme in ((True, torch.amax), (False, torch.amin)):
        values, positions = hooks.best_positions(acts, 2, largest)
        assert torch.equal(values, extreme(acts[:, 2], (1, 2)))
        assert torch.equal(hooks.unit_values(acts, 2, at=positions), values)

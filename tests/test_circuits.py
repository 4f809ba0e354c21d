"""The circuit toolkit (circuits, interventions, tuning) against torch's own ops and closed forms."""
import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from course_utils.data import synthetic
from course_utils.cnn import layers, linearity
from course_utils.interp import circuits, interventions as iv, tuning
from course_utils.interp.hooks import record
from course_utils.cnn.models import build_model


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return build_model("deep", 1, 2, 32).eval()


@pytest.fixture(scope="module")
def images():
    return torch.rand(12, 1, 32, 32, generator=torch.Generator().manual_seed(1))


def test_input_layer_follows_the_sequence(model):
    assert layers.input_layer(model, "conv3") == "pool2"
    assert layers.input_layer(model, "conv1") is None
    with pytest.raises(KeyError, match="valid layer names"):
        layers.input_layer(model, "conv9")


def test_weight_maps_are_the_raw_kernels_and_errors_name_the_layer(model):
    assert torch.equal(circuits.weight_maps(model, "conv3", 5), model.conv3.weight[5].detach())
    with pytest.raises(ValueError, match="expected a Conv2d"):
        circuits.weight_maps(model, "pool2", 0)
    with pytest.raises(ValueError, match=r"out_channel must be in \[0, 32\)"):
        circuits.weight_maps(model, "conv3", 32)


def test_linearized_swaps_only_nonlinear_layers(model):
    linear = linearity.linearized(model)
    assert isinstance(linear.relu2, nn.Identity) and isinstance(linear.pool2, nn.AvgPool2d)
    assert isinstance(model.relu2, nn.ReLU) and isinstance(model.pool2, nn.MaxPool2d)  # original untouched
    assert torch.equal(linear.conv2.weight, model.conv2.weight)


def test_linearized_is_affine(model, images):
    """f(a x + b y) = a f(x) + b f(y) - (a + b - 1) f(0): what makes expanded weights exact."""
    linear = linearity.linearized(model)
    x, y, zero = images[:1], images[1:2], torch.zeros_like(images[:1])
    with torch.no_grad():
        f = lambda t: layers.run_between(linear, t, None, "conv3")
        lhs = f(2.0 * x - 0.5 * y)
        rhs = 2.0 * f(x) - 0.5 * f(y) - 0.5 * f(zero)
    assert torch.allclose(lhs, rhs, atol=1e-4)


def test_expanded_weights_of_adjacent_layers_equal_raw_weights(model):
    for layer, source in [("conv3", "pool2"), ("conv2", "pool1"), ("conv1", None)]:
        expanded = circuits.expanded_weights(model, source, layer, 7 if layer != "conv1" else 3)
        raw = getattr(model, layer).weight[7 if layer != "conv1" else 3].detach()
        assert torch.allclose(expanded, raw, atol=1e-6), layer


def test_expanded_weights_predict_the_linearized_unit(model, images):
    """Two layers apart: sum(expanded * input) + constant equals the linearized network's unit."""
    linear = linearity.linearized(model)
    full = circuits.expanded_weights(model, "pool1", "conv3", 4, position=(4, 4), crop=False)
    with torch.no_grad():
        inputs = record(model, images, "pool1")["pool1"]
        unit = lambda t: layers.run_between(linear, t, "pool1", "conv3")[:, 4, 4, 4]
        predicted = (inputs * full).sum((1, 2, 3)) + unit(torch.zeros_like(inputs[:1]))
        assert torch.allclose(predicted, unit(inputs), atol=1e-4)
    cropped = circuits.expanded_weights(model, "pool1", "conv3", 4, position=(4, 4))
    assert cropped.shape[-1] < full.shape[-1] and cropped.abs().sum() == pytest.approx(full.abs().sum().item(), rel=1e-6)


def test_contributions_sum_to_the_conv_output(model, images):
    maps = circuits.contributions(model, images, "conv3", 9)
    conv_out = record(model, images, "conv3")["conv3"][:, 9]
    assert maps.shape == (12, 32, 8, 8)
    assert torch.allclose(maps.sum(1) + model.conv3.bias[9], conv_out, atol=1e-5)


def test_attribution_against_the_mean_predicts_mean_ablation_exactly(model, images):
    """One conv layer is linear in its input, so w * (a - mean) is the exact effect of mean-ablation."""
    source = layers.input_layer(model, "conv3")
    means = iv.channel_means(model, images, source)
    positions = circuits.unit_positions(model, images, "conv3", 2)
    attr = circuits.attribution(model, images, "conv3", 2, baseline=means, positions=positions)
    pre = lambda: record(model, images, "conv3")["conv3"][torch.arange(12), 2, positions[:, 0], positions[:, 1]]
    before = pre()
    with iv.mean_ablated(model, source, [3, 11], means):
        after = pre()
    assert torch.allclose(before - after, attr[:, [3, 11]].sum(1), atol=1e-5)
    assert torch.allclose(pre(), before)  # the hook is gone after the block


def test_fraction_removed_matches_a_manual_intervention(model, images):
    source = "pool2"
    channel = int(torch.stack([iv.unit_response(model, images, "conv3", c).sum() for c in range(32)]).argmax())  # one that fires
    means = iv.channel_means(model, images, source)
    positions = circuits.unit_positions(model, images, "conv3", channel)
    acts = record(model, images, source)[source]
    ablated = acts.clone()
    ablated[:, [0, 5]] = means[[0, 5]].view(1, -1, 1, 1)
    with torch.no_grad():
        unit = lambda a: F.relu(layers.run_between(model, a, source, "conv3"))[torch.arange(12), channel, positions[:, 0], positions[:, 1]]
        expected = 1 - unit(ablated).sum() / unit(acts).sum()
    got = iv.fraction_removed(model, images, "conv3", channel, [0, 5], means, positions)
    assert got == pytest.approx(float(expected), abs=1e-5)
    assert iv.fraction_removed(model, images, "conv3", channel, [], means, positions) == pytest.approx(0.0)
    with pytest.raises(ValueError, match="reads the image itself"):
        iv.fraction_removed(model, images, "conv1", 0, [0], means)


def test_edited_copy_scales_only_the_chosen_weights(model):
    edited = iv.edited_copy(model, "conv3", 4, [1, 7], factor=-1.0)
    assert torch.equal(edited.conv3.weight[4, [1, 7]], -model.conv3.weight[4, [1, 7]])
    mask = torch.ones_like(model.conv3.weight, dtype=torch.bool)
    mask[4, [1, 7]] = False
    assert torch.equal(edited.conv3.weight[mask], model.conv3.weight[mask])
    assert edited is not model


def test_ablation_test_reports_targeted_and_random(model, images):
    result = iv.ablation_test(model, images, "conv3", 0, k=2, n_random=5)
    assert len(result.random) == 5 and sorted(result.ranking.tolist()) == list(range(32))
    with pytest.raises(ValueError, match=r"k must be in \[1, 32\)"):
        iv.ablation_test(model, images, "conv3", 0, k=32)


def test_curve_images_lines_are_symmetric_and_arcs_bend_one_way():
    angles = torch.tensor([0.0, math.pi])
    lines = synthetic.curve_images(angles, float("inf"))
    assert lines.shape == (2, 1, 32, 32) and 0 <= lines.min() and lines.max() <= 1
    assert torch.allclose(lines[0], lines[1], atol=1e-5)  # a line turned by 180 degrees is itself
    arcs = synthetic.curve_images(angles, 8.0)
    assert not torch.allclose(arcs[0], arcs[1], atol=1e-2)  # an arc is not
    assert torch.allclose(arcs[0], arcs[1].flip(-1).flip(-2), atol=1e-4)  # but a point reflection of it
    with pytest.raises(ValueError, match="radius must be positive"):
        synthetic.curve_images(angles, 0.0)


def test_stimulus_responses_are_rectified_maxima(model, images):
    responses = tuning.stimulus_responses(model, images, "conv2")
    manual = F.relu(record(model, images, "conv2")["conv2"]).amax((2, 3))
    assert torch.equal(responses, manual)


def test_curve_index_range():
    index = tuning.curve_index(torch.tensor([1.0, 0.0, 1.0, 0.0]), torch.tensor([0.0, 1.0, 1.0, 0.0]))
    assert torch.equal(index, torch.tensor([1.0, -1.0, 0.0, 0.0]))


def _contributions_by_loops(weight, acts, y, x):
    k = weight.shape[-1]
    out = torch.zeros(len(weight))
    for i in range(len(weight)):
        for u in range(k):
            for v in range(k):
                yy, xx = y + u - k // 2, x + v - k // 2
                if 0 <= yy < acts.shape[1] and 0 <= xx < acts.shape[2]:
                    out[i] += weight[i, u, v] * acts[i, yy, xx]
    return out


def _mean_ablate(acts, channels, means):
    index = torch.as_tensor(channels, dtype=torch.long).reshape(-1)  # vectorized, unlike the reference
    out = acts.clone()
    out[:, index] = means[index].view(1, -1, 1, 1)
    return out


@pytest.mark.parametrize("check,right,wrong", [
    ("check_channel_contributions", _contributions_by_loops,
     lambda weight, acts, y, x: (weight * acts[:, y : y + weight.shape[-1], x : x + weight.shape[-1]]).sum((1, 2))),  # forgets the padding
    ("check_mean_ablate", _mean_ablate, lambda acts, channels, means: acts * 0 + means.view(1, -1, 1, 1)),  # ablates everything
    ("check_tuning_width", lambda curve, step_degrees: float(tuning.tuning_width(curve, step_degrees)),
     lambda curve, step_degrees: float((curve > curve.max() / 2).sum()) * step_degrees),  # strict > and no dead-unit case
])
def test_chapter_5b_checks_accept_a_right_answer_and_reject_a_wrong_one(check, right, wrong):
    from course_utils.teaching.checks import CheckFailed, ch05b
    getattr(ch05b, check)(right)
    with pytest.raises(CheckFailed):
        getattr(ch05b, check)(wrong)


def test_expanded_weights_crop_keeps_zero_weights_inside_the_window(model):
    """A weight map with a zero row must not be cropped to the non-zero part."""
    edited = iv.edited_copy(model, "conv3", 6, [], 1.0)
    with torch.no_grad():
        edited.conv3.weight[6, :, 0, :] = 0.0
    expanded = circuits.expanded_weights(edited, "pool2", "conv3", 6)
    assert expanded.shape == (32, 3, 3)
    assert torch.allclose(expanded, edited.conv3.weight[6].detach(), atol=1e-6)
    with pytest.raises(ValueError, match="outside"):
        circuits.expanded_weights(model, "pool2", "conv3", 6, position=(8, 0))


def test_predicted_edit_responses_equal_edited_networks(model, images):
    """The fast path for many cuts: each row equals an edited network and the one-edit prediction."""
    sets = [[0, 5, 9], [], [31], list(range(32))]
    fast = iv.predicted_edit_responses(model, images, "conv3", 4, sets, factor=0.0)
    assert fast.shape == (4, 12)
    for row, chosen in zip(fast, sets):
        edited = iv.edited_copy(model, "conv3", 4, chosen, factor=0.0)
        measured = tuning.stimulus_responses(edited, images, "conv3")[:, 4]
        assert torch.allclose(row, measured, atol=1e-5), chosen
        single = iv.predicted_edit_response(model, images, "conv3", 4, chosen, 0.0)
        assert torch.allclose(row, single, atol=1e-6)
    flipped = iv.predicted_edit_responses(model, images, "conv3", 4, [[2, 3]], factor=-1.0)[0]
    edited = iv.edited_copy(model, "conv3", 4, [2, 3], factor=-1.0)
    assert torch.allclose(flipped, tuning.stimulus_responses(edited, images, "conv3")[:, 4], atol=1e-5)
    assert iv.predicted_edit_responses(model, images, "conv3", 4, []).shape == (0, 12)


def test_net_input_similarity_is_the_cosine_of_summed_maps(model):
    sim = circuits.net_input_similarity(model, "conv3")
    net = model.conv3.weight.detach().sum((2, 3))
    assert sim.shape == (32, 32)
    assert torch.allclose(sim.diagonal(), torch.ones(32), atol=1e-5)
    assert torch.allclose(sim, sim.T, atol=1e-6)
    reference = F.cosine_similarity(net[3], net[17], dim=0)
    assert sim[3, 17] == pytest.approx(float(reference), abs=1e-5)
    edited = iv.edited_copy(model, "conv3", 1, [], 1.0)
    with torch.no_grad():
        edited.conv3.weight[1] = -2.0 * edited.conv3.weight[0]   # same inputs, opposite signs
    assert circuits.net_input_similarity(edited, "conv3")[0, 1] == pytest.approx(-1.0, abs=1e-5)


def test_arc_detector_is_a_bank_of_matched_filters_that_peak_where_built():
    angles = synthetic.angle_grid(8)
    detector = tuning.arc_detector(6.0, angles)
    weight = detector.conv.weight
    assert weight.shape == (8, 1, 15, 15) and not weight.requires_grad
    assert torch.allclose(weight.sum((1, 2, 3)), torch.zeros(8), atol=1e-5)      # zero mean
    assert torch.allclose(weight.flatten(1).norm(dim=1), torch.ones(8), atol=1e-5)
    images = torch.rand(3, 1, 32, 32, generator=torch.Generator().manual_seed(0))
    reference = F.conv2d(images, weight, padding=7)                                 # torch's own op
    assert torch.allclose(record(detector, images, "conv")["conv"], reference, atol=1e-5)
    assert torch.allclose(detector(torch.full((1, 1, 32, 32), 0.7))[..., 7:-7, 7:-7],
                          torch.zeros(1, 8, 18, 18), atol=1e-5)                     # uniform -> 0
    for radius in (6.0, 10.0):           # each filter answers the arc it was built for the most
        arcs = tuning.curve_tuning(tuning.arc_detector(radius, angles), "conv", radius, angles)
        assert torch.equal(arcs.arc.argmax(0), torch.arange(8))
        assert (arcs.index > 0).all()                       # and arcs more than straight lines
    lines = tuning.curve_tuning(tuning.arc_detector(float("inf"), angles), "conv", 6.0, angles)
    assert (lines.index < 0).all()                          # radius inf: a line detector
    before = torch.get_rng_state()
    tuning.arc_detector(6.0, angles)
    assert torch.equal(torch.get_rng_state(), before)       # building one draws no random numbers
    with pytest.raises(ValueError, match="odd and at least 3, got 4"):
        tuning.arc_detector(6.0, angles, kernel_size=4)

"""Chapter 5b (circuits): the package functions its claims rest on, against references.

The chapter's findings (curve detectors, the circuit in the weights, ablations, edits) are
claims in the chapter itself, checked on every build (``course_utils.teaching.claims``); the tests here
do not recompute them. They check the tools the claims are measured with against closed forms
and against the slow, obvious computation: the rule that picks the unit, tuning widths, the
curve index, the shuffled baseline, and the fast path for random cuts.
"""
import math

import pytest
import torch

from course_utils.data import synthetic
from course_utils.cnn import zoo
from course_utils.interp import circuits, interventions, tuning


def _tuning(arc_peaks, line_peaks):
    """A CurveTuning whose units peak at ``arc_peaks`` for arcs and ``line_peaks`` for lines."""
    angles = synthetic.angle_grid(4)
    arc = torch.tensor(arc_peaks).repeat(4, 1) * torch.tensor([1.0, 0.5, 0.2, 0.1])[:, None]
    line = torch.tensor(line_peaks).repeat(4, 1) * torch.tensor([0.1, 1.0, 0.5, 0.2])[:, None]
    return tuning.CurveTuning("conv4", 10.0, angles, arc, line)


def test_curve_units_follow_the_rule_most_selective_first_dead_units_excluded():
    #            index: 0.6   -0.6   0.2   0.9 (but dead)  1/3   0
    ct = _tuning([8.0, 2.0, 6.0, 0.19, 4.0, 0.0], [2.0, 8.0, 4.0, 0.01, 2.0, 0.0])
    assert torch.allclose(ct.index, torch.tensor([0.6, -0.6, 0.2, 0.9, 1 / 3, 0.0]), atol=1e-6)
    assert ct.curve_units().tolist() == [0, 4]          # highest index first; unit 3 is dead
    assert ct.responsive().tolist() == [True, True, True, False, True, False]
    assert ct.curve_units(threshold=0.1).tolist() == [0, 4, 2]


def test_tuning_width_of_a_cosine_tuning_curve_is_half_the_circle():
    angles = synthetic.angle_grid(24)                       # 15-degree steps
    # peak near 2 at 7.5 degrees (between two samples, so no sample sits on the boundary);
    # at or above half of it where the cosine is >= 0: 12 of the 24 samples, 180 degrees
    curve = 1 + torch.cos(angles - math.radians(7.5))
    assert float(tuning.tuning_width(curve, 15.0)) == 180.0
    both = torch.stack([curve, torch.full((24,), 3.0), torch.zeros(24)], 1)
    assert tuning.tuning_width(both, 15.0).tolist() == [180.0, 360.0, 0.0]


def test_curve_index_is_the_normalised_difference():
    a, l = torch.tensor([3.0, 1.0, 2.0]), torch.tensor([1.0, 3.0, 2.0])
    assert torch.allclose(tuning.curve_index(a, l), (a - l) / (a + l))
    assert tuning.curve_index(torch.zeros(1), torch.zeros(1)).item() == 0.0


def test_permutation_correlation_against_torch_corrcoef():
    g = torch.Generator().manual_seed(3)
    x = torch.randn(32, generator=g)
    y = 0.5 * x + torch.randn(32, generator=g)
    r, null = circuits.permutation_correlation(x, y, n_permutations=500, seed=0)
    assert r == pytest.approx(float(torch.corrcoef(torch.stack([x, y]))[0, 1]), abs=1e-6)
    assert null.shape == (500,) and abs(float(null.mean())) < 0.05   # shuffles: no relation
    assert float(null.std()) == pytest.approx(1 / math.sqrt(31), rel=0.2)
    # the same seed gives the same baseline; a different seed a different one
    assert torch.equal(null, circuits.permutation_correlation(x, y, 500, seed=0)[1])
    assert not torch.equal(null, circuits.permutation_correlation(x, y, 500, seed=1)[1])


@pytest.fixture(scope="module")
def net():
    return zoo.untrained("arcs_deep", seed=0)    # the chapter's architecture; no training needed


def test_random_cuts_fast_path_gives_the_curve_index_of_edited_networks(net):
    """What the chapter computes for 200 random cuts equals building each edited network."""
    angles = synthetic.angle_grid(24)
    arcs, lines = synthetic.curve_images(angles, 10.0), synthetic.curve_images(angles, float("inf"))
    unit = 5
    cuts = [[0, 3, 7, 11, 30], [1, 2, 4, 8, 16], []]
    fast_arcs = interventions.predicted_edit_responses(net, arcs, "conv4", unit, cuts)
    fast_lines = interventions.predicted_edit_responses(net, lines, "conv4", unit, cuts)
    fast_index = tuning.curve_index(fast_arcs.amax(1), fast_lines.amax(1))
    for k, chosen in enumerate(cuts):
        edited = interventions.edited_copy(net, "conv4", unit, chosen, 0.0)
        slow = tuning.curve_tuning(edited, "conv4", angles=angles)
        assert torch.allclose(fast_arcs[k], slow.arc[:, unit], atol=1e-5)
        assert torch.allclose(fast_lines[k], slow.line[:, unit], atol=1e-5)
        assert fast_index[k].item() == pytest.approx(slow.index[unit].item(), abs=1e-5)


def test_net_input_similarity_of_identical_and_opposite_units(net):
    edited = interventions.edited_copy(net, "conv4", 0, [], 1.0)
    with torch.no_grad():
        edited.conv4.weight[1] = 3.0 * edited.conv4.weight[0]
        edited.conv4.weight[2] = -edited.conv4.weight[0]
    sim = circuits.net_input_similarity(edited, "conv4")
    assert sim[0, 1].item() == pytest.approx(1.0, abs=1e-5)
    assert sim[0, 2].item() == pytest.approx(-1.0, abs=1e-5)
    # random initial weights: unrelated units, cosines spread around 0
    others = sim[3:, 3:][torch.triu_indices(61, 61, 1).unbind()]
    assert abs(float(others.median())) < 0.1

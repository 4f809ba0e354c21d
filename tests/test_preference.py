"""Family preference (interp.preference) on a hand-made network whose answer is known."""
from collections import OrderedDict

import pytest
import torch
from torch import nn

from course_utils.interp import preference
from course_utils.interp.hooks import record

pytestmark = pytest.mark.usefixtures("one_thread")

LAPLACIAN = [[-1.0, -1.0, -1.0], [-1.0, 8.0, -1.0], [-1.0, -1.0, -1.0]]   # a spot detector
SOBEL = [[-1.0, -2.0, -1.0], [0.0, 0.0, 0.0], [1.0, 2.0, 1.0]]            # a horizontal edge


@pytest.fixture(scope="module")
def model():
    """conv: channel 0 a spot detector, 1 a horizontal-edge detector, 2 silent; channel 3 a
    copy of 0 with a large bias (it answers a blank image too). Circular padding, so that a
    step across the whole image has no corners where it meets the border."""
    conv = nn.Conv2d(1, 4, 3, padding=1, padding_mode="circular")
    with torch.no_grad():
        conv.weight.zero_()
        conv.weight[0, 0] = torch.tensor(LAPLACIAN)
        conv.weight[1, 0] = torch.tensor(SOBEL)
        conv.weight[3, 0] = torch.tensor(LAPLACIAN)
        conv.bias.copy_(torch.tensor([0.0, 0.0, -1.0, 5.0]))
    return nn.Sequential(OrderedDict(conv=conv, relu=nn.ReLU())).eval()


def stimuli(ground=0.5, step=0.25):
    """Single bright or dark pixels, and horizontal steps of height ``step``, on grey."""
    spots = torch.full((4, 1, 12, 12), ground)
    for i, (y, x) in enumerate([(3, 3), (5, 8), (8, 4), (6, 6)]):
        spots[i, 0, y, x] += step if i % 2 == 0 else -step
    edges = torch.full((4, 1, 12, 12), ground)
    for i, row in enumerate([3, 5, 7, 9]):
        edges[i, 0, row:] += step if i % 2 == 0 else -step
    return {"spots": spots, "edges": edges}


def test_driven_responses_subtract_the_blank_and_take_the_best_position(model):
    images = stimuli()["spots"]
    got = preference.driven_responses(model, images, ["conv"])["conv"]
    acts = record(model, torch.cat([images, torch.full((1, 1, 12, 12), 0.5)]), "conv")["conv"]
    expected = (acts[:-1] - acts[-1:]).clamp(min=0).amax((2, 3))
    assert torch.allclose(got, expected)
    # a bright pixel: 8 x 0.25 at its centre; a dark one: 0.25 at each of its neighbours
    assert torch.allclose(got[:, 0], torch.tensor([2.0, 0.25, 2.0, 0.25]))
    assert torch.allclose(got[:, 3], got[:, 0])    # the bias cancels against the blank
    assert torch.equal(got[:, 2], torch.zeros(4))


def test_each_unit_prefers_the_family_it_was_built_for(model):
    prefs = preference.family_preferences(model, stimuli(), ["conv"], top_k=2)["conv"]
    # closed forms: spot -> Laplacian 8 s, Sobel 2 s; step -> Laplacian 3 s, Sobel 4 s (s = 1/4)
    best = torch.tensor([[2.0, 0.5, 0.0, 2.0], [0.75, 1.0, 0.0, 0.75]])
    assert torch.allclose(prefs.best, best)
    assert torch.allclose(prefs.pooled, torch.tensor([2.0, 1.0, 0.0, 2.0]))
    assert torch.allclose(prefs.normalised, best / torch.tensor([2.0, 1.0, 1.0, 2.0]))
    assert prefs.live.tolist() == [True, True, False, True]
    assert prefs.preferred.tolist() == [0, 1, -1, 0]
    assert torch.allclose(prefs.shares, torch.tensor([2 / 3, 1 / 3]))
    assert prefs.share("edges") == pytest.approx(1 / 3)
    assert "3 of 4 units live" in repr(prefs)


def test_a_contest_among_fewer_families_and_the_top_k_mean(model):
    families = {**stimuli(), "blank-ish": torch.full((4, 1, 12, 12), 0.5)}
    prefs = preference.family_preferences(model, families, ["conv"], top_k=2)["conv"]
    assert prefs.families == ["spots", "edges", "blank-ish"]
    assert torch.equal(prefs.best[2], torch.zeros(4))
    pair = prefs.among(["edges", "spots"])
    assert pair.families == ["edges", "spots"] and len(pair.responses) == 8
    assert pair.preferred.tolist() == [1, 0, -1, 1]
    with pytest.raises(ValueError, match="unknown families"):
        prefs.among(["curves"])
    values = torch.tensor([[1.0, 5.0], [3.0, 2.0], [2.0, 0.0]])
    assert torch.equal(preference.top_k_mean(values, 2), torch.tensor([2.5, 3.5]))
    assert torch.equal(preference.top_k_mean(values, 1), values.amax(0))
    with pytest.raises(ValueError, match="k must be in"):
        preference.top_k_mean(values, 4)


def test_units_that_answer_weakly_are_not_live_and_errors_name_the_problem(model):
    families = stimuli()
    families["spots"] = families["spots"] * 0 + 0.5   # no spots at all: only edges remain
    prefs = preference.family_preferences(model, families, ["conv"], top_k=1,
                                          live_fraction=0.9)["conv"]
    # the strongest unit answers 1.0 (Sobel on a step); 0.75 (Laplacian) is below 0.9 of it
    assert prefs.live.tolist() == [False, True, False, False]
    silent = preference.family_preferences(model, {"grey": torch.full((2, 1, 12, 12), 0.5)},
                                           ["conv"], top_k=1)["conv"]
    with pytest.raises(ValueError, match="no unit of conv responds"):
        silent.shares
    with pytest.raises(ValueError, match="at least one family"):
        preference.family_preferences(model, {}, ["conv"])
    with pytest.raises(ValueError, match="N x C x H x W"):
        preference.driven_responses(model, torch.rand(12, 12), ["conv"])

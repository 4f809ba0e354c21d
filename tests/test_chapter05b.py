"""Chapter 5b's claims about the curve circuit of the zoo model `arcs_deep`, each with a baseline.

The same course_utils calls as the chapter; thresholds are set well inside the measured values
(noted next to each) so that the tests fail when a claim breaks, not when a digit moves.
"""
import pytest
import torch

from course_utils import circuits, interventions, synthetic, tuning, zoo
from course_utils.dataset_examples import dataset_examples


@pytest.fixture(scope="module")
def model():
    return zoo.pretrained("arcs_deep", seed=0, progress=False)


@pytest.fixture(scope="module")
def data():
    return synthetic.lines_vs_arcs(n=400, size=32, seed=1)


@pytest.fixture(scope="module")
def curves(model):
    return tuning.curve_tuning(model, "conv4")


@pytest.fixture(scope="module")
def unit(curves):
    return int(curves.curve_units()[0])


@pytest.fixture(scope="module")
def circuit(model, unit):
    total = circuits.weight_maps(model, "conv4", unit).sum((1, 2))
    return {"total": total, "excite": total.argsort(descending=True)[:5].tolist(), "inhibit": total.argsort()[:5].tolist()}


def test_model_solves_the_task(model, data):
    from course_utils import evaluate
    assert evaluate(model, data)["accuracy"] > 0.95  # measured 0.998; chance is 0.5


def test_training_creates_curve_detectors_an_untrained_net_lacks(curves):
    baseline = tuning.curve_tuning(zoo.untrained("arcs_deep", seed=1), "conv4")
    assert len(curves.curve_units()) >= 8            # measured 28 of 64
    assert len(baseline.curve_units()) <= 2          # measured 0
    # Training splits conv4 into the task's two answers: curve detectors and line detectors.
    line_units = (curves.responsive() & (curves.index < -0.3)).sum()
    assert line_units >= 8 and (baseline.responsive() & (baseline.index < -0.3)).sum() <= 2   # measured 21 vs 0
    # Either way, trained units care about curvature far more than random ones.
    selectivity = lambda ct: float(ct.index[ct.responsive()].abs().mean())
    assert selectivity(curves) > selectivity(baseline) + 0.2                                    # measured 0.48 vs 0.03


def test_curve_unit_response_rises_with_curvature(model, unit):
    by_radius = tuning.curvature_tuning(model, "conv4", [6, 10, 18, float("inf")])[..., unit].mean(1)
    assert by_radius[0] > by_radius[1] > by_radius[2] > by_radius[3]
    assert by_radius[1] > 2 * by_radius[3]           # radius 10 vs straight: measured about 4x


def test_weights_line_up_with_the_inputs_tuning_beyond_shuffling(model, circuit):
    inputs = tuning.curve_tuning(model, "conv3")
    r, null = circuits.permutation_correlation(circuit["total"], inputs.index, n_permutations=2000, seed=0)
    assert r > 0.4                                   # measured 0.6
    assert (null >= r).float().mean() < 0.01
    # Inhibitory inputs are line detectors, excitatory ones prefer arcs.
    assert (inputs.index[circuit["inhibit"]] < 0).sum() >= 4
    assert (inputs.index[circuit["excite"]] > 0).sum() >= 4


def test_inhibitory_inputs_are_sharper_than_the_curve_unit(model, curves, unit, circuit):
    inputs = tuning.curve_tuning(model, "conv3")
    widths = tuning.tuning_width(inputs.line[:, circuit["inhibit"]], 15.0)
    assert widths.median() < tuning.tuning_width(curves.arc[:, unit], 15.0)   # measured 120 vs 225 degrees


def test_linear_reading_is_exact_for_one_layer_and_decays_with_depth(model, data):
    agreement = circuits.linear_agreement(model, data.images, ["conv1", "conv2", "conv3", "conv4"])
    assert agreement["conv1"] == pytest.approx(1.0, abs=1e-5)
    assert agreement["conv2"] > agreement["conv4"] + 0.2    # measured 0.51 vs 0.05


def test_targeted_ablation_beats_random_ablation(model, data, curves):
    for unit in curves.curve_units()[:3].tolist():
        strongest = dataset_examples(model, data.images, "conv4", unit, k=50, crop=False).indices
        result = interventions.ablation_test(model, data.images[strongest], "conv4", unit, k=3,
                                             reference=data.images, n_random=20, seed=0)
        random_mean = float(result.random.mean())
        assert result.targeted > 0.35, result                      # measured about 0.55
        assert result.targeted > 3 * max(random_mean, 0.02), result  # random: about 0.1
        assert result.targeted > float(result.random.max()), result


def test_cutting_line_detector_inhibition_lets_lines_through(model, curves, unit, circuit):
    edited = interventions.edited_copy(model, "conv4", unit, circuit["inhibit"], factor=0.0)
    after = tuning.curve_tuning(edited, "conv4")
    assert after.line[:, unit].max() > 1.5 * curves.line[:, unit].max()     # measured about 2x
    drop = float(curves.index[unit] - after.index[unit])
    assert drop > 0.1    # measured 0.26 (0.13 for a model once trained on two threads, zoo trains on one thread now)
    g = torch.Generator().manual_seed(0)
    random_drops = []
    for _ in range(20):
        chosen = torch.randperm(32, generator=g)[:5].tolist()
        random_after = tuning.curve_tuning(interventions.edited_copy(model, "conv4", unit, chosen, 0.0), "conv4")
        random_drops.append(float(curves.index[unit] - random_after.index[unit]))
    assert drop > max(random_drops), (drop, random_drops)


def test_weights_predict_the_edited_tuning(model, curves, unit, circuit):
    lines = tuning.curve_images(curves.angles, float("inf"))
    for factor in (0.0, -1.0, 2.0):
        edited = interventions.edited_copy(model, "conv4", unit, circuit["inhibit"], factor=factor)
        predicted = interventions.predicted_edit_response(model, lines, "conv4", unit, circuit["inhibit"], factor)
        measured = tuning.stimulus_responses(edited, lines, "conv4")[:, unit]
        assert torch.allclose(predicted, measured, atol=1e-4)

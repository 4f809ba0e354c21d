"""Chapter 5c's claims about universality across seeds, architectures and data, each with a baseline.

The same course_utils calls as the chapter (zoo models, hooks.record, similarity, filters);
thresholds sit well inside the measured values noted next to them.
"""
import pytest
import torch

from course_utils import filters, hooks, similarity, zoo

SEEDS, BASELINE_SEEDS = [0, 1, 2], [10, 11]
LAYERS = ["relu1", "relu2", "relu3", "gap", "fc"]
SEED_PAIRS = [(0, 1), (0, 2), (1, 2)]


@pytest.fixture(scope="module")
def images():
    _, test = zoo.zoo_data("mnist_small")
    return test.images[:500]


@pytest.fixture(scope="module")
def grams(images):
    nets = {f"seed {s}": zoo.pretrained("mnist_small", seed=s, progress=False) for s in SEEDS}
    nets.update({f"untrained {s}": zoo.untrained("mnist_small", seed=s) for s in BASELINE_SEEDS})
    return {name: similarity.normalized_grams(hooks.record(m, images, LAYERS)) for name, m in nets.items()}


def _per_layer(grams, pairs):
    return torch.stack([torch.diagonal(similarity.cka_from_grams(grams[a], grams[b])) for a, b in pairs]).mean(0)


def test_first_layer_cka_is_high_even_against_an_untrained_net(grams, images):
    """Why baselines are needed: relu1 of a trained net is nearly as similar to an untrained net
    (and to the pixels) as to another trained seed."""
    seeds = _per_layer(grams, [(f"seed {a}", f"seed {b}") for a, b in SEED_PAIRS])
    untrained = _per_layer(grams, [(f"seed {s}", f"untrained {u}") for s in SEEDS for u in BASELINE_SEEDS])
    pixels = similarity.cka_from_grams(grams["seed 0"], similarity.normalized_grams({"pixels": images}))[0, 0]
    assert untrained[0] > 0.9 and pixels > 0.9        # measured 0.96 and 0.97
    assert seeds[0] - untrained[0] < 0.1              # measured 0.03


def test_trained_seeds_are_more_similar_than_trained_vs_untrained_in_deeper_layers(grams):
    seeds = _per_layer(grams, [(f"seed {a}", f"seed {b}") for a, b in SEED_PAIRS])
    untrained = _per_layer(grams, [(f"seed {s}", f"untrained {u}") for s in SEEDS for u in BASELINE_SEEDS])
    for layer in ("relu3", "gap", "fc"):
        i = LAYERS.index(layer)
        assert seeds[i] > untrained[i] + 0.2, (layer, seeds[i], untrained[i])  # gap: 0.90 vs 0.38
    # The gap between the two opens with depth.
    assert (seeds - untrained)[LAYERS.index("gap")] > (seeds - untrained)[0] + 0.3


def test_layer_by_layer_cka_between_seeds_is_diagonal_dominant(grams):
    for a, b in SEED_PAIRS:
        M = similarity.cka_from_grams(grams[f"seed {a}"], grams[f"seed {b}"])
        assert similarity.diagonal_dominance(M) == 1.0, M
        off = M[~torch.eye(len(M), dtype=torch.bool)]
        assert torch.diagonal(M).mean() > off.mean() + 0.2
    # Baseline: against an untrained net the diagonal does not dominate.
    baseline = similarity.cka_from_grams(grams["seed 0"], grams["untrained 10"])
    assert similarity.diagonal_dominance(baseline) < 0.8                  # measured 0.3


def test_cka_matrix_from_activations_equals_pairwise_linear_cka(images):
    a = hooks.record(zoo.pretrained("mnist_small", seed=0, progress=False), images[:100], ["relu3", "fc"])
    b = hooks.record(zoo.pretrained("mnist_small", seed=1, progress=False), images[:100], ["relu3", "fc"])
    M = similarity.cka_matrix(a, b)
    for i, x in enumerate(a.values()):
        for j, y in enumerate(b.values()):
            assert M[i, j] == pytest.approx(similarity.linear_cka(x.flatten(1), y.flatten(1)), abs=1e-9)


def test_units_and_filters_match_across_seeds_better_than_untrained(images):
    acts = {s: hooks.record(zoo.pretrained("mnist_small", seed=s, progress=False), images, ["relu3", "gap"]) for s in (0, 1)}
    baseline = hooks.record(zoo.untrained("mnist_small", seed=10), images, ["relu3", "gap"])
    seeds = similarity.match_layers(acts[0], acts[1])
    random = similarity.match_layers(acts[0], baseline)
    for layer in ("relu3", "gap"):
        assert seeds[layer].mean_best > random[layer].mean_best + 0.1      # measured +0.2
        assert seeds[layer].mean_assigned > random[layer].mean_assigned + 0.1
    w = {s: zoo.pretrained("mnist_small", seed=s, progress=False).conv1.weight.detach() for s in (0, 1)}
    untrained = zoo.untrained("mnist_small", seed=10).conv1.weight.detach()
    assert similarity.match_filters(w[0], w[1]).mean_assigned > similarity.match_filters(w[0], untrained).mean_assigned + 0.1


def test_filters_stay_close_to_their_own_initialization():
    """The chapter's caveat: each trained net's conv1 is closer to its own starting point than to another seed."""
    w0 = zoo.pretrained("mnist_small", seed=0, progress=False).conv1.weight.detach()
    w1 = zoo.pretrained("mnist_small", seed=1, progress=False).conv1.weight.detach()
    own = similarity.match_filters(w0, zoo.untrained("mnist_small", seed=0).conv1.weight.detach()).mean_assigned
    assert own > similarity.match_filters(w0, w1).mean_assigned                       # measured 0.69 vs 0.54


def test_architectures_agree_at_the_output():
    _, test = zoo.zoo_data("mnist_small")
    x = test.images[:500]
    small = hooks.record(zoo.pretrained("mnist_small", seed=0, progress=False), x, ["fc"])["fc"]
    lenet = hooks.record(zoo.pretrained("mnist_lenet", seed=0, progress=False), x, ["fc"])["fc"]
    lenet_untrained = hooks.record(zoo.untrained("mnist_lenet", seed=10), x, ["fc"])["fc"]
    assert similarity.linear_cka(small, lenet) > similarity.linear_cka(small, lenet_untrained) + 0.3   # 0.83 vs 0.22


def test_first_layers_across_data_share_smooth_oriented_filters():
    digits = [zoo.pretrained("mnist_small", seed=s, progress=False).conv1.weight.detach() for s in SEEDS]
    photos = [zoo.pretrained("photo_deep", seed=s, progress=False).conv1.weight.detach() for s in (0, 1)]
    random = [zoo.untrained("mnist_small", seed=s).conv1.weight.detach() for s in range(10, 15)]
    mean = lambda values: sum(values) / len(values)
    oriented = {name: mean([filters.fraction_oriented(w) for w in ws]) for name, ws in [("digits", digits), ("photos", photos), ("random", random)]}
    smooth = {name: mean([float(filters.low_frequency_energy(w).mean()) for w in ws]) for name, ws in [("digits", digits), ("photos", photos), ("random", random)]}
    assert oriented["photos"] > oriented["random"] + 0.15 and oriented["digits"] > oriented["random"] + 0.15   # 0.59, 0.79 vs 0.19
    assert smooth["photos"] > smooth["random"] + 0.1 and smooth["digits"] > smooth["random"] + 0.1          # 0.50, 0.48 vs 0.16
    across = mean([similarity.match_filters(p, d).mean_best for p in photos for d in digits])
    to_random = mean([similarity.match_filters(p, r).mean_best for p in photos for r in random])
    assert across > to_random + 0.1                                                                         # 0.58 vs 0.36

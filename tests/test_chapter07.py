"""Chapter 7 (attribution): its exercise checks against typical mistakes and its zoo model trained
on shuffled labels.

The chapter's measured claims (completeness, the two randomization tests) are
`claims.claim(...)` lines in the notebook, checked by every book build; they are not recomputed
here. The attribution functions themselves are tested against captum in test_attribution.py.
"""

import pytest
import torch

from course_utils.cnn import zoo
from course_utils.teaching.checks import CheckFailed, ch07

pytestmark = pytest.mark.usefixtures("one_thread")


# ----------------------------------------------------------------------------- typical mistakes
def _gradient_of_every_logit(model, images, target):
    x = images.clone().requires_grad_(True)
    return torch.autograd.grad(model(x).sum(), x)[0]          # not just the target's logit


def _absolute_gradient(model, images, target):
    x = images.clone().requires_grad_(True)
    picked = model(x)[torch.arange(len(x)), target]
    return torch.autograd.grad(picked.sum(), x)[0].abs()       # the sign is part of the answer


def _ig(model, images, target, baseline, steps, ks, times):
    total = torch.zeros_like(images)
    for k in ks(steps):
        point = (baseline + k / steps * (images - baseline)).requires_grad_(True)
        picked = model(point)[torch.arange(len(images)), target]
        total += torch.autograd.grad(picked.sum(), point)[0]
    return total / steps * times(images, baseline)


def _ig_left_sum(model, images, target, baseline, steps):            # k = 0 .. steps - 1
    return _ig(model, images, target, baseline, steps, range, lambda x, b: x - b)


def _ig_times_input(model, images, target, baseline, steps):         # x, not x - baseline
    return _ig(model, images, target, baseline, steps, lambda s: range(1, s + 1),
               lambda x, b: x)


def _ranks_breaking_ties(a, b):
    ra = a.abs().argsort().argsort().double()
    rb = b.abs().argsort().argsort().double()
    return float(torch.corrcoef(torch.stack([ra, rb]))[0, 1])


def _pearson_of_magnitudes(a, b):
    return float(torch.corrcoef(torch.stack([a.abs(), b.abs()]).double())[0, 1])


def _signed_spearman(a, b):
    def ranks(x):
        _, inverse, counts = torch.unique(x, return_inverse=True, return_counts=True)
        return (counts.cumsum(0) - (counts - 1) / 2).double()[inverse]
    return float(torch.corrcoef(torch.stack([ranks(a), ranks(b)]))[0, 1])


@pytest.mark.parametrize("check,mistake", [
    (ch07.check_saliency, _gradient_of_every_logit),
    (ch07.check_saliency, _absolute_gradient),
    (ch07.check_integrated_gradients, _ig_left_sum),
    (ch07.check_integrated_gradients, _ig_times_input),
    (ch07.check_rank_correlation, _ranks_breaking_ties),
    (ch07.check_rank_correlation, _pearson_of_magnitudes),
    (ch07.check_rank_correlation, _signed_spearman),
])
def test_exercise_checks_reject_the_typical_mistake(check, mistake):
    with pytest.raises(CheckFailed):
        check(mistake)


def test_the_checks_leave_the_global_generator_alone():
    from course_utils.interp import attribution

    def saliency(model, images, target):
        return attribution.saliency(model, images, target)

    state = torch.random.get_rng_state()
    ch07.check_saliency(saliency)
    assert torch.equal(torch.random.get_rng_state(), state)


# ----------------------------------------------------------------------------- shuffled labels
def test_the_shuffled_recipe_keeps_the_images_and_split_and_permutes_the_labels():
    train, test = zoo.zoo_data("mnist_small")
    shuffled_train, shuffled_test = zoo.zoo_data("mnist_small_shuffled")
    assert torch.equal(shuffled_train.images, train.images)
    assert torch.equal(shuffled_test.images, test.images)
    assert (shuffled_train.labels == train.labels).float().mean() < 0.15    # chance: 0.1
    recipe, plain = zoo.RECIPES["mnist_small_shuffled"], zoo.RECIPES["mnist_small"]
    assert recipe.model == plain.model and recipe.dataset == plain.dataset

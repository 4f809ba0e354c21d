"""Chapter 6 (superposition and polysemanticity): its exercise checks.

The chapter's measured claims (the phase change of the toy model, polysemantic neurons, the
sparse autoencoder against neurons and NMF) are `claims.claim(...)` lines in the notebook,
checked by every book build; they are not recomputed here. The package functions are tested
against closed forms in tests/test_superposition.py and tests/test_dictionary.py. What stays:
each exercise check accepts the right answer and rejects typical mistakes.
"""

import pytest
import torch
import torch.nn.functional as F

from course_utils.interp import dictionary, superposition
from course_utils.teaching.checks import CheckFailed, ch06

pytestmark = pytest.mark.usefixtures("one_thread")


# ----------------------------------------------------------------------------- right answers
def _forward_loop(W, b, x):
    return torch.stack([torch.relu(W.T @ (W @ row) + b) for row in x])


def _effective_classes_counting(acts, labels, k):
    scores = []
    for unit in acts.T:
        values, top = unit.topk(k)
        if values[-1] <= 0:
            scores.append(float("nan"))
            continue
        shares = torch.bincount(labels[top]).float() / k
        shares = shares[shares > 0]
        scores.append(float(torch.exp(-(shares * shares.log()).sum())))
    return torch.tensor(scores)


@pytest.mark.parametrize("check,answer", [
    (ch06.check_toy_forward, superposition.toy_forward),
    (ch06.check_toy_forward, _forward_loop),
    (ch06.check_interference, superposition.interference),
    (ch06.check_sae_loss, dictionary.sae_loss),
    (ch06.check_effective_classes, dictionary.effective_classes),
    (ch06.check_effective_classes, _effective_classes_counting),
])
def test_exercise_checks_accept_right_answers(check, answer, capsys):
    check(answer)
    assert "Check passed" in capsys.readouterr().out


# ----------------------------------------------------------------------------- typical mistakes
def _forward_without_relu(W, b, x):
    return x @ W.T @ W + b


def _forward_without_bias(W, b, x):
    return torch.relu(x @ W.T @ W)


def _interference_with_self(W):
    unit = F.normalize(W, dim=0)
    return ((unit.T @ W) ** 2).sum(1)                      # j = i included


def _interference_unnormalised(W):
    overlaps = W.T @ W                                     # W_i not divided by its norm
    return (overlaps**2).sum(1) - torch.diagonal(overlaps) ** 2


def _interference_nan_for_zero_columns(W):
    unit = W / W.norm(dim=0)                               # 0 / 0 for a zero column
    overlaps = unit.T @ W
    return (overlaps**2).sum(1) - torch.diagonal(overlaps) ** 2


def _loss_all_means(x, x_hat, f, l1):
    return ((x - x_hat) ** 2).mean() + l1 * f.abs().mean()   # means over inputs and features too


def _loss_squared_penalty(x, x_hat, f, l1):
    return ((x - x_hat) ** 2).sum(1).mean() + l1 * (f**2).sum(1).mean()


def _classes_distinct(acts, labels, k):
    return torch.tensor([float(len(labels[unit.topk(k).indices].unique())) for unit in acts.T])


def _classes_base_two(acts, labels, k):
    return 2 ** (dictionary.effective_classes(acts, labels, k).log())


def _classes_no_nan(acts, labels, k):
    return dictionary.effective_classes(acts, labels, k).nan_to_num(1.0)


@pytest.mark.parametrize("check,mistake", [
    (ch06.check_toy_forward, _forward_without_relu),
    (ch06.check_toy_forward, _forward_without_bias),
    (ch06.check_interference, _interference_with_self),
    (ch06.check_interference, _interference_unnormalised),
    (ch06.check_interference, _interference_nan_for_zero_columns),
    (ch06.check_sae_loss, _loss_all_means),
    (ch06.check_sae_loss, _loss_squared_penalty),
    (ch06.check_effective_classes, _classes_distinct),
    (ch06.check_effective_classes, _classes_base_two),
    (ch06.check_effective_classes, _classes_no_nan),
])
def test_exercise_checks_reject_the_typical_mistake(check, mistake):
    with pytest.raises(CheckFailed):
        check(mistake)

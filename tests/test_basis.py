"""course_utils.interp.basis against references: closed forms, scipy and scikit-learn."""
import pytest
import torch
from scipy.stats import kurtosis
from sklearn.metrics import roc_auc_score

from course_utils.interp import basis

pytestmark = pytest.mark.usefixtures("one_thread")


def test_excess_kurtosis_matches_scipy_and_closed_forms():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(500, 3, generator=g) ** 3
    expected = torch.tensor(kurtosis(x.double().numpy(), axis=0, fisher=True, bias=True)).float()
    assert torch.allclose(basis.excess_kurtosis(x), expected, atol=1e-4)
    # +-1 with equal probability: kurtosis 1, excess -2; a constant column: NaN
    signs = torch.tensor([[1.0, 5.0], [-1.0, 5.0]] * 10)
    result = basis.excess_kurtosis(signs)
    assert result[0].item() == pytest.approx(-2.0) and torch.isnan(result[1])


def test_excess_kurtosis_is_high_for_sparse_axes_and_falls_under_rotation():
    from course_utils.interp.probes import random_rotation
    g = torch.Generator().manual_seed(1)
    sparse = torch.relu(torch.randn(4000, 16, generator=g) - 1.5)   # mostly 0: heavy-tailed
    rotated = sparse @ random_rotation(16, seed=0)
    assert basis.excess_kurtosis(sparse).median() > 3 * basis.excess_kurtosis(rotated).median().clamp(min=0.1)


def test_one_vs_rest_auc_matches_sklearn_with_ties():
    g = torch.Generator().manual_seed(2)
    labels = torch.arange(60) % 3
    features = torch.randint(0, 4, (60, 2), generator=g).float() + labels.view(-1, 1) * torch.tensor([1.0, 0.0])
    result = basis.one_vs_rest_auc(features, labels)
    for c in range(3):
        for d in range(2):
            expected = roc_auc_score((labels == c).numpy(), features[:, d].numpy())
            assert result[c, d].item() == pytest.approx(expected, abs=1e-6)


def test_best_class_auc_ignores_offset_scale_and_sign():
    labels = torch.arange(40) % 4
    perfect = (labels == 2).float().view(-1, 1)                       # one class separated
    noise = torch.randn(40, 1, generator=torch.Generator().manual_seed(3))
    features = torch.cat([perfect, -perfect, noise], 1)
    best = basis.best_class_auc(features, labels)
    assert best[0].item() == pytest.approx(1.0) and best[1].item() == pytest.approx(1.0)
    assert 0.5 <= best[2].item() < 1.0
    shifted = basis.best_class_auc(3.0 * features + 100.0, labels)
    assert torch.allclose(shifted, best)


def test_bad_inputs_fail_clearly():
    with pytest.raises(ValueError, match="N x D"):
        basis.excess_kurtosis(torch.ones(5))
    with pytest.raises(ValueError, match="rows"):
        basis.one_vs_rest_auc(torch.ones(5, 2), torch.zeros(4, dtype=torch.long))
    with pytest.raises(ValueError, match="class 0"):
        basis.one_vs_rest_auc(torch.randn(4, 2), torch.zeros(4, dtype=torch.long), num_classes=2)

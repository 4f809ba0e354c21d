"""linear_cka and unit matching, against independent formulas and their defining invariances."""
import pytest
import torch
from hypothesis import given, settings, strategies as st
from scipy.optimize import linear_sum_assignment

from course_utils.interp import similarity
from course_utils.interp import similarity as sim


def _data(n=60, p=12, seed=0, dtype=torch.float64):
    return torch.randn(n, p, generator=torch.Generator().manual_seed(seed), dtype=dtype)


def _hsic_cka(X, Y):
    """Independent reference: biased HSIC with the centring matrix H (Gretton et al. 2005),
    CKA = HSIC(K, L) / sqrt(HSIC(K, K) HSIC(L, L)) with linear kernels K = X X^T, L = Y Y^T."""
    X, Y = X.double(), Y.double()
    n = len(X)
    H = torch.eye(n, dtype=torch.float64) - torch.ones(n, n, dtype=torch.float64) / n
    hsic = lambda K, L: torch.trace(K @ H @ L @ H) / (n - 1) ** 2
    K, L = X @ X.T, Y @ Y.T
    return float(hsic(K, L) / torch.sqrt(hsic(K, K) * hsic(L, L)))


def _orthogonal(p, seed):
    q, _ = torch.linalg.qr(torch.randn(p, p, generator=torch.Generator().manual_seed(seed), dtype=torch.float64))
    return q


def test_exported_at_top_level():
    assert similarity.linear_cka is sim.linear_cka


@pytest.mark.parametrize("p1,p2", [(5, 7), (12, 12), (80, 3), (200, 150)])  # both code paths: p <= n and p > n
def test_linear_cka_matches_hsic_formula(p1, p2):
    X = _data(60, p1, seed=1)
    Y = X[:, :1].repeat(1, p2) * 0.5 + _data(60, p2, seed=2)  # partly related, so CKA is not ~0
    assert sim.linear_cka(X, Y) == pytest.approx(_hsic_cka(X, Y), rel=1e-9, abs=1e-12)


def test_feature_and_gram_formulas_agree():
    X, Y = _data(30, 20, seed=3), _data(30, 25, seed=4)
    wide_x = torch.cat([X, torch.zeros(30, 40, dtype=torch.float64)], 1)  # constant columns change nothing
    assert sim.linear_cka(wide_x, Y) == pytest.approx(sim.linear_cka(X, Y), rel=1e-10)


@settings(max_examples=25, deadline=None)
@given(n=st.integers(4, 40), p=st.integers(1, 30), seed=st.integers(0, 10_000), scale=st.floats(1e-3, 1e3))
def test_identity_orthogonal_and_scale_invariance(n, p, seed, scale):
    X = _data(n, p, seed)
    assert sim.linear_cka(X, X) == pytest.approx(1.0, abs=1e-9)
    Y = _data(n, 7, seed + 1)
    reference = sim.linear_cka(X, Y)
    Q = _orthogonal(p, seed + 2)
    assert sim.linear_cka(X @ Q, Y) == pytest.approx(reference, abs=1e-9)
    assert sim.linear_cka(scale * X, Y) == pytest.approx(reference, abs=1e-9)
    assert sim.linear_cka(X + 3.0, Y) == pytest.approx(reference, abs=1e-9)  # centring removes offsets


def test_not_invariant_to_arbitrary_linear_maps():
    """The invariances above are specific: a non-orthogonal (stretching) map does change CKA."""
    X, Y = _data(50, 6, seed=5), _data(50, 6, seed=6)
    stretch = torch.diag(torch.tensor([100.0, 1, 1, 1, 1, 1], dtype=torch.float64))
    assert abs(sim.linear_cka(X @ stretch, Y) - sim.linear_cka(X, Y)) > 1e-3


def test_float32_input_is_computed_in_float64():
    X, Y = _data(50, 10, seed=7), _data(50, 9, seed=8)
    assert sim.linear_cka(X.float(), Y.float()) == pytest.approx(sim.linear_cka(X, Y), abs=1e-6)
    assert isinstance(sim.linear_cka(X.float(), Y.float()), float)


def test_unrelated_data_scores_low_and_bounded():
    X, Y = _data(2000, 5, seed=9), _data(2000, 5, seed=10)
    value = sim.linear_cka(X, Y)
    assert 0.0 <= value < 0.05


@pytest.mark.parametrize("bad,msg", [
    (lambda: sim.linear_cka(torch.zeros(5, 2, 3), torch.zeros(5, 2)), "2-D"),
    (lambda: sim.linear_cka(torch.randn(5, 2), torch.randn(6, 2)), "same examples"),
    (lambda: sim.linear_cka(torch.ones(5, 2), torch.randn(5, 2)), "variance 0"),
])
def test_clear_errors(bad, msg):
    with pytest.raises(ValueError, match=msg):
        bad()


def test_cka_matrix_equals_pairwise_linear_cka():
    base = _data(40, 8, seed=11)
    acts_a = {"a1": base.reshape(40, 2, 2, 2), "a2": _data(40, 5, seed=12)}
    acts_b = {"b1": base @ _orthogonal(8, 13), "b2": _data(40, 30, seed=14), "b3": base[:, :3]}
    M = sim.cka_matrix(acts_a, acts_b)
    assert M.shape == (2, 3)
    for i, A in enumerate(acts_a.values()):
        for j, B in enumerate(acts_b.values()):
            assert M[i, j] == pytest.approx(sim.linear_cka(A.flatten(1), B.flatten(1)), abs=1e-10)
    assert M[0, 0] == pytest.approx(1.0)


def test_unit_samples_puts_positions_in_rows():
    acts = torch.arange(2 * 3 * 2 * 2, dtype=torch.float32).reshape(2, 3, 2, 2)
    samples = sim.unit_samples(acts)
    assert samples.shape == (8, 3)
    assert torch.equal(samples[:, 1], acts[:, 1].flatten())


def test_unit_correlations_match_numpy_corrcoef_and_dead_units_are_zero():
    A, B = _data(100, 4, seed=15), _data(100, 3, seed=16)
    B[:, 2] = 1.0  # a dead unit
    corr = sim.unit_correlations(A, B)
    full = torch.corrcoef(torch.cat([A, B[:, :2]], 1).T)
    assert torch.allclose(corr[:, :2], full[:4, 4:], atol=1e-10)
    assert torch.all(corr[:, 2] == 0)


def test_match_units_recovers_a_permutation_and_agrees_with_brute_force():
    A = _data(300, 6, seed=17)
    perm = torch.tensor([3, 0, 5, 1, 4, 2])
    B = A[:, perm] * 2.0 + 0.1 * _data(300, 6, seed=18)  # B's unit j is A's unit perm[j]
    match = sim.match_units(A, B)
    assert torch.equal(perm[match.partner], torch.arange(6))
    assert match.mean_assigned > 0.99 and match.mean_best > 0.99
    rows, cols = linear_sum_assignment(-match.correlations.numpy())
    assert match.mean_assigned == pytest.approx(float(match.correlations[rows, cols].mean()))


def test_one_to_one_is_never_above_best_match():
    A, B = _data(200, 8, seed=19), _data(200, 5, seed=20)
    B[:, 0] = A[:, 0] + A[:, 1]  # two A-units share one partner
    match = sim.match_units(A, B)
    matched = match.partner >= 0
    assert matched.sum() == 5  # 8 A-units, 5 partners
    assert torch.all(match.assigned[matched] <= match.best[matched] + 1e-12)
    assert match.mean_assigned == pytest.approx(float(match.assigned[matched].mean()))
    assert match.mean_assigned < match.mean_best  # A's units 0 and 1 cannot both have B's unit 0


def test_match_filters_finds_copied_filters():
    g = torch.Generator().manual_seed(21)
    W = torch.randn(6, 1, 5, 5, generator=g)
    match = sim.match_filters(W, W[[2, 0, 1, 5, 4, 3]])
    assert match.mean_assigned == pytest.approx(1.0)
    with pytest.raises(ValueError, match="C_out x C_in x k x k"):
        sim.match_filters(W, torch.randn(6, 1, 3, 3))


def test_diagonal_dominance():
    assert sim.diagonal_dominance(torch.eye(4) + 0.1) == 1.0
    shuffled = torch.eye(4)[[1, 0, 2, 3]]  # layers 0 and 1 swapped: 2 of 4 rows, 2 of 4 columns
    assert sim.diagonal_dominance(shuffled) == 0.5
    with pytest.raises(ValueError, match="square"):
        sim.diagonal_dominance(torch.zeros(2, 3))


def _one_to_one(corr):
    rows, cols = linear_sum_assignment(corr.numpy(), maximize=True)
    return float(corr[rows, cols].mean())


@pytest.mark.parametrize("check,right,wrong", [
    ("check_linear_cka", lambda X, Y: sim.linear_cka(X, Y), lambda X, Y: sim.linear_cka(X, Y) ** 0.5),
    ("check_unit_correlations", lambda A, B: sim.unit_correlations(A, B), lambda A, B: (A.T @ B) / len(A)),
    ("check_one_to_one", _one_to_one, lambda corr: float(corr.max(1).values.mean())),  # best match is not one-to-one
])
def test_chapter_5c_checks_accept_the_package_and_reject_a_wrong_answer(check, right, wrong):
    from course_utils.teaching.checks import CheckFailed, ch05c
    getattr(ch05c, check)(right)
    with pytest.raises(CheckFailed):
        getattr(ch05c, check)(wrong)


# --- the unbiased HSIC and debiased CKA ------------------------------------------------------

def test_unbiased_hsic_is_the_u_statistic_over_distinct_quadruples():
    """The closed form equals its definition: the mean over ordered distinct (i, j, q, r) of
    k_ij l_ij + k_ij l_qr - 2 k_ij l_iq (Song et al., 2012), computed by brute force."""
    import itertools

    g = torch.Generator().manual_seed(3)
    X, Y = torch.randn(7, 3, generator=g, dtype=torch.float64), torch.randn(7, 2, generator=g, dtype=torch.float64)
    K, L = X @ X.T, Y @ Y.T
    terms = [K[i, j] * L[i, j] + K[i, j] * L[q, r] - 2 * K[i, j] * L[i, q]
             for i, j, q, r in itertools.permutations(range(7), 4)]
    assert float(similarity.unbiased_hsic(K, L)) == pytest.approx(float(sum(terms) / len(terms)), rel=1e-10)


def test_debiased_cka_keeps_ckas_invariances():
    g = torch.Generator().manual_seed(4)
    X = torch.randn(60, 8, generator=g)
    Q = torch.linalg.qr(torch.randn(8, 8, generator=g))[0]
    assert similarity.debiased_linear_cka(X, X) == pytest.approx(1.0, abs=1e-9)
    assert similarity.debiased_linear_cka(X, 3 * X @ Q + 5) == pytest.approx(1.0, abs=1e-6)


def test_with_far_more_features_than_examples_only_the_debiased_cka_stays_near_zero():
    g = torch.Generator().manual_seed(5)
    X, Y = torch.randn(200, 5000, generator=g), torch.randn(200, 5000, generator=g)   # unrelated
    assert similarity.linear_cka(X, Y) > 0.9                       # inflated towards 1
    assert abs(similarity.debiased_linear_cka(X, Y)) < 0.02


def test_debiased_cka_refuses_too_few_examples_and_no_variance():
    with pytest.raises(ValueError, match="at least 4 examples"):
        similarity.unbiased_hsic(torch.eye(3), torch.eye(3))
    with pytest.raises(ValueError, match="no variance"):
        similarity.debiased_linear_cka(torch.ones(10, 3), torch.randn(10, 3))

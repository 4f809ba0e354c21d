"""course_utils.teaching.claims: bounds, the printed line, strict and lenient failures, the record."""
import html
import json
import re
from pathlib import Path

import numpy as np
import pytest
import torch

from course_utils.teaching import claims


@pytest.fixture
def lenient(monkeypatch):
    monkeypatch.delenv(claims.STRICT_ENV, raising=False)


@pytest.fixture
def strict(monkeypatch):
    monkeypatch.setenv(claims.STRICT_ENV, "1")


@pytest.mark.parametrize("bound,inside,outside", [
    (claims.below(0.5), 0.49, 0.5),
    (claims.at_most(0.5), 0.5, 0.51),
    (claims.above(2), 2.01, 2),
    (claims.at_least(2), 2, 1.99),
    (claims.between(1, 3), 3, 3.01),
    (claims.between(1, 3), 1, 0.99),
])
def test_bounds_hold_inside_and_fail_outside(bound, inside, outside):
    assert bound.holds(inside) and bound.margin(inside) >= 0
    assert not bound.holds(outside) and bound.margin(outside) <= 0


def test_margin_is_the_distance_to_the_bound():
    assert claims.below(0.78).margin(0.68) == pytest.approx(0.10)
    assert claims.above(0.5).margin(0.2) == pytest.approx(-0.3)
    assert claims.between(0, 1).margin(0.9) == pytest.approx(0.1)


def test_a_holding_claim_prints_one_line_with_value_baseline_and_bound(lenient, capsys):
    result = claims.claim("t-shift", "C7", "max pooling lowers the change a shift causes.",
                          value=0.6812, baseline=0.8301, vs="subsampling",
                          bound=claims.below(0.78))
    assert capsys.readouterr().out.strip() == (
        "✓ claim C7: max pooling lowers the change a shift causes "
        "(0.681 vs 0.83 for subsampling; holds if < 0.78)")
    assert result.holds and result.source_claim == "C7" and result.topic is None
    assert result.margin == pytest.approx(0.78 - 0.6812)


def test_percent_format_applies_to_value_baseline_and_bound(lenient):
    result = claims.claim("t-pct", "C4", "relu wins", value=0.97, baseline=0.547,
                          bound=claims.above(0.75), fmt=".0%", display=False)
    assert "(97% vs 55%; holds if > 75%)" in result.line()


def test_failing_claim_raises_in_the_build_naming_claim_value_and_bound(strict):
    with pytest.raises(claims.ClaimFailed, match=r"t-false \(C13\).*measured 0\.12.*> 0\.2"):
        claims.claim("t-false", "C13", "cutting lowers the index", value=0.12,
                     bound=claims.above(0.2), display=False)


def test_failing_claim_warns_for_a_learner_and_goes_on(lenient):
    with pytest.warns(claims.ClaimWarning, match="t-false.*does not hold"):
        result = claims.claim("t-false", "C13", "cutting lowers the index", value=0.12,
                              bound=claims.above(0.2), display=False)
    assert not result.holds and result.line().startswith("✗ DOES NOT HOLD")


def test_topic_claims_and_cited_claims(lenient):
    topic = claims.claim("t-topic", "superposition", "s", value=12, bound=claims.at_least(6),
                         display=False)
    assert topic.topic == "superposition" and topic.source_claim is None
    assert "(12; holds if >= 6)" in topic.line()
    cited = claims.cited("t-cited", "C17", "features align with intuition",
                         citation="Olah et al. 2020", display=False)
    assert cited.kind == "cited" and cited.value is None and cited.holds
    assert "from the literature" in cited.line() and "Olah et al. 2020" in cited.line()


@pytest.mark.parametrize("value", [torch.tensor(0.3), torch.tensor([0.3]), np.float32(0.3), 0.3])
def test_values_may_be_numbers_or_one_element_tensors(lenient, value):
    result = claims.claim("t-num", "C1", "s", value=value, bound=claims.below(1), display=False)
    assert result.value == pytest.approx(0.3)


@pytest.mark.parametrize("kwargs,error,message", [
    (dict(id="Bad Id"), ValueError, "lower case"),
    (dict(serves="C19"), ValueError, "C1..C18"),
    (dict(statement="  "), ValueError, "statement"),
    (dict(value=torch.ones(3)), TypeError, "one-element"),
    (dict(value=float("nan")), ValueError, "NaN"),
    (dict(value=True), TypeError, "number"),
    (dict(bound=0.5), TypeError, "Bound"),
])
def test_bad_input_gets_a_clear_error(lenient, kwargs, error, message):
    arguments = dict(id="t-ok", serves="C1", statement="s", value=0.1, bound=claims.below(1))
    arguments.update(kwargs)
    with pytest.raises(error, match=message):
        claims.claim(arguments.pop("id"), arguments.pop("serves"), arguments.pop("statement"),
                     display=False, **arguments)


def test_between_rejects_an_empty_range_and_cited_needs_a_citation():
    with pytest.raises(ValueError, match="low <= high"):
        claims.between(2, 1)
    with pytest.raises(ValueError, match="citation"):
        claims.cited("t-c", "C18", "s", citation=" ", display=False)


def test_html_carries_the_record_and_an_anchor(lenient):
    result = claims.claim("t-html", "C2", "a < b", value=1e-7, baseline=0.9,
                          bound=claims.below(1e-5), display=False)
    page = result.html()
    assert 'id="claim-t-html"' in page and "a &lt; b" in page
    record = json.loads(html.unescape(re.search(r'data-claim="([^"]*)"', page).group(1)))
    assert record == result.record()
    assert {"id", "statement", "source_claim", "topic", "value", "baseline", "bound",
            "holds"} <= set(record)
    assert "1.0e-07 vs 0.9" in result.line()


def test_a_claim_is_displayed_once_even_as_a_cells_last_expression(lenient, monkeypatch):
    published = []
    monkeypatch.setattr("IPython.display.publish_display_data", published.append)
    result = claims.claim("t-once", "C2", "s", value=0.1, bound=claims.below(1), display=False)
    result._ipython_display_()
    result._ipython_display_()  # what IPython does with the cell's result
    assert len(published) == 1 and published[0]["text/plain"] == result.line()


def test_every_source_claim_and_topic_of_the_seed_is_known():
    assert list(claims.SOURCE_CLAIMS) == [f"C{i}" for i in range(1, 19)]
    assert len(claims.TOPICS) == 10 and "superposition" in claims.TOPICS


SEED_CLAIMS = Path(__file__).resolve().parents[2] / "shared" / "seed" / "claims.md"


@pytest.mark.skipif(not SEED_CLAIMS.is_file(), reason="the steering repo's seed is not beside this checkout")
def test_ids_and_topics_are_the_seeds_own():
    seed = SEED_CLAIMS.read_text()
    assert re.findall(r"^\| (C\d+) \|", seed, flags=re.M) == list(claims.SOURCE_CLAIMS)
    topics = re.findall(r"`([a-z-]+)`", seed.split("Topics for claims beyond")[1])
    assert topics == list(claims.TOPICS)

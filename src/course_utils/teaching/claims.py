"""Claims: a sentence the book says about CNNs, with the measurement that makes it true.

Every chapter states its claims in code, next to the figure that shows them::

    claims.claim(
        "pooling-shift", "C7",
        "max pooling lowers the change a 1-pixel shift causes",
        value=change["max 2 x 2"], baseline=change["subsample 2"], vs="subsampling",
        bound=claims.below(change["subsample 2"] - 0.05),
    )

prints one line under the cell,
``✓ claim C7: max pooling lowers ... (0.68 vs 0.83 for subsampling; holds if < 0.78)``.

- A claim has an id (unique in the book), the claim of the source text it serves (``C1`` ... ``C18``,
  see ``SOURCE_CLAIMS``) or a topic beyond it (``TOPICS``), one sentence, the measured value, a
  baseline where one exists, and the bound that makes it hold.
- While the book builds (``STRICT_ENV`` is set by ``course_utils.book.ledger``), a claim that does not
  hold raises ``ClaimFailed`` naming the claim, its value and its bound: the build fails rather
  than publish a sentence its own output contradicts. In Jupyter or Colab it warns and goes on.
- The line carries the claim as data (``data-claim``), from which the book's ledger page and
  ``claims.json`` are built.
- ``cited`` records what the book takes from the literature without measuring it here.

Introduced in chapter 1; every chapter uses it.
"""
from __future__ import annotations

import html
import json
import math
import os
import re
import warnings
from dataclasses import asdict, dataclass
from numbers import Real

# The claims of the source text, as ids and a few words each (../shared/seed/claims.md).
SOURCE_CLAIMS = {
    "C1": "a convolution output is a window-kernel dot product plus bias",
    "C2": "convolutions without nonlinearity are linear",
    "C3": "a linear stack collapses into one convolution",
    "C4": "nonlinearity makes CNNs expressive",
    "C5": "nonlinearity regulates activations, convergence and noise",
    "C6": "a large positive response means the patch resembles the kernel",
    "C7": "pooling reduces dimensionality and adds spatial invariance",
    "C8": "early layers learn simple low-level features",
    "C9": "intermediate layers capture textures and shapes, deeper ones parts",
    "C10": "feature complexity grows with depth as receptive fields grow",
    "C11": "features are directions in activation space",
    "C12": "features can be understood",
    "C13": "features are connected by weights into circuits",
    "C14": "universality: analogous features across models",
    "C15": "universality across tasks and data",
    "C16": "fully connected layers near the output act as a classifier",
    "C17": "CNNs are a good first object for interpretability",
    "C18": "the three statements are speculative; the world-model hypothesis came later",
}
# Topics for claims beyond the source text.
TOPICS = ("superposition", "polysemanticity", "dictionary-learning", "attribution-sanity",
          "world-model", "debiased-cka", "gradient-flow", "noise-suppression", "texture-parts",
          "curve-circuit")
# Set by the book build: a claim that does not hold raises instead of warning.
STRICT_ENV = "COURSE_CLAIMS_STRICT"
_ID = re.compile(r"^[a-z0-9][a-z0-9-]*$")


class ClaimFailed(AssertionError):
    """A claim of the book does not hold for the values measured in this run."""


class ClaimWarning(UserWarning):
    """A claim does not hold here (Jupyter, Colab): the notebook goes on."""


# ----------------------------------------------------------------------------- bounds
@dataclass(frozen=True)
class Bound:
    """The condition a measured value must meet: ``value <op> limit`` (or inside a range)."""

    op: str          # "<", "<=", ">", ">=" or "in"
    limit: float
    upper: float | None = None   # only for "in": limit <= value <= upper

    def holds(self, value: float) -> bool:
        return self.margin(value) > 0 or (self.op in ("<=", ">=", "in") and self.margin(value) == 0)

    def margin(self, value: float) -> float:
        """How far inside the bound the value is (negative: outside), in the value's units."""
        if self.op in ("<", "<="):
            return self.limit - value
        if self.op in (">", ">="):
            return value - self.limit
        return min(value - self.limit, self.upper - value)

    def describe(self, fmt: str | None = None) -> str:
        if self.op == "in":
            return f"in [{format_value(self.limit, fmt)}, {format_value(self.upper, fmt)}]"
        return f"{self.op} {format_value(self.limit, fmt)}"


def below(limit: float) -> Bound:
    """Holds if value < limit."""
    return Bound("<", _number(limit, "limit"))


def at_most(limit: float) -> Bound:
    """Holds if value <= limit."""
    return Bound("<=", _number(limit, "limit"))


def above(limit: float) -> Bound:
    """Holds if value > limit."""
    return Bound(">", _number(limit, "limit"))


def at_least(limit: float) -> Bound:
    """Holds if value >= limit."""
    return Bound(">=", _number(limit, "limit"))


def between(low: float, high: float) -> Bound:
    """Holds if low <= value <= high."""
    low, high = _number(low, "low"), _number(high, "high")
    if low > high:
        raise ValueError(f"between(low, high) needs low <= high, got {low} > {high}")
    return Bound("in", low, high)


# ----------------------------------------------------------------------------- claims
@dataclass(frozen=True)
class Claim:
    """One checked claim, as recorded in the ledger (``claims.json`` rows add the chapter)."""

    id: str
    statement: str
    source_claim: str | None
    topic: str | None
    value: float | None
    baseline: float | None
    vs: str | None
    bound: str | None
    margin: float | None
    holds: bool
    kind: str = "measured"        # or "cited": from the literature, not measured here
    citation: str | None = None
    fmt: str | None = None        # how value, baseline and bound are printed (".0%")

    @property
    def serves(self) -> str:
        return self.source_claim or self.topic

    def line(self) -> str:
        """The line printed under the cell."""
        if self.kind == "cited":
            return f"◇ claim {self.serves} (from the literature): {self.statement} ({self.citation})"
        mark = "✓" if self.holds else "✗ DOES NOT HOLD:"
        measured = format_value(self.value, self.fmt)
        if self.baseline is not None:
            measured += f" vs {format_value(self.baseline, self.fmt)}" + (f" for {self.vs}" if self.vs else "")
        return f"{mark} claim {self.serves}: {self.statement} ({measured}; holds if {self.bound})"

    def record(self) -> dict:
        return asdict(self)

    def __repr__(self) -> str:
        return self.line()

    def _ipython_display_(self) -> None:
        # Shown once: a claim call that ends a cell would otherwise be displayed twice
        # (by claim() and as the cell's result), and recorded twice in the ledger.
        if getattr(self, "_shown", False):
            return
        object.__setattr__(self, "_shown", True)
        from IPython.display import publish_display_data

        publish_display_data({"text/plain": self.line(), "text/html": self.html()})

    def html(self) -> str:
        """The line as HTML, carrying the record for the ledger (``data-claim``)."""
        status = "holds" if self.holds else "fails"
        return (f'<div class="course-claim {self.kind} {status}" id="claim-{self.id}" '
                f'data-claim="{html.escape(json.dumps(self.record()), quote=True)}">'
                f"{html.escape(self.line())}</div>")


_RECORD = re.compile(r'data-claim="([^"]*)"')


def records_in(text: str) -> list[dict]:
    """The records carried by the claim lines in ``text`` (a cell's or a page's HTML)."""
    return [json.loads(html.unescape(m.group(1))) for m in _RECORD.finditer(text)]


def claim(id: str, serves: str, statement: str, *, value: float, bound: Bound,
          baseline: float | None = None, vs: str | None = None, fmt: str | None = None,
          display: bool = True) -> Claim:
    """State a claim, check it against its bound, and show it under the cell.

    id: unique in the book, lower case with dashes ("pooling-shift"). serves: "C1".."C18" or a
    topic of ``TOPICS``. value, baseline: numbers (a tensor of one element is fine). vs: what the
    baseline is ("subsampling"). fmt: a format spec for the numbers (".0%"), else 3 digits.
    Raises ``ClaimFailed`` in the book build when the claim does not hold; warns elsewhere.
    """
    _check_id(id)
    source_claim, topic = _serves(serves)
    if not isinstance(bound, Bound):
        raise TypeError(f"bound must be a Bound (claims.below(0.5), above, between, ...), "
                        f"got {type(bound).__name__}")
    value = _number(value, "value")
    baseline = None if baseline is None else _number(baseline, "baseline")
    result = Claim(id, _sentence(statement), source_claim, topic, value, baseline, vs,
                   bound.describe(fmt), bound.margin(value), bound.holds(value), fmt=fmt)
    if not result.holds:
        message = (f"claim {id} ({result.serves}) does not hold: {result.statement}; measured "
                   f"{format_value(value, fmt)}, holds if {result.bound}")
        if os.environ.get(STRICT_ENV) == "1":
            raise ClaimFailed(message)
        warnings.warn(message, ClaimWarning, stacklevel=2)
    return _show(result, display)


def cited(id: str, serves: str, statement: str, *, citation: str, display: bool = True) -> Claim:
    """Record a claim the book takes from the literature without measuring it (shown as such)."""
    _check_id(id)
    source_claim, topic = _serves(serves)
    if not citation.strip():
        raise ValueError(f"cited claim {id} needs a citation (authors, year, title)")
    result = Claim(id, _sentence(statement), source_claim, topic, None, None, None, None, None,
                   True, kind="cited", citation=citation.strip())
    return _show(result, display)


def format_value(value: float | None, fmt: str | None = None) -> str:
    """A number as the claim line prints it: ``fmt`` if given, else 3 significant digits."""
    if value is None:
        return "-"
    if fmt:
        return format(value, fmt)
    if float(value).is_integer() and abs(value) < 1e15:
        return f"{int(value):,}"
    if value != 0 and abs(value) < 1e-2:
        return f"{value:.1e}"
    return f"{value:.3g}"


# ----------------------------------------------------------------------------- helpers
def _show(result: Claim, display: bool) -> Claim:
    if display:
        try:
            from IPython import get_ipython
        except ImportError:
            get_ipython = lambda: None  # noqa: E731
        if get_ipython() is not None:
            result._ipython_display_()
        else:  # plain Python: the line still reaches the reader
            print(result.line())
    return result


def _check_id(id: str) -> None:
    if not isinstance(id, str) or not _ID.match(id):
        raise ValueError(f"a claim id is lower case letters, digits and dashes ('pooling-shift'), "
                         f"got {id!r}")


def _serves(serves: str) -> tuple[str | None, str | None]:
    if serves in SOURCE_CLAIMS:
        return serves, None
    if serves in TOPICS:
        return None, serves
    raise ValueError(f"serves must be a source claim C1..C18 or one of the topics {', '.join(TOPICS)}; "
                     f"got {serves!r}")


def _sentence(statement: str) -> str:
    statement = " ".join(str(statement).split())
    if not statement:
        raise ValueError("a claim needs a statement (one sentence)")
    return statement.rstrip(".")


def _number(value, name: str) -> float:
    if hasattr(value, "item") and getattr(value, "numel", lambda: 1)() == 1:
        value = value.item()
    if isinstance(value, bool) or not isinstance(value, Real):
        raise TypeError(f"{name} must be a number (or a one-element tensor), got {type(value).__name__}")
    value = float(value)
    if math.isnan(value):
        raise ValueError(f"{name} is NaN: the measurement behind the claim failed")
    return value

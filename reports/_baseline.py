"""Comparison of a result with a baseline: did this run hold up worse than the last good one?"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from ._analysis import summary
from ._errors import ReportError
from ._schema import VERDICT_SEVERITY, ResilienceResult
from ._score import resilience_score

# Scores are sums of a few exact points times a ratio; this only absorbs float rounding.
_EPSILON: Final = 1e-9


@dataclass(frozen=True)
class Comparison:
    """How a result compares with a baseline result; :attr:`regressed` says whether it got worse.

    Deltas are ``result - baseline``: a negative ``score_delta`` means the score fell. Rates are
    fractions in 0..1 and None when a result has no runs. ``reasons`` lists each way the result
    regressed, in words; it is empty when it did not.
    """

    scenario: str
    baseline_scenario: str
    verdict: str
    baseline_verdict: str
    score: float
    baseline_score: float
    score_delta: float
    completion_rate: float | None
    baseline_completion_rate: float | None
    completion_rate_delta: float | None
    new_anomaly_kinds: tuple[str, ...]
    resolved_anomaly_kinds: tuple[str, ...]
    reasons: tuple[str, ...]

    @property
    def regressed(self) -> bool:
        """Whether the result is worse than the baseline in any way ``reasons`` lists."""
        return bool(self.reasons)


def _percent(rate: float | None) -> str:
    return "n/a" if rate is None else f"{rate:.1%}"


def compare(
    result: ResilienceResult,
    baseline: ResilienceResult,
    *,
    score_tolerance: float = 0.0,
    rate_tolerance: float = 0.0,
) -> Comparison:
    """Compare ``result`` with ``baseline``.

    The result regressed when any of these holds: its verdict is worse (valid < unknown <
    invalid); its score fell by more than ``score_tolerance`` points; its completion rate fell by
    more than ``rate_tolerance`` (a fraction, e.g. 0.05 for five points of percentage); a kind
    of anomaly appears that the baseline did not have.
    """
    for name, tolerance in (
        ("score_tolerance", score_tolerance),
        ("rate_tolerance", rate_tolerance),
    ):
        if not tolerance >= 0:
            raise ReportError(
                f"compare got {name}={tolerance!r}, but a tolerance is how much worse a result "
                "may be and still pass. Pass a number >= 0."
            )
    score, baseline_score = resilience_score(result), resilience_score(baseline)
    rate = summary(result)["completion_rate"]
    baseline_rate = summary(baseline)["completion_rate"]
    rate_delta = None if rate is None or baseline_rate is None else rate - baseline_rate
    kinds = {a.kind for a in result.anomalies}
    baseline_kinds = {a.kind for a in baseline.anomalies}
    new_kinds = tuple(sorted(kinds - baseline_kinds))

    reasons = []
    if VERDICT_SEVERITY[result.verdict] > VERDICT_SEVERITY[baseline.verdict]:
        reasons.append(f"verdict went from {baseline.verdict!r} to {result.verdict!r}")
    if score - baseline_score < -(score_tolerance + _EPSILON):
        reasons.append(
            f"score fell by {baseline_score - score:.1f} points "
            f"({baseline_score:.1f} -> {score:.1f}; tolerance {score_tolerance:g})"
        )
    if rate_delta is not None and rate_delta < -(rate_tolerance + _EPSILON):
        reasons.append(
            f"completion rate fell from {_percent(baseline_rate)} to {_percent(rate)} "
            f"(tolerance {rate_tolerance:.1%})"
        )
    if new_kinds:
        reasons.append("new kinds of anomaly: " + ", ".join(new_kinds))

    return Comparison(
        scenario=result.scenario,
        baseline_scenario=baseline.scenario,
        verdict=result.verdict,
        baseline_verdict=baseline.verdict,
        score=score,
        baseline_score=baseline_score,
        score_delta=score - baseline_score,
        completion_rate=rate,
        baseline_completion_rate=baseline_rate,
        completion_rate_delta=rate_delta,
        new_anomaly_kinds=new_kinds,
        resolved_anomaly_kinds=tuple(sorted(baseline_kinds - kinds)),
        reasons=tuple(reasons),
    )

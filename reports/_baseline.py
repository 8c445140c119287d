"""Comparison of a result with a baseline: did this run hold up worse than the last good one?

What counts as a regression (each with the tolerance in :class:`Tolerances`):

- the verdict got worse (valid < unknown < invalid);
- a **new anomaly**: one whose kind, case and steps the baseline did not have;
- the score fell by more than ``score_points``;
- the completion rate fell by more than ``completion_rate`` (a fraction: 0.05 = 5 points);
- the load's end-to-end **p99** rose by more than ``p99_ratio`` (and by more than
  ``p99_floor_ms``, so noise on tiny latencies does not count);
- the longest **time to recover** after a fault rose by more than ``recovery_ratio`` (and by more
  than ``recovery_floor_s``), or a fault the baseline recovered from was not recovered from.

A baseline of another scenario is refused (:class:`ReportError`), as is a baseline whose harness
failed (verdict ``error``): neither says anything about this result. A result whose harness
failed is always a regression: it has not shown that it held.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final

from ._analysis import summary
from ._errors import ReportError
from ._schema import VERDICT_SEVERITY, ResilienceResult

# Scores and rates are sums of exact parts; this only absorbs float rounding.
_EPSILON: Final = 1e-9


@dataclass(frozen=True)
class Tolerances:
    """How much worse than the baseline a result may be and still not have regressed."""

    score_points: float = 1.0
    completion_rate: float = 0.0
    p99_ratio: float = 0.2
    p99_floor_ms: float = 5.0
    recovery_ratio: float = 0.2
    recovery_floor_s: float = 1.0

    def __post_init__(self) -> None:
        for name, value in vars(self).items():
            if not (isinstance(value, int | float) and value >= 0):
                raise ReportError(
                    f"Tolerances got {name}={value!r}, but a tolerance is how much worse a "
                    "result may be and still pass. Pass a number >= 0."
                )


@dataclass(frozen=True)
class Comparison:
    """How a result compares with a baseline; :attr:`regressed` says whether it got worse.

    Deltas are ``result - baseline``. Figures are None when a result lacks them (no runs, no
    load section). ``reasons`` lists each way the result regressed, in words.
    """

    scenario: str
    verdict: str
    baseline_verdict: str
    score: float | None
    baseline_score: float | None
    score_delta: float | None
    completion_rate: float | None
    baseline_completion_rate: float | None
    completion_rate_delta: float | None
    p99_ms: float | None
    baseline_p99_ms: float | None
    recovery_s: float | None
    baseline_recovery_s: float | None
    new_anomalies: tuple[str, ...]
    new_anomaly_kinds: tuple[str, ...]
    resolved_anomaly_kinds: tuple[str, ...]
    reasons: tuple[str, ...]
    tolerances: Tolerances = field(default_factory=Tolerances)

    @property
    def regressed(self) -> bool:
        """Whether the result is worse than the baseline in any way ``reasons`` lists."""
        return bool(self.reasons)


def _signatures(result: ResilienceResult) -> dict[str, str]:
    found = {}
    for anomaly in result.anomalies:
        case = result.case(anomaly.case)
        where = f" in case {case.description!r}" if case else ""
        steps = f" at {', '.join(anomaly.steps)}" if anomaly.steps else ""
        found[f"{anomaly.kind}{steps}{where}"] = anomaly.kind
    return found


def _p99(result: ResilienceResult) -> float | None:
    return result.load.summary.e2e_latency_ms.p99 if result.load is not None else None


def _recovery(result: ResilienceResult) -> tuple[float | None, int]:
    """The longest time to recover over the faults, and how many faults it never recovered from."""
    if result.load is None or not result.load.recovery:
        return None, 0
    times = [r.time_to_recover_s for r in result.load.recovery if r.time_to_recover_s is not None]
    missed = sum(1 for r in result.load.recovery if r.recovered is False)
    return (max(times) if times else None), missed


def _worse(now: float | None, then: float | None, ratio: float, floor: float) -> bool:
    if now is None or then is None:
        return False
    return now - then > max(then * ratio, floor) + _EPSILON


def _percent(rate: float | None) -> str:
    return "n/a" if rate is None else f"{rate:.1%}"


def _check_comparable(result: ResilienceResult, baseline: ResilienceResult) -> None:
    if result.scenario != baseline.scenario:
        raise ReportError(
            f"The baseline is of scenario {baseline.scenario!r}, the result of "
            f"{result.scenario!r}: a baseline says nothing about another scenario. Pass the "
            f"result.json of an earlier run of {result.scenario!r}."
        )
    if baseline.verdict == "error":
        raise ReportError(
            f"The baseline of {baseline.scenario!r} has verdict 'error' (the harness could not "
            "finish it), so it measured nothing to compare with. Pass a baseline that finished."
        )


def compare(
    result: ResilienceResult, baseline: ResilienceResult, tolerances: Tolerances | None = None
) -> Comparison:
    """Compare ``result`` with ``baseline`` of the same scenario (see the module for the rules)."""
    _check_comparable(result, baseline)
    allowed = tolerances or Tolerances()
    reasons: list[str] = []
    if result.verdict == "error":
        reasons.append("the harness could not finish the run (verdict 'error')")
    elif VERDICT_SEVERITY[result.verdict] > VERDICT_SEVERITY[baseline.verdict]:
        reasons.append(f"verdict went from {baseline.verdict!r} to {result.verdict!r}")

    signatures, baseline_signatures = _signatures(result), _signatures(baseline)
    new = tuple(sorted(set(signatures) - set(baseline_signatures)))
    if new:
        reasons.append("new anomalies: " + "; ".join(new))
    kinds, baseline_kinds = set(signatures.values()), set(baseline_signatures.values())

    score, baseline_score = result.score, baseline.score
    score_delta = None if score is None or baseline_score is None else score - baseline_score
    if score_delta is not None and score_delta < -(allowed.score_points + _EPSILON):
        reasons.append(
            f"score fell by {-score_delta:.1f} points ({baseline_score:.1f} -> {score:.1f}; "
            f"tolerance {allowed.score_points:g})"
        )

    rate = summary(result)["completion_rate"]
    baseline_rate = summary(baseline)["completion_rate"]
    rate_delta = None if rate is None or baseline_rate is None else rate - baseline_rate
    if rate_delta is not None and rate_delta < -(allowed.completion_rate + _EPSILON):
        reasons.append(
            f"completion rate fell from {_percent(baseline_rate)} to {_percent(rate)} "
            f"(tolerance {allowed.completion_rate:.1%})"
        )

    p99, baseline_p99 = _p99(result), _p99(baseline)
    if _worse(p99, baseline_p99, allowed.p99_ratio, allowed.p99_floor_ms):
        reasons.append(
            f"end-to-end p99 rose from {baseline_p99:.1f} ms to {p99:.1f} ms (tolerance "
            f"{allowed.p99_ratio:.0%} and {allowed.p99_floor_ms:g} ms)"
        )
    (recovery, missed), (baseline_recovery, baseline_missed) = (
        _recovery(result),
        _recovery(baseline),
    )
    if _worse(recovery, baseline_recovery, allowed.recovery_ratio, allowed.recovery_floor_s):
        reasons.append(
            f"time to recover rose from {baseline_recovery:.1f} s to {recovery:.1f} s "
            f"(tolerance {allowed.recovery_ratio:.0%} and {allowed.recovery_floor_s:g} s)"
        )
    if missed > baseline_missed:
        reasons.append(
            f"{missed} fault(s) never recovered from, against {baseline_missed} in the baseline"
        )

    return Comparison(
        scenario=result.scenario,
        verdict=result.verdict,
        baseline_verdict=baseline.verdict,
        score=score,
        baseline_score=baseline_score,
        score_delta=score_delta,
        completion_rate=rate,
        baseline_completion_rate=baseline_rate,
        completion_rate_delta=rate_delta,
        p99_ms=p99,
        baseline_p99_ms=baseline_p99,
        recovery_s=recovery,
        baseline_recovery_s=baseline_recovery,
        new_anomalies=new,
        new_anomaly_kinds=tuple(sorted(kinds - baseline_kinds)),
        resolved_anomaly_kinds=tuple(sorted(baseline_kinds - kinds)),
        reasons=tuple(reasons),
        tolerances=allowed,
    )

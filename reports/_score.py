"""The resilience score: one number from 0 to 100 for trends and baselines, never hiding a failure.

The verdict is what a person acts on; the score ranks results of the same verdict. It is built
so that a reader can recompute it by hand from the result (``docs/reports.md`` works examples):

1. **Quality**, a weighted mean of the parts the result has (weights in :data:`SCORE_WEIGHTS`,
   renormalised over the parts present):

   - ``invariants`` (always): the mean of :data:`INVARIANT_POINTS` over the invariants
     (valid 1, unknown 0.5, invalid 0); no invariant at all counts 0.5;
   - ``runs`` (when there are runs): the fraction that ``completed`` or ``rolled_back`` cleanly;
   - ``recovery`` (when a load run measured recovery): per fault, 0 if throughput and latency did
     not recover, else ``max(0, 1 - time_to_recover_s / RECOVERY_TARGET_S)``; averaged.

2. **The verdict's band** (:data:`SCORE_BANDS`): valid 60..100, unknown 30..50, invalid 0..25.
   ``score = low + (high - low) * quality``. The bands do not touch, so **every invalid result
   scores below every unknown one, and every unknown below every valid one**, whatever the
   quality: seven of eight invariants valid is still an invalid result.

3. A result whose harness failed (verdict ``error``) has **no score** (``null``): it measured
   nothing, and a trend should show a gap rather than a number.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final

from ._load_model import LoadSection
from ._model import InvariantResult, RunRecord

INVARIANT_POINTS: Final[Mapping[str, float]] = MappingProxyType(
    {"valid": 1.0, "unknown": 0.5, "invalid": 0.0}
)
"""What each invariant verdict is worth in the ``invariants`` part of the quality."""

SCORE_WEIGHTS: Final[Mapping[str, float]] = MappingProxyType(
    {"invariants": 0.5, "runs": 0.3, "recovery": 0.2}
)
"""The weight of each part of the quality; a part the result lacks is left out."""

SCORE_BANDS: Final[Mapping[str, tuple[float, float]]] = MappingProxyType(
    {"valid": (60.0, 100.0), "unknown": (30.0, 50.0), "invalid": (0.0, 25.0)}
)
"""The range of scores each verdict maps its quality onto; the ranges never overlap."""

RECOVERY_TARGET_S: Final = 30.0
"""A fault after which the load took this long (or longer) to recover scores 0 for recovery."""

_GOOD_OUTCOMES: Final = frozenset({"completed", "rolled_back"})


@dataclass(frozen=True)
class ScoreParts:
    """How a score was made: each part of the quality in 0..1 (None when absent), and the total."""

    verdict: str
    invariants: float
    runs: float | None
    recovery: float | None
    quality: float
    score: float | None


def _mean(values: list[float]) -> float:
    return sum(values) / len(values)


def score_parts(
    verdict: str,
    invariants: Iterable[InvariantResult],
    runs: Iterable[RunRecord],
    load: LoadSection | None = None,
) -> ScoreParts:
    """Every part of the score of a result with ``verdict``, ``invariants``, ``runs``, ``load``."""
    points = [INVARIANT_POINTS[i.verdict] for i in invariants]
    invariant_part = _mean(points) if points else INVARIANT_POINTS["unknown"]
    outcomes = [run.outcome for run in runs]
    runs_part = _mean([float(o in _GOOD_OUTCOMES) for o in outcomes]) if outcomes else None
    recoveries = load.recovery if load is not None else ()
    recovery_part = (
        _mean(
            [
                max(0.0, 1.0 - r.time_to_recover_s / RECOVERY_TARGET_S)
                if r.recovered and r.time_to_recover_s is not None
                else 0.0
                for r in recoveries
            ]
        )
        if recoveries
        else None
    )
    parts = {"invariants": invariant_part, "runs": runs_part, "recovery": recovery_part}
    present = {name: value for name, value in parts.items() if value is not None}
    total_weight = sum(SCORE_WEIGHTS[name] for name in present)
    quality = sum(SCORE_WEIGHTS[name] * value for name, value in present.items()) / total_weight
    if verdict == "error":
        score = None
    else:
        low, high = SCORE_BANDS[verdict]
        score = round(low + (high - low) * quality, 6)
    return ScoreParts(verdict, invariant_part, runs_part, recovery_part, quality, score)


def score_in_band(verdict: str, score: float | None) -> bool:
    """Whether ``score`` is one a result with ``verdict`` can have (None exactly for ``error``)."""
    if verdict == "error" or score is None:
        return verdict == "error" and score is None
    low, high = SCORE_BANDS[verdict]
    return low <= score <= high

"""The resilience score: one number from 0 to 100 that says how well a run held up.

The verdict is what a person acts on; the score is for trends and for comparing with a baseline.
It is deliberately simple, so a reader can recompute it by hand from the report.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Final

from ._schema import GOOD_RUN_STATES, ResilienceResult

CHECKER_POINTS: Final[Mapping[str, float]] = MappingProxyType(
    {"valid": 100.0, "unknown": 50.0, "invalid": 0.0}
)
"""What each checker verdict is worth in :func:`resilience_score`."""


def resilience_score(result: ResilienceResult) -> float:
    """The resilience score of ``result``, from 0 (worst) to 100 (best).

    The formula::

        checker_part = mean of CHECKER_POINTS[checker.verdict] over the checkers
                       (valid = 100, unknown = 50, invalid = 0; every checker weighs the same;
                        no checker at all = 50, because an unchecked run is unknown)
        good_rate    = runs whose state is in GOOD_RUN_STATES / all runs
                       (completed, rolled_back or cancelled: done, or cleanly rolled back;
                        compensation_failed, running or any other state counts against;
                        no runs at all = 1, because there is nothing to hold against)
        score        = checker_part * good_rate

    For example, two valid checkers and one unknown over 4 runs of which 3 completed and 1 is
    still running: (100 + 100 + 50) / 3 * 3/4 = 62.5.
    """
    if result.checkers:
        points = [CHECKER_POINTS[checker.verdict] for checker in result.checkers]
        checker_part = sum(points) / len(points)
    else:
        checker_part = CHECKER_POINTS["unknown"]
    if result.runs:
        good = sum(1 for run in result.runs if run.state in GOOD_RUN_STATES)
        good_rate = good / len(result.runs)
    else:
        good_rate = 1.0
    return checker_part * good_rate

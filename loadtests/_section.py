"""Thresholds and the ``load`` section of the result document, as plain JSON-ready data.

The section's shape is agreed with the reports package (LOAD_SECTION.md): ``profile``,
``summary``, ``series`` (one row per second), ``fault_windows``, ``recovery``, ``thresholds``
and ``artifacts``. A threshold on a figure that could not be measured does not pass: nothing
shows it holds.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:
    from ._profile import LoadProfile, Threshold

_OPERATORS: Final[Mapping[str, Callable[[float, float], bool]]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}


def observed_metrics(
    summary: Mapping[str, Any], recovery: Sequence[Mapping[str, Any]]
) -> dict[str, float | None]:
    """Every figure a threshold may name (``loadtests.METRICS``), from the summary and the
    recovery records. ``time_to_recover_s`` is the longest, or ``None`` if any window did not
    recover (or could not be measured)."""
    observed: dict[str, float | None] = {
        key: summary[key]
        for key in (
            "submitted",
            "completed",
            "rolled_back",
            "failed",
            "unfinished",
            "completion_rate",
            "throughput_submitted_per_s",
            "throughput_completed_per_s",
            "retry_amplification",
            "compensation_rate",
            "dropped_iterations",
        )
    }
    for prefix, key in (("submit", "submit_latency_ms"), ("e2e", "e2e_latency_ms")):
        for stat, value in summary[key].items():
            observed[f"{prefix}_{stat}_ms"] = value
    observed["errors"] = float(sum(summary["errors"].values()))
    times = [r.get("time_to_recover_s") for r in recovery]
    observed["time_to_recover_s"] = (
        max(float(t) for t in times if t is not None)
        if times and all(t is not None for t in times)
        else None
    )
    return observed


def evaluate_thresholds(
    thresholds: Sequence[Threshold], observed: Mapping[str, float | None]
) -> list[dict[str, Any]]:
    """Each threshold with what was observed and whether it passed."""
    results = []
    for threshold in thresholds:
        value = observed.get(threshold.metric)
        passed = value is not None and _OPERATORS[threshold.op](float(value), threshold.value)
        results.append(
            {
                "metric": threshold.metric,
                "op": threshold.op,
                "value": threshold.value,
                "observed": value,
                "passed": bool(passed),
            }
        )
    return results


def fault_action(fault: Mapping[str, Any]) -> str:
    """What a fault window does: the toxic's name, ``partition``, or the process action."""
    params = fault.get("params") or {}
    if fault.get("kind") == "network":
        return str(params.get("toxic"))
    if fault.get("kind") == "partition":
        return "partition"
    return str(params.get("action"))


def load_section(
    profile: LoadProfile,
    *,
    summary: Mapping[str, Any],
    series: Sequence[Mapping[str, Any]],
    fault_windows: Sequence[Mapping[str, Any]],
    recovery: Sequence[Mapping[str, Any]],
    thresholds: Sequence[Mapping[str, Any]],
    artifacts: Mapping[str, str],
) -> dict[str, Any]:
    """The ``load`` section of the result document."""
    return {
        "profile": {
            "name": profile.name,
            "workflow": profile.workflow,
            "shape": profile.shape.kind,
            "users": profile.users,
            "arrival_rate": profile.arrival_rate,
            "duration_s": profile.duration_s,
            # Every Locust worker, those started here and those on other hosts.
            "distributed": {
                "workers": profile.distributed.workers + profile.distributed.remote_workers
            },
        },
        "summary": dict(summary),
        "series": [dict(row) for row in series],
        "fault_windows": [dict(w) for w in fault_windows],
        "recovery": [dict(r) for r in recovery],
        "thresholds": [dict(t) for t in thresholds],
        "artifacts": dict(artifacts),
    }

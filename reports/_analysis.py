"""pandas analysis of a result: a frame of its runs, and the summary every renderer shows.

The runs frame is built like a structlog processor chain: a base frame with one row per run, then
a list of plain ``DataFrame -> DataFrame`` functions (:data:`RUN_FRAME_STEPS`) applied in order.
Pass your own list to :func:`runs_frame` to add columns; each step returns a new frame and leaves
its input alone.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from typing import Final, TypedDict

import pandas as pd

from ._schema import GOOD_RUN_STATES, ResilienceResult

FrameStep = Callable[[pd.DataFrame], pd.DataFrame]
"""One step of the runs pipeline: takes the frame so far, returns a new one."""

_BASE_COLUMNS: Final = {
    "run_id": "object",
    "workflow": "object",
    "state": "object",
    "started_at": "float64",
    "ended_at": "float64",
    "attempts": "int64",
}


class Summary(TypedDict):
    """The numbers every report shows; plain Python values, ready for JSON.

    Rates are fractions in 0..1 and durations are seconds; both are None when there is nothing to
    measure (no runs, or no finished run). Percentiles interpolate linearly between runs.
    """

    runs_total: int
    runs_by_state: dict[str, int]
    runs_unfinished: int
    completion_rate: float | None
    good_rate: float | None
    attempts_total: int
    duration_p50_s: float | None
    duration_p95_s: float | None
    duration_max_s: float | None
    anomalies_total: int
    anomalies_by_kind: dict[str, int]
    faults_total: int
    faults_by_kind: dict[str, int]


def _base_frame(result: ResilienceResult) -> pd.DataFrame:
    columns = {
        name: pd.Series([getattr(run, name) for run in result.runs], dtype=dtype)
        for name, dtype in _BASE_COLUMNS.items()
    }
    return pd.DataFrame(columns)


def add_duration(frame: pd.DataFrame) -> pd.DataFrame:
    """Add ``duration_s``: seconds from start to end, NaN for a run that has not ended."""
    return frame.assign(duration_s=frame["ended_at"] - frame["started_at"])


def add_outcome(frame: pd.DataFrame) -> pd.DataFrame:
    """Add booleans ``finished``, ``completed`` and ``good`` (completed or cleanly rolled back)."""
    return frame.assign(
        finished=frame["ended_at"].notna(),
        completed=frame["state"] == "completed",
        good=frame["state"].isin(sorted(GOOD_RUN_STATES)),
    )


def sort_by_start(frame: pd.DataFrame) -> pd.DataFrame:
    """Order the runs by start time (then run id, so ties are stable) and renumber the rows."""
    return frame.sort_values(["started_at", "run_id"], kind="stable").reset_index(drop=True)


RUN_FRAME_STEPS: Final[tuple[FrameStep, ...]] = (add_duration, add_outcome, sort_by_start)
"""The default runs pipeline: :func:`add_duration`, :func:`add_outcome`, :func:`sort_by_start`."""


def runs_frame(
    result: ResilienceResult, steps: Sequence[FrameStep] = RUN_FRAME_STEPS
) -> pd.DataFrame:
    """One row per run of ``result``, passed through ``steps`` in order.

    With the default steps the columns are ``run_id``, ``workflow``, ``state``, ``started_at``,
    ``ended_at``, ``attempts``, ``duration_s``, ``finished``, ``completed`` and ``good``.
    """
    frame = _base_frame(result)
    for step in steps:
        frame = step(frame)
    return frame


def _rate(flags: pd.Series) -> float | None:
    return float(flags.mean()) if len(flags) else None


def _quantile(values: pd.Series, q: float) -> float | None:
    return float(values.quantile(q)) if len(values) else None


def summary(result: ResilienceResult) -> Summary:
    """The headline numbers of ``result``: runs by state, completion, durations, anomalies, faults.

    ``completion_rate`` counts runs that completed; ``good_rate`` also counts runs that were
    rolled back cleanly (see ``GOOD_RUN_STATES``). Durations are over finished runs only.
    """
    frame = runs_frame(result)
    durations = frame["duration_s"].dropna()
    by_state = Counter(str(state) for state in frame["state"])
    anomaly_kinds = Counter(a.kind for a in result.anomalies)
    fault_kinds = Counter(f.kind for f in result.faults)
    return Summary(
        runs_total=len(frame),
        runs_by_state=dict(sorted(by_state.items())),
        runs_unfinished=int((~frame["finished"]).sum()),
        completion_rate=_rate(frame["completed"]),
        good_rate=_rate(frame["good"]),
        attempts_total=int(frame["attempts"].sum()),
        duration_p50_s=_quantile(durations, 0.50),
        duration_p95_s=_quantile(durations, 0.95),
        duration_max_s=float(durations.max()) if len(durations) else None,
        anomalies_total=len(result.anomalies),
        anomalies_by_kind=dict(sorted(anomaly_kinds.items())),
        faults_total=len(result.faults),
        faults_by_kind=dict(sorted(fault_kinds.items())),
    )

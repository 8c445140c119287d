"""pandas analysis of a result: frames of its runs, events, steps, faults and load samples.

Each frame is built like a structlog processor chain: a base frame, then plain
``DataFrame -> DataFrame`` functions applied in order (:data:`RUN_FRAME_STEPS` for runs). Pass
your own list to :func:`runs_frame` to add columns; each step returns a new frame and leaves its
input alone. :func:`step_stats` and :func:`run_stats` are such functions over an events frame,
which is how the composition root fills a result's ``steps`` from a history.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Final, TypedDict

import pandas as pd

from ._schema import ResilienceResult

FrameStep = Callable[[pd.DataFrame], pd.DataFrame]
"""One step of a frame pipeline: takes the frame so far, returns a new one."""

_RUN_COLUMNS: Final = {
    "run_id": "object",
    "case": "object",
    "workflow": "object",
    "state": "object",
    "outcome": "object",
    "start_s": "float64",
    "end_s": "float64",
    "attempts": "int64",
}

EVENT_COLUMNS: Final = {
    "case": "object",
    "seq": "int64",
    "run_id": "object",
    "workflow": "object",
    "step": "object",
    "kind": "object",
    "attempt": "int64",
    "worker_id": "object",
    "t": "float64",
    "detail": "object",
}
"""The columns of an events frame (``detail`` as a JSON string), as written to Parquet."""


class Summary(TypedDict):
    """The numbers every report shows; plain Python values, ready for JSON.

    Rates are fractions in 0..1 and durations are seconds; both are None when there is nothing to
    measure (no runs, or no finished run). Percentiles interpolate linearly between runs.
    """

    cases_total: int
    runs_total: int
    runs_by_outcome: dict[str, int]
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
        for name, dtype in _RUN_COLUMNS.items()
    }
    return pd.DataFrame(columns)


def add_duration(frame: pd.DataFrame) -> pd.DataFrame:
    """Add ``duration_s``: seconds from start to end, NaN for a run that has not ended."""
    return frame.assign(duration_s=frame["end_s"] - frame["start_s"])


def add_outcome_flags(frame: pd.DataFrame) -> pd.DataFrame:
    """Add booleans ``finished``, ``completed`` and ``good`` (completed or cleanly rolled back)."""
    return frame.assign(
        finished=frame["outcome"] != "unfinished",
        completed=frame["outcome"] == "completed",
        good=frame["outcome"].isin(["completed", "rolled_back"]),
    )


def sort_by_start(frame: pd.DataFrame) -> pd.DataFrame:
    """Order the runs by case, then start time, then run id, and renumber the rows."""
    keyed = frame.assign(_case=frame["case"].fillna(""))
    ordered = keyed.sort_values(["_case", "start_s", "run_id"], kind="stable")
    return ordered.drop(columns="_case").reset_index(drop=True)


RUN_FRAME_STEPS: Final[tuple[FrameStep, ...]] = (add_duration, add_outcome_flags, sort_by_start)
"""The default runs pipeline: :func:`add_duration`, :func:`add_outcome_flags`,
:func:`sort_by_start`."""


def runs_frame(
    result: ResilienceResult, steps: Sequence[FrameStep] = RUN_FRAME_STEPS
) -> pd.DataFrame:
    """One row per run of ``result``, passed through ``steps`` in order.

    With the default steps the columns are ``run_id``, ``case``, ``workflow``, ``state``,
    ``outcome``, ``start_s``, ``end_s``, ``attempts``, ``duration_s``, ``finished``,
    ``completed`` and ``good``.
    """
    frame = _base_frame(result)
    for step in steps:
        frame = step(frame)
    return frame


def events_frame(events: Iterable[dict[str, Any]]) -> pd.DataFrame:
    """An events frame from plain event dicts (keys of :data:`EVENT_COLUMNS`; missing: None).

    ``detail`` may be a mapping; it is kept as a JSON string, so the frame writes to Parquet.
    """
    rows = []
    for event in events:
        row = {name: event.get(name) for name in EVENT_COLUMNS}
        if not isinstance(row["detail"], str):
            row["detail"] = json.dumps(row["detail"] or {}, sort_keys=True, default=str)
        row["attempt"] = row["attempt"] or 0
        rows.append(row)
    frame = pd.DataFrame(rows, columns=list(EVENT_COLUMNS))
    return frame.astype(EVENT_COLUMNS)


def _claims(events: pd.DataFrame, kind: str) -> pd.DataFrame:
    return events[events["kind"] == kind]


def step_stats(events: pd.DataFrame) -> pd.DataFrame:
    """One row per (workflow, step) of an events frame: how the step fared over every run.

    Columns ``workflow``, ``step``, ``runs`` (runs that claimed it), ``attempts`` (claims),
    ``retries`` (claims beyond each run's first: retries after an error and reclaims after a
    crash), ``failures`` (``step_failed``), ``compensations`` (``step_compensated``) and
    ``compensation_failures`` (``compensation_failed``). Event kinds are read as strings.
    """
    stepped = events[events["step"].notna()]
    keys = ["workflow", "step"]
    claims = _claims(stepped, "step_claimed")
    runs = claims.drop_duplicates(["case", "run_id", *keys]).groupby(keys).size()
    counts = {
        "attempts": claims.groupby(keys).size(),
        "failures": _claims(stepped, "step_failed").groupby(keys).size(),
        "compensations": _claims(stepped, "step_compensated").groupby(keys).size(),
        "compensation_failures": _claims(stepped, "compensation_failed").groupby(keys).size(),
    }
    index = stepped.drop_duplicates(keys).set_index(keys).index
    frame = pd.DataFrame(index=index)
    frame["runs"] = runs.reindex(index, fill_value=0)
    for name, series in counts.items():
        frame[name] = series.reindex(index, fill_value=0)
    frame["retries"] = frame["attempts"] - frame["runs"]
    columns = ["runs", "attempts", "retries", "failures", "compensations", "compensation_failures"]
    return frame[columns].astype("int64").reset_index()


def run_stats(events: pd.DataFrame) -> pd.DataFrame:
    """One row per (case, run_id) of an events frame: ``attempts`` (step and compensation
    claims), ``retries`` (claims beyond each step's first), ``compensations`` and ``error`` (the
    last ``error`` a failing step logged, or None)."""
    keys = ["case", "run_id"]
    keyed = events.assign(case=events["case"].fillna(""))
    index = keyed.drop_duplicates(keys).set_index(keys).index
    claims = keyed[keyed["kind"].isin(["step_claimed", "compensation_claimed"])]
    forward = keyed[keyed["kind"] == "step_claimed"]
    frame = pd.DataFrame(index=index)
    frame["attempts"] = claims.groupby(keys).size().reindex(index, fill_value=0)
    frame["retries"] = (
        forward.groupby(keys).size() - forward.groupby(keys)["step"].nunique()
    ).reindex(index, fill_value=0)
    frame["compensations"] = (
        _claims(keyed, "step_compensated").groupby(keys).size().reindex(index, fill_value=0)
    )
    failed = keyed[keyed["kind"].isin(["step_failed", "compensation_failed"])]
    failed = failed.assign(
        error=pd.Series([_error_of(d) for d in failed["detail"]], index=failed.index, dtype=object)
    )
    last_error = failed.dropna(subset=["error"]).groupby(keys)["error"].last()
    frame["error"] = last_error.reindex(index).astype("object")
    frame = frame.astype({"attempts": "int64", "retries": "int64", "compensations": "int64"})
    frame = frame.reset_index()
    for name in ("case", "error"):
        column = frame[name].astype("object")
        frame[name] = column.where(column.notna() & (column != ""), None)
    return frame


def _error_of(detail: str) -> str | None:
    try:
        error = json.loads(detail).get("error")
    except (ValueError, AttributeError):
        return None
    return None if error is None else str(error)


def faults_frame(result: ResilienceResult) -> pd.DataFrame:
    """One row per fault on the timeline: ``kind``, ``target``, ``case``, ``shape``,
    ``start_s``, ``end_s`` (NaN when never healed) and ``run_id``."""
    columns = ["kind", "target", "case", "shape", "start_s", "end_s", "run_id"]
    rows = [{name: getattr(fault, name) for name in columns} for fault in result.faults]
    frame = pd.DataFrame(rows, columns=columns)
    return frame.astype({"start_s": "float64", "end_s": "float64"})


def load_frame(result: ResilienceResult) -> pd.DataFrame:
    """One row per second of the load run (``load.series``); empty without a load section.

    Unmeasured figures are NaN; ``throughput_per_s`` adds completed runs per second of each row.
    """
    samples = result.load.series if result.load is not None else ()
    frame = pd.DataFrame([sample.model_dump() for sample in samples])
    if frame.empty:
        return frame
    frame = frame.astype("float64").sort_values("t", kind="stable").reset_index(drop=True)
    spans = frame["t"].diff().fillna(frame["t"].iloc[0] if frame["t"].iloc[0] > 0 else 1.0)
    return frame.assign(throughput_per_s=frame["completed"] / spans.where(spans > 0, 1.0))


def _rate(flags: pd.Series) -> float | None:
    return float(flags.mean()) if len(flags) else None


def _quantile(values: pd.Series, q: float) -> float | None:
    return float(values.quantile(q)) if len(values) else None


def summary(result: ResilienceResult) -> Summary:
    """The headline numbers of ``result``: runs by outcome and state, durations, anomalies, faults.

    ``completion_rate`` counts runs that completed; ``good_rate`` also counts runs that were
    rolled back cleanly. Durations are over finished runs only.
    """
    frame = runs_frame(result)
    durations = frame["duration_s"].dropna()
    return Summary(
        cases_total=len(result.cases),
        runs_total=len(frame),
        runs_by_outcome=dict(sorted(Counter(str(o) for o in frame["outcome"]).items())),
        runs_by_state=dict(sorted(Counter(str(s) for s in frame["state"]).items())),
        runs_unfinished=int((~frame["finished"]).sum()),
        completion_rate=_rate(frame["completed"]),
        good_rate=_rate(frame["good"]),
        attempts_total=int(frame["attempts"].sum()),
        duration_p50_s=_quantile(durations, 0.50),
        duration_p95_s=_quantile(durations, 0.95),
        duration_max_s=float(durations.max()) if len(durations) else None,
        anomalies_total=len(result.anomalies),
        anomalies_by_kind=dict(sorted(Counter(a.kind for a in result.anomalies).items())),
        faults_total=len(result.faults),
        faults_by_kind=dict(sorted(Counter(f.kind for f in result.faults).items())),
    )

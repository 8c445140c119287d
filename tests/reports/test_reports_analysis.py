"""The frames (runs, events, steps, faults, load samples) and the summary, checked by hand."""

from __future__ import annotations

import json
from typing import Any

import pandas as pd
import pytest

from reports import (
    RUN_FRAME_STEPS,
    ResilienceResult,
    events_frame,
    faults_frame,
    load_frame,
    run_stats,
    runs_frame,
    step_stats,
    summary,
)
from tests.reports._builders import make_result, run


def test_runs_frame_has_one_row_per_run_with_durations(sample: ResilienceResult) -> None:
    frame = runs_frame(sample)
    assert list(frame["run_id"]) == ["run-1", "run-2", "run-3"]
    assert list(frame["duration_s"][:2]) == [2.0, 3.0]
    assert pd.isna(frame["duration_s"].iloc[2])  # still running
    assert list(frame["finished"]) == [True, True, False]
    assert list(frame["completed"]) == [True, False, False]
    assert list(frame["good"]) == [True, False, False]


def test_runs_frame_sorts_by_case_then_start_then_run_id() -> None:
    result = make_result(
        runs=(
            run("b", "completed", 5.0, 6.0),
            run("z", "completed", 1.0, 2.0),
            run("a", "completed", 5.0, 9.0),
        )
    )
    frame = runs_frame(result)
    assert list(frame["run_id"]) == ["z", "a", "b"]
    assert list(frame.index) == [0, 1, 2]


def test_runs_frame_runs_the_steps_given_in_order(sample: ResilienceResult) -> None:
    seen: list[list[str]] = []

    def record_columns(frame: pd.DataFrame) -> pd.DataFrame:
        seen.append(list(frame.columns))
        return frame

    def add_retries(frame: pd.DataFrame) -> pd.DataFrame:
        return frame.assign(retries=frame["attempts"] - 1)

    frame = runs_frame(sample, steps=(record_columns, *RUN_FRAME_STEPS, add_retries))
    assert "duration_s" not in seen[0]  # ran before the default steps
    assert list(frame["retries"]) == [1, 1, 1]


def log(*rows: tuple[str, str, str | None, str, int, dict[str, Any]]) -> pd.DataFrame:
    return events_frame(
        {
            "case": case,
            "seq": i + 1,
            "run_id": run_id,
            "workflow": "order",
            "step": step,
            "kind": kind,
            "attempt": attempt,
            "worker_id": "w",
            "t": float(i),
            "detail": detail,
        }
        for i, (case, run_id, step, kind, attempt, detail) in enumerate(rows)
    )


EVENTS = log(
    ("c1", "r1", "charge", "step_claimed", 1, {}),
    ("c1", "r1", "charge", "step_retry_scheduled", 1, {"error": "timeout"}),
    ("c1", "r1", "charge", "step_claimed", 2, {"reclaimed": False}),
    ("c1", "r1", "charge", "step_failed", 2, {"error": "card declined"}),
    ("c1", "r1", "reserve", "compensation_claimed", 1, {}),
    ("c1", "r1", "reserve", "step_compensated", 1, {}),
    ("c1", "r1", None, "run_compensated", 0, {}),
    # The same run id in another case is another run.
    ("c2", "r1", "charge", "step_claimed", 1, {}),
    ("c2", "r1", "charge", "step_completed", 1, {}),
)


def test_events_frame_keeps_details_as_json_for_parquet() -> None:
    assert list(EVENTS["seq"]) == list(range(1, 10))
    assert json.loads(EVENTS["detail"].iloc[3]) == {"error": "card declined"}
    assert EVENTS["t"].dtype == "float64" and EVENTS["attempt"].dtype == "int64"


def test_step_stats_by_hand() -> None:
    stats = step_stats(EVENTS).set_index("step")
    # charge: claimed by 2 runs (c1/r1, c2/r1) 3 times: 1 retry; failed once.
    assert stats.loc["charge"].to_dict() == {
        "workflow": "order",
        "runs": 2,
        "attempts": 3,
        "retries": 1,
        "failures": 1,
        "compensations": 0,
        "compensation_failures": 0,
    }
    assert stats.loc["reserve", "compensations"] == 1
    assert stats.loc["reserve", "attempts"] == 0


def test_run_stats_tell_runs_of_different_cases_apart() -> None:
    stats = run_stats(EVENTS).set_index("case")
    assert stats.loc["c1"].to_dict() == {
        "run_id": "r1",
        "attempts": 3,
        "retries": 1,
        "compensations": 1,
        "error": "card declined",
    }
    assert stats.loc["c2", "attempts"] == 1 and stats.loc["c2", "error"] is None


def test_faults_frame(sample: ResilienceResult) -> None:
    frame = faults_frame(sample)
    assert list(frame["shape"]) == ["point", "window", "open"]
    assert frame["end_s"].iloc[0] == frame["start_s"].iloc[0] == 1.5
    assert pd.isna(frame["end_s"].iloc[2])


def test_load_frame_is_per_second_with_nan_for_unmeasured(load_sample: ResilienceResult) -> None:
    frame = load_frame(load_sample)
    assert len(frame) == 30 and list(frame["t"][:3]) == [0.0, 1.0, 2.0]
    assert pd.isna(frame["e2e_p99_ms"].iloc[0])
    assert frame["throughput_per_s"].iloc[15] == 8.0  # completed in a 1-second row
    assert load_frame(make_result()).empty


def test_summary_numbers_by_hand() -> None:
    # Durations of the finished runs: 1, 2, 3, 4, 10 seconds.
    runs = (
        run("r1", "completed", 0.0, 1.0),
        run("r2", "completed", 0.0, 2.0),
        run("r3", "compensated", 1.0, 4.0),
        run("r4", "cancelled", 1.0, 5.0),
        run("r5", "compensation_failed", 0.0, 10.0),
        run("r6", "running", 3.0, None),
    )
    numbers = summary(make_result(runs=runs))
    assert numbers["runs_total"] == 6
    assert numbers["runs_by_outcome"] == {
        "completed": 2,
        "failed": 1,
        "rolled_back": 2,
        "unfinished": 1,
    }
    assert numbers["runs_by_state"]["compensation_failed"] == 1
    assert numbers["runs_unfinished"] == 1
    assert numbers["completion_rate"] == pytest.approx(2 / 6)
    assert numbers["good_rate"] == pytest.approx(4 / 6)
    assert numbers["attempts_total"] == 12
    assert numbers["duration_p50_s"] == pytest.approx(3.0)
    # Linear interpolation: position 0.95 * 4 = 3.8 between 4 and 10.
    assert numbers["duration_p95_s"] == pytest.approx(4 + 0.8 * 6)
    assert numbers["duration_max_s"] == 10.0


def test_summary_counts_anomalies_and_faults_by_kind(sample: ResilienceResult) -> None:
    numbers = summary(sample)
    assert numbers["anomalies_by_kind"] == {"duplicate_effect": 1, "missing_compensation": 1}
    assert numbers["faults_by_kind"] == {"crash": 1, "network": 1, "partition": 1}


def test_summary_of_nothing_says_none_rather_than_nan() -> None:
    numbers = summary(make_result(runs=(), invariants=(), faults=(), timeline=None))
    assert numbers["runs_total"] == 0
    assert numbers["completion_rate"] is None and numbers["good_rate"] is None
    assert numbers["duration_p50_s"] is None and numbers["duration_max_s"] is None


def test_summary_is_plain_python_ready_for_json(sample: ResilienceResult) -> None:
    numbers = summary(sample)
    assert json.loads(json.dumps(numbers)) == numbers
    assert type(numbers["runs_total"]) is int and type(numbers["completion_rate"]) is float

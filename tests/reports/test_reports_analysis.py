"""The runs frame pipeline and the summary, checked against numbers worked out by hand."""

from __future__ import annotations

import json
from typing import Any

import pandas as pd
import pytest

from reports import RUN_FRAME_STEPS, ResilienceResult, runs_frame, summary


def test_runs_frame_has_one_row_per_run_with_durations(sample: ResilienceResult) -> None:
    frame = runs_frame(sample)
    assert list(frame["run_id"]) == ["run-1", "run-2", "run-3"]
    assert frame["duration_s"].iloc[0] == 2.0
    assert frame["duration_s"].iloc[1] == 3.0
    assert pd.isna(frame["duration_s"].iloc[2])  # still running
    assert list(frame["finished"]) == [True, True, False]
    assert list(frame["completed"]) == [True, False, False]
    assert list(frame["good"]) == [True, False, False]


def test_runs_frame_sorts_by_start_then_run_id(make: Any) -> None:
    result = make.result(
        runs=(
            make.run("b", "completed", 5.0, 6.0),
            make.run("z", "completed", 1.0, 2.0),
            make.run("a", "completed", 5.0, 9.0),
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


def test_runs_frame_with_no_steps_is_the_base_frame(sample: ResilienceResult) -> None:
    frame = runs_frame(sample, steps=())
    assert list(frame.columns) == [
        "run_id",
        "workflow",
        "state",
        "started_at",
        "ended_at",
        "attempts",
    ]


def test_summary_numbers_by_hand(make: Any) -> None:
    # Durations of the finished runs: 1, 2, 3, 4, 10 seconds.
    runs = (
        make.run("r1", "completed", 0.0, 1.0),
        make.run("r2", "completed", 0.0, 2.0),
        make.run("r3", "rolled_back", 1.0, 4.0),
        make.run("r4", "cancelled", 1.0, 5.0),
        make.run("r5", "compensation_failed", 0.0, 10.0),
        make.run("r6", "running", 3.0, None),
    )
    numbers = summary(make.result(runs=runs))
    assert numbers["runs_total"] == 6
    assert numbers["runs_by_state"] == {
        "cancelled": 1,
        "rolled_back": 1,
        "compensation_failed": 1,
        "completed": 2,
        "running": 1,
    }
    assert numbers["runs_unfinished"] == 1
    assert numbers["completion_rate"] == pytest.approx(2 / 6)
    assert numbers["good_rate"] == pytest.approx(4 / 6)  # completed, rolled_back, cancelled
    assert numbers["attempts_total"] == 12
    assert numbers["duration_p50_s"] == pytest.approx(3.0)
    # Linear interpolation: position 0.95 * 4 = 3.8 between 4 and 10.
    assert numbers["duration_p95_s"] == pytest.approx(4 + 0.8 * 6)
    assert numbers["duration_max_s"] == 10.0


def test_summary_counts_anomalies_and_faults_by_kind(sample: ResilienceResult) -> None:
    numbers = summary(sample)
    assert numbers["anomalies_total"] == 2
    assert numbers["anomalies_by_kind"] == {"duplicate_effect": 1, "missing_compensation": 1}
    assert numbers["faults_total"] == 2
    assert numbers["faults_by_kind"] == {"crash": 1, "partition": 1}


def test_summary_of_nothing_says_none_rather_than_nan(make: Any) -> None:
    numbers = summary(make.result(runs=(), checkers=(), faults=()))
    assert numbers["runs_total"] == 0
    assert numbers["completion_rate"] is None
    assert numbers["good_rate"] is None
    assert numbers["duration_p50_s"] is None
    assert numbers["duration_max_s"] is None
    assert numbers["anomalies_by_kind"] == {}


def test_summary_is_plain_python_ready_for_json(sample: ResilienceResult) -> None:
    numbers = summary(sample)
    assert json.loads(json.dumps(numbers)) == numbers
    for key in ("runs_total", "attempts_total", "runs_unfinished"):
        assert type(numbers[key]) is int  # type: ignore[literal-required]
    assert type(numbers["completion_rate"]) is float

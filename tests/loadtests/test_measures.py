"""The figures of a load run from hand-made samples: per second, overall, thresholds, section."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import yaml

from loadtests import (
    METRICS,
    error_counts,
    evaluate_thresholds,
    load_profile,
    load_section,
    observed_metrics,
    per_second,
    samples_frame,
    series_rows,
    store_figures,
    summarise,
    users_frame,
    window_p99,
)
from tests.loadtests._records import ORIGIN, record, run

SAMPLES: list[dict[str, Any]] = [
    run(0.5, 200),
    run(0.9, 400),
    run(1.2, 300, outcome="rolled_back"),
    run(1.8, 5000, outcome="failed"),
    {
        **run(2.5, 100),
        "outcome": "unfinished",
        "errors": {"follow_http_503": 2},
        "error_at": [ORIGIN + 2.45, ORIGIN + 3.2],
    },
    {
        "intended": ORIGIN + 2.0,
        "start": ORIGIN + 2.0,
        "end": ORIGIN + 2.1,
        "errors": {},
        "outcome": "submit_error",
        "error": "submit_http_503",
    },
    {
        "intended": ORIGIN + 2.9,
        "start": ORIGIN + 2.9,
        "end": ORIGIN + 2.95,
        "errors": {},
        "outcome": "interrupted",
    },
    {"outcome": "dropped", "count": 3, "end": ORIGIN + 1.5},
]


def frames() -> tuple[Any, Any]:
    rec = record(SAMPLES, stopped=4.0)
    samples = samples_frame(rec)
    return samples, per_second(samples, users_frame(rec), until_s=4.0)


def test_each_second_counts_what_happened_in_it_alone() -> None:
    _, series = frames()
    rows = series_rows(series)
    assert [r["t"] for r in rows] == [0.0, 1.0, 2.0, 3.0]
    assert [r["users"] for r in rows] == [0, 10, 10, 10]
    assert [r["completed"] for r in rows] == [2, 0, 0, 0]
    # failed at 1.8; at 2, a submission's 503, an unfinished run and a failed poll; a poll at 3.2
    assert [r["errors"] for r in rows] == [0, 1, 3, 1]
    assert rows[0]["e2e_p50_ms"] == pytest.approx(300.0)
    assert rows[1]["e2e_p99_ms"] == pytest.approx(300 + 0.99 * 4700)  # rolled back and failed
    assert rows[2]["e2e_p50_ms"] is None and rows[3]["submit_p99_ms"] is None
    assert json.dumps(rows, allow_nan=False)  # JSON-ready: no NaN anywhere


def test_the_summary_counts_outcomes_of_acknowledged_runs_only() -> None:
    samples, _ = frames()
    summary = summarise(
        samples,
        error_counts(SAMPLES),
        duration_s=2.0,
        store={"retry_amplification": 1.5, "compensation_rate": 0.25},
    )
    assert {k: summary[k] for k in ("submitted", "completed", "rolled_back", "failed")} == {
        "submitted": 5,
        "completed": 2,
        "rolled_back": 1,
        "failed": 1,
    }
    assert summary["unfinished"] == 1
    assert summary["completion_rate"] == pytest.approx(0.4)
    assert summary["throughput_submitted_per_s"] == pytest.approx(2.5)
    assert summary["throughput_completed_per_s"] == pytest.approx(1.0)
    assert summary["e2e_latency_ms"]["max"] == pytest.approx(5000.0)
    assert summary["e2e_latency_ms"]["p50"] == pytest.approx(350.0)  # 200, 300, 400, 5000
    assert summary["submit_latency_ms"]["p50"] == pytest.approx(10.0)
    assert summary["dropped_iterations"] == 3
    assert summary["errors"] == {
        "follow_http_503": 2,
        "run_failed": 1,
        "run_unfinished": 1,
        "submit_http_503": 1,
    }
    assert summary["retry_amplification"] == 1.5


def test_nothing_measured_is_none_not_zero() -> None:
    rec = record([], stopped=2.0)
    samples = samples_frame(rec)
    summary = summarise(samples, {}, duration_s=2.0, store=store_figures([], [], []))
    assert summary["completion_rate"] is None
    assert summary["e2e_latency_ms"] == {"p50": None, "p95": None, "p99": None, "max": None}
    assert summary["retry_amplification"] is None and summary["compensation_rate"] is None
    assert window_p99(samples, 0, 2) is None


def test_a_window_takes_the_runs_that_ended_in_it_or_were_meant_to_start_in_it() -> None:
    samples, _ = frames()
    # Ended in [1, 2): the rolled-back run (300 ms) and the failed one (5000 ms).
    assert window_p99(samples, 1.0, 2.0) == pytest.approx(300 + 0.99 * 4700)
    # Meant to start in [0, 1): the completed runs (at 0.3 and 0.5 s) and the rolled-back one
    # (0.9 s): 200, 400 and 300 ms; the failed run was meant to start at -3.2 s.
    assert window_p99(samples, 0.0, 1.0, by="start") == pytest.approx(300 + 0.98 * 100)


def test_retry_amplification_and_compensation_rate_come_from_the_store() -> None:
    def claim(run_id: str, step: str) -> SimpleNamespace:
        return SimpleNamespace(kind="step_claimed", run_id=run_id, step=step)

    events = [
        *(claim("a", "s1"), claim("a", "s1"), claim("a", "s2"), claim("b", "s1")),
        claim("other", "s1"),
        SimpleNamespace(kind="step_completed", run_id="a", step="s1"),
    ]
    runs = [
        SimpleNamespace(run_id="a", state="completed", terminal=True),
        SimpleNamespace(run_id="b", state="compensated", terminal=True),
        SimpleNamespace(run_id="c", state="running", terminal=False),
        SimpleNamespace(run_id="other", state="compensated", terminal=True),
    ]
    figures = store_figures(events, runs, ["a", "b", "c"])
    assert figures == {"retry_amplification": pytest.approx(4 / 3), "compensation_rate": 0.5}


def test_thresholds_pass_fail_and_fail_when_nothing_was_measured(tmp_path: Path) -> None:
    path = tmp_path / "p.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "workflow": "examples.order_saga:order_saga",
                "inputs": [{}],
                "shape": "steady",
                "users": 1,
                "duration_s": 10,
                "faults": [
                    {
                        "kind": "process",
                        "target": "worker-0",
                        "trigger": {"at": 5},
                        "params": {"action": "sigkill"},
                    }
                ],
                "thresholds": {
                    "completion_rate": ">= 0.5",
                    "e2e_p99_ms": "< 1000",
                    "time_to_recover_s": "< 10",
                    "errors": "<= 0",
                },
            },
            sort_keys=False,
        )
    )
    profile = load_profile(path)
    samples, _ = frames()
    summary = summarise(samples, error_counts(SAMPLES), duration_s=2.0, store={})
    recovery = [{"time_to_recover_s": None, "recovered": False}]
    observed = observed_metrics(summary, recovery)
    assert set(observed) == set(METRICS)
    results = evaluate_thresholds(profile.thresholds, observed)
    assert [(r["metric"], r["passed"]) for r in results] == [
        ("completion_rate", False),  # 0.4
        ("e2e_p99_ms", False),  # ~4860
        ("time_to_recover_s", False),  # never recovered: nothing shows it held
        ("errors", False),
    ]
    assert results[2]["observed"] is None
    recovered = observed_metrics(summary, [{"time_to_recover_s": 2.0}, {"time_to_recover_s": 3.5}])
    assert recovered["time_to_recover_s"] == 3.5


def test_the_load_section_has_the_agreed_shape(tmp_path: Path) -> None:
    path = tmp_path / "p.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "name": "n",
                "workflow": "examples.order_saga:order_saga",
                "inputs": [{}],
                "shape": "arrival_rate",
                "arrival_rate": 5,
                "users": 10,
                "duration_s": 10,
            }
        )
    )
    profile = load_profile(path)
    samples, series = frames()
    summary = summarise(samples, {}, duration_s=2.0, store=store_figures([], [], []))
    section = load_section(
        profile,
        summary=summary,
        series=series_rows(series),
        fault_windows=[],
        recovery=[],
        thresholds=[],
        artifacts={"locust_csv_prefix": "locust", "locust_html": "locust.html"},
    )
    assert list(section) == [
        "profile",
        "summary",
        "series",
        "fault_windows",
        "recovery",
        "thresholds",
        "artifacts",
    ]
    assert section["profile"] == {
        "name": "n",
        "workflow": "examples.order_saga:order_saga",
        "shape": "arrival_rate",
        "users": 10,
        "arrival_rate": 5.0,
        "duration_s": 10.0,
        "distributed": {"workers": 0},
    }
    assert set(section["summary"]) == {
        "submitted",
        "completed",
        "rolled_back",
        "failed",
        "unfinished",
        "completion_rate",
        "throughput_submitted_per_s",
        "throughput_completed_per_s",
        "submit_latency_ms",
        "e2e_latency_ms",
        "errors",
        "retry_amplification",
        "compensation_rate",
        "dropped_iterations",
    }
    assert set(section["series"][0]) == {
        "t",
        "users",
        "submitted",
        "completed",
        "errors",
        "submit_p50_ms",
        "submit_p99_ms",
        "e2e_p50_ms",
        "e2e_p95_ms",
        "e2e_p99_ms",
    }
    json.dumps(section, allow_nan=False)


def test_importing_loadtests_stays_light_for_the_locust_processes() -> None:
    code = (
        "import sys, loadtests, loadtests._config, loadtests._shapes; "
        "print(sorted(m for m in ('pandas', 'matplotlib', 'orchestrator', 'locust', "
        "'sqlalchemy') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "[]", out.stderr

"""A real Locust run against a real HTTP server with worker threads, bounded in users and time."""

from __future__ import annotations

import signal
from pathlib import Path
from typing import Any

import pytest

import loadtests._runner
from loadtests import LoadProfile, LoadResult, LoadTestError, run_headless
from orchestrator import Orchestrator, RunState
from tests._servers import start_server

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.load
def test_locust_loads_the_http_api_and_the_workers_complete_orders(tmp_path: Path) -> None:
    db_url = f"sqlite:///{tmp_path / 'store.db'}"
    process, url = start_server(db_url, tmp_path / "effects.db", tmp_path, workers=2)
    try:
        result = run_headless(url, LoadProfile(users=5, spawn_rate=5, seconds=5), tmp_path / "lt")
    finally:
        process.terminate()
        code = process.wait(timeout=30)
    errors = (tmp_path / "server.err").read_text()
    assert code == -signal.SIGTERM, errors
    assert "Traceback" not in errors

    assert result.requests > 0
    assert result.failures == 0, (tmp_path / "lt" / "locust_failures.csv").read_text()
    assert result.exit_code == 0
    assert result.rps > 0
    assert result.average_ms > 0
    assert 0 <= result.median_ms <= result.p95_ms <= result.p99_ms
    assert result.stats_csv.exists()

    orchestrator = Orchestrator(db_url, create_schema=False)
    try:
        runs = orchestrator.runs()
    finally:
        orchestrator.store.dispose()
    assert runs, "Locust reported requests but no run reached the store"
    assert {run.workflow for run in runs} == {"order"}
    states = {run.state for run in runs}
    # Every address is deliverable: nothing rolls back, and the workers finished some orders.
    assert states <= {RunState.RUNNING, RunState.COMPLETED}, states
    assert sum(run.state == RunState.COMPLETED for run in runs) > 0


@pytest.mark.load
def test_an_unreachable_host_is_counted_as_failed_requests(tmp_path: Path) -> None:
    # Port 9 (discard) on loopback has no listener here: every request fails to connect.
    result = run_headless(
        "http://127.0.0.1:9", LoadProfile(users=1, spawn_rate=1, seconds=4), tmp_path
    )
    assert result.requests > 0
    assert result.failures == result.requests
    assert result.exit_code != 0


@pytest.mark.load
def test_a_locust_that_cannot_start_is_a_load_test_error_with_its_stderr(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    broken = tmp_path / "broken_locustfile.py"
    broken.write_text("raise RuntimeError('the locustfile is broken on purpose')\n")
    monkeypatch.setattr(loadtests._runner, "LOCUSTFILE", broken)
    with pytest.raises(LoadTestError, match=r"(?s)could not start.*broken on purpose"):
        run_headless(
            "http://127.0.0.1:9", LoadProfile(users=1, spawn_rate=1, seconds=1), tmp_path / "lt"
        )


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"users": 0}, r"users=0 is out of bounds"),
        ({"users": True}, r"users=True is not an int"),
        ({"spawn_rate": 0.0}, r"spawn_rate=0.0 must be a positive"),
        ({"seconds": 3601.0}, r"seconds=3601.0 is out of bounds"),
        ({"seconds": float("nan")}, r"seconds=nan is out of bounds"),
        ({"seconds": 2.5}, r"seconds=2.5 is not a whole number.*Pass 3"),
    ],
)
def test_load_profiles_are_checked_when_made(kwargs: dict[str, Any], message: str) -> None:
    settings: dict[str, Any] = {"users": 1, "spawn_rate": 1.0, "seconds": 5.0, **kwargs}
    with pytest.raises(ValueError, match=message):
        LoadProfile(**settings)


def test_a_stats_file_without_an_aggregated_row_is_a_load_test_error(tmp_path: Path) -> None:
    stats = tmp_path / "x_stats.csv"
    stats.write_text("Type,Name,Request Count\nGET,/runs,3\n")
    with pytest.raises(LoadTestError, match="no 'Aggregated' row"):
        LoadResult.from_stats_csv(stats)
    with pytest.raises(LoadTestError, match="Cannot read Locust's stats"):
        LoadResult.from_stats_csv(tmp_path / "missing.csv")


def test_a_non_http_host_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"host_url='127\.0\.0\.1:8080' is not an http"):
        run_headless("127.0.0.1:8080", LoadProfile(users=1, spawn_rate=1, seconds=1), tmp_path)

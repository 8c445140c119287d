"""Real load runs: ``chaosflow load`` with real Locust, the real API, real worker processes,
real Toxiproxy and PostgreSQL. Each is bounded (a few users, seconds of load) and asserts what
a broken load harness would get wrong, with generous bounds for a loaded machine."""

from __future__ import annotations

import csv
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from faults import free_port
from loadtests import CONFIG_ENV, LOCUSTFILE, window_p99
from scenarios import CHECKERS
from tests.load.conftest import ROOT, LoadRun, left_running, write_profile

pytestmark = [pytest.mark.load, pytest.mark.slow]


def test_a_short_run_measures_throughput_completions_and_end_to_end_latency(
    tmp_path: Path,
) -> None:
    profile = write_profile(tmp_path, users=5, duration_s=8)
    report = tmp_path / "report"
    done = subprocess.run(
        [sys.executable, "-m", "chaosflow", "load", str(profile), "--report", str(report)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    run = LoadRun(done.returncode, done.stdout, done.stderr, report)
    assert run.code == 0, run.out + run.err
    assert "Traceback" not in run.err
    assert "verdict: valid" in run.out
    summary = run.load["summary"]
    assert summary["throughput_submitted_per_s"] > 0
    assert summary["completed"] > 0
    assert summary["submitted"] == sum(
        summary[k] for k in ("completed", "rolled_back", "failed", "unfinished")
    )
    e2e = summary["e2e_latency_ms"]
    assert None not in e2e.values()
    assert 0 < e2e["p50"] <= e2e["p95"] <= e2e["p99"] <= e2e["max"]
    assert summary["submit_latency_ms"]["p50"] <= e2e["p50"]  # a run ends after it is accepted
    # One row per second of the run, and every acknowledged submission counted in one of them.
    series = run.load["series"]
    assert [row["t"] for row in series] == [float(t) for t in range(len(series))]
    assert len(series) >= 8
    assert sum(row["submitted"] for row in series) == summary["submitted"]
    # The checkers judged every run the load submitted, from the store and the ledger.
    assert run.checkers() == dict.fromkeys(CHECKERS, "valid")
    assert run.result["scenario"] == "load-test" and run.result["mode"] == "real"
    assert len(run.result["runs"]) >= summary["submitted"]
    # Locust's own outputs: full history CSV, HTML, and the run outcomes as request events.
    with (report / "locust_stats.csv").open() as file:
        rows = {(r["Type"], r["Name"]): r for r in csv.DictReader(file)}
    assert int(rows[("RUN", "completed")]["Request Count"]) > 0
    assert int(rows[("POST", "POST /runs")]["Request Count"]) > 0
    with (report / "locust_stats_history.csv").open() as file:
        history = list(csv.DictReader(file))
    assert {r["Name"] for r in history} >= {"POST /runs", "completed", "Aggregated"}
    assert "<html" in (report / "locust.html").read_text().lower()
    assert (report / "load.png").read_bytes().startswith(b"\x89PNG")
    assert (report / "report.html").exists() and (report / "junit.xml").exists()
    assert left_running(run) == []


def test_the_python_api_user_and_a_broken_threshold_exit_1(
    run_load: Callable[..., LoadRun], no_leftover_processes: None
) -> None:
    run = run_load(
        user="python",
        users=3,
        duration_s=5,
        thresholds={"e2e_p99_ms": "< 0.001", "completion_rate": "> 0"},
    )
    assert run.code == 1, run.out + run.err
    checkers = run.checkers()
    assert checkers.pop("thresholds") == "invalid"
    assert set(checkers.values()) == {"valid"}  # the invariants held; the threshold did not
    broken, held = run.load["thresholds"]
    assert broken["metric"] == "e2e_p99_ms" and broken["passed"] is False
    assert broken["observed"] > 0.001
    assert held["metric"] == "completion_rate" and held["passed"] is True
    assert "threshold e2e_p99_ms < 0.001" in run.out and "BROKEN" in run.out
    with (run.report / "locust_stats.csv").open() as file:
        names = {(r["Type"], r["Name"]) for r in csv.DictReader(file)}
    assert ("python", "submit") in names  # through the Python API, no HTTP request at all
    assert not any(kind.startswith(("POST", "GET")) for kind, _ in names)
    assert left_running(run) == []


@pytest.mark.postgres
@pytest.mark.toxiproxy
def test_a_database_latency_window_raises_p99_and_recovery_is_measured(
    run_load: Callable[..., LoadRun], fresh_postgres_url: str, no_leftover_processes: None
) -> None:
    start, length, duration = 8.0, 6.0, 26.0
    run = run_load(
        users=6,
        duration_s=duration,
        store={"url": fresh_postgres_url},
        faults=[
            {
                "kind": "network",
                "target": "store",
                "trigger": {"at": start},
                "duration": length,
                "params": {"toxic": "latency", "attributes": {"latency": 250}},
            }
        ],
        # A wide band, so that a loaded machine's noise after the heal still reads as recovered.
        recovery={"band": {"throughput": 0.5, "p99": 1.0}, "baseline_s": 5, "window_s": 3},
    )
    assert run.code == 0, run.out + run.err
    [window] = run.load["fault_windows"]
    assert (window["kind"], window["target"], window["action"]) == ("network", "store", "latency")
    assert start <= window["start_s"] < start + 2
    assert window["end_s"] - window["start_s"] == pytest.approx(length, abs=1.0)
    [fault] = run.result["faults"]
    assert (fault["start_s"], fault["end_s"]) == (window["start_s"], window["end_s"])
    assert fault["shape"] == "window"
    # Runs that ended before the window (the fault never touched them), against runs meant to
    # start inside it: 250 ms on every packet to PostgreSQL makes each of the latter slower.
    samples = run.samples()
    before = window_p99(samples, 2.0, window["start_s"], by="end")
    during = window_p99(samples, window["start_s"], window["end_s"], by="start")
    assert before is not None and during is not None
    assert during > 2 * before, (before, during)
    [recovery] = run.load["recovery"]
    assert recovery["recovered"] is True, run.out
    assert recovery["healed_at_s"] == window["end_s"]
    assert 0 <= recovery["time_to_recover_s"] < duration - window["end_s"]
    assert recovery["recovered_at_s"] == pytest.approx(
        window["end_s"] + recovery["time_to_recover_s"]
    )
    assert set(run.checkers().values()) == {"valid"}
    assert left_running(run) == []


def test_a_worker_sigkill_under_load_loses_no_acknowledged_run(
    run_load: Callable[..., LoadRun], no_leftover_processes: None
) -> None:
    def kill(slot: str, at: float) -> dict[str, Any]:
        return {
            "kind": "process",
            "target": slot,
            "trigger": {"at": at},
            "params": {"action": "sigkill"},
        }

    run = run_load(
        workflow="tests.load._workflows:slow_order",
        inputs={"generator": "tests.load._workflows:one_order"},
        users=6,
        duration_s=14,
        lease_s=2,
        drain_s=40,  # the runs queued behind two busy workers finish after the load
        faults=[kill("worker-0", 4.0), kill("worker-1", 7.0)],
    )
    assert run.code == 0, run.out + run.err
    summary = run.load["summary"]
    assert summary["submitted"] > 0 and summary["unfinished"] == 0
    assert summary["completed"] + summary["rolled_back"] == summary["submitted"]
    checkers = run.checkers()
    assert checkers["stuck_workflow"] == checkers["lost_workflow"] == "valid"
    assert set(checkers.values()) == {"valid"}
    assert [w["action"] for w in run.load["fault_windows"]] == ["sigkill", "sigkill"]
    # The kills landed inside steps: a step was claimed again once its lease expired, by a
    # replacement worker in the killed slot.
    assert any(r["attempts"] > 2 for r in run.result["runs"]), "no step was taken over"
    assert summary["retry_amplification"] > 1.0
    logs = {p.name for p in (run.report / "logs").glob("worker-*.log")}
    assert {"worker-0.2.log", "worker-1.2.log"} <= logs
    assert len(run.processes["workers"]) == 4
    assert left_running(run) == []


def test_distributed_mode_runs_the_profile_over_a_master_and_two_workers(
    run_load: Callable[..., LoadRun], tmp_path: Path, no_leftover_processes: None
) -> None:
    # One worker started by chaosflow, one by hand with the command docs/load.md gives for
    # another host: it has no config file and gets everything from the master.
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k != CONFIG_ENV and not k.startswith("LOCUST_")}
    command = [sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--worker"]
    command += ["--master-host", "127.0.0.1", "--master-port", str(port), "WorkflowUser"]
    log = (tmp_path / "remote-worker.log").open("wb")
    remote = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=log)
    rate, duration = 4.0, 8.0
    try:
        # The open model, so the workers must split the rate: each takes its share of it.
        run = run_load(
            shape="arrival_rate",
            arrival_rate=rate,
            users=12,
            duration_s=duration,
            distributed={"workers": 1, "remote_workers": 1, "port": port},
        )
    finally:
        remote.terminate()
        remote.wait(timeout=30)
        log.close()
    assert run.code == 0, run.out + run.err + (tmp_path / "remote-worker.log").read_text()
    assert run.load["profile"]["distributed"] == {"workers": 2}
    summary = run.load["summary"]
    assert summary["completed"] > 0
    # Every iteration due was started or dropped, and no more were due than the rate allows
    # (one more per worker for rounding): two workers each at the full rate would double it.
    due = summary["submitted"] + summary["dropped_iterations"]
    assert 0.5 * rate * duration <= due <= rate * duration + 2, summary
    master, local = run.processes["locust"]
    samples = run.samples()
    assert (samples["outcome"] == "completed").sum() == run.load["summary"]["completed"]
    ran = samples[samples["run_id"].notna()]
    assert set(ran["pid"]) == {local, remote.pid}  # both workers generated load
    assert master not in set(ran["pid"])
    meta = (run.report / "load_run.json").read_text()
    assert '"workers_reported": 2' in meta  # both workers' last samples reached the master
    assert left_running(run) == []


def _processes_of(marker: str) -> list[str]:
    """Live processes whose command line or working directory mentions ``marker``."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            cwd = os.readlink(entry / "cwd")
            status = (entry / "status").read_text()
        except OSError:
            continue
        if "State:\tZ" not in status and (marker in cmdline or cwd.startswith(marker)):
            found.append(f"{entry.name}: {cmdline[:120]}")
    return found


def test_sigterm_mid_load_stops_everything_it_started(tmp_path: Path) -> None:
    profile = write_profile(tmp_path, users=3, duration_s=120)
    report = tmp_path / "report"
    process = subprocess.Popen(
        [sys.executable, "-m", "chaosflow", "load", str(profile), "--report", str(report)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 120
        while not (report / "load_samples.jsonl").exists() and time.monotonic() < deadline:
            if (report / "load_started.json").exists() and len(_processes_of(str(tmp_path))) >= 4:
                break  # the API, two workers and Locust are up, and the load has begun
            if process.poll() is not None:
                break
            time.sleep(0.2)
        assert process.poll() is None, process.communicate()
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=90)
    finally:
        process.kill()
    assert process.returncode == 130, out + err
    assert "load interrupted; everything it started was stopped" in err
    assert "Traceback" not in err
    assert _processes_of(str(tmp_path)) == []

"""Hand-made results for the reports tests: small, every number chosen to be checked by hand."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from reports import (
    Anomaly,
    EventRecord,
    FaultRecord,
    InvariantResult,
    LoadSection,
    ResilienceResult,
    RunRecord,
    RunTimeline,
    StepStats,
    build_result,
    fault_shape,
)

STARTED_AT = "2024-05-01T12:00:00+00:00"
DATA = Path(__file__).parent / "data"
TOKEN = "cf1." + "eyJwbGFuIjp7ImZhdWx0cyI6W119LCJzZWVkIjo3fQ" * 12  # a long, realistic token


def event(seq: int, kind: str, step: str | None = "charge", **changes: Any) -> EventRecord:
    fields: dict[str, Any] = {
        "seq": seq,
        "run_id": "run-1",
        "step": step,
        "kind": kind,
        "attempt": 1 if kind.endswith("claimed") else 0,
        "worker_id": "worker-0",
        "t": seq * 0.1,
        "detail": {},
    }
    fields.update(changes)
    return EventRecord(**fields)


def anomaly(kind: str = "duplicate_effect", token: str | None = "tok-1", **changes: Any) -> Anomaly:
    fields: dict[str, Any] = {
        "kind": kind,
        "run_id": "run-1",
        "steps": ("charge",),
        "event_seqs": (3, 7),
        "replay_token": token,
        "replay_command": f"chaosflow replay {token}" if token else None,
        "detail": "charged twice for one order",
        "events": (event(3, "step_claimed"), event(7, "step_claimed", attempt=2)),
    }
    fields.update(changes)
    return Anomaly(**fields)


def invariant(name: str, verdict: str, *anomalies: Anomaly, note: str = "") -> InvariantResult:
    return InvariantResult(name=name, verdict=verdict, anomalies=anomalies, note=note)


OUTCOMES = {"completed": "completed", "compensated": "rolled_back", "cancelled": "rolled_back"}


def run(
    run_id: str,
    state: str,
    started: float = 0.0,
    ended: float | None = 1.0,
    **changes: Any,
) -> RunRecord:
    outcome = "unfinished" if ended is None else OUTCOMES.get(state, "failed")
    fields: dict[str, Any] = {
        "run_id": run_id,
        "workflow": "order",
        "state": state,
        "outcome": outcome,
        "start_s": started,
        "end_s": ended,
        "attempts": 2,
        "retries": 1,
        "compensations": 0,
    }
    fields.update(changes)
    return RunRecord(**fields)


def fault(kind: str = "crash", at: float = 1.0, healed: float | None = 2.0, **changes: Any):  # type: ignore[no-untyped-def]
    shape = fault_shape(kind, at, healed)
    fields: dict[str, Any] = {
        "kind": kind,
        "target": "worker-1",
        "shape": shape,
        "start_s": at,
        "end_s": at if shape == "point" else healed,
        "detail": "SIGKILL",
    }
    fields.update(changes)
    return FaultRecord(**fields)


def steps() -> tuple[StepStats, ...]:
    return (
        StepStats(
            workflow="order",
            step="reserve",
            runs=3,
            attempts=3,
            retries=0,
            failures=0,
            compensations=1,
            compensation_failures=1,
        ),
        StepStats(
            workflow="order",
            step="charge",
            runs=3,
            attempts=5,
            retries=2,
            failures=1,
            compensations=0,
            compensation_failures=0,
        ),
    )


def make_result(**changes: Any) -> ResilienceResult:
    fields: dict[str, Any] = {
        "scenario": "order-saga-crash",
        "mode": "sim",
        "seed": 7,
        "started_at": STARTED_AT,
        "duration_s": 10.0,
        "invariants": (
            invariant("effects_once", "invalid", anomaly("duplicate_effect", "tok-dup")),
            invariant(
                "compensations",
                "invalid",
                anomaly("missing_compensation", "tok-miss", run_id="run-2", steps=("reserve",)),
            ),
            invariant("progress", "valid"),
        ),
        "runs": (
            run("run-1", "completed", 0.0, 2.0),
            run("run-2", "compensation_failed", 1.0, 4.0),
            run("run-3", "running", 2.0, None),
        ),
        "steps": steps(),
        "faults": (
            fault("crash", 1.5, 1.5, run_id="run-1", after_seq=3),
            fault("network", 2.0, 3.0, target="payment"),
            fault("partition", 5.0, None),
        ),
        "timeline": RunTimeline(
            run_id="run-1",
            reason="the first failing run: duplicate_effect",
            events=(
                event(1, "run_submitted", None, attempt=0, t=0.0),
                event(3, "step_claimed"),
                event(7, "step_claimed", attempt=2),
                event(8, "step_completed"),
                event(9, "run_completed", None),
            ),
        ),
        "replay_command": "chaosflow replay tok-dup",
    }
    fields.update(changes)
    return build_result(**fields)


def load_section(**changes: Any) -> LoadSection:
    """A 30-second load run with a latency fault from 10 s to 20 s, recovered after 2 s."""
    series = []
    for t in range(30):
        faulty = 10 <= t < 20
        series.append(
            {
                "t": float(t),
                "users": min(10, t + 1),
                "submitted": 20,
                "completed": 8 if faulty else 19,
                "errors": 2 if faulty else 0,
                "submit_p50_ms": 4.0,
                "submit_p99_ms": 9.0,
                "e2e_p50_ms": 900.0 if faulty else 120.0,
                "e2e_p95_ms": 1500.0 if faulty else 200.0,
                "e2e_p99_ms": 1900.0 if faulty else 250.0,
            }
        )
    series[0]["e2e_p99_ms"] = None  # not measured in the first second: null, never 0
    data: dict[str, Any] = {
        "profile": {
            "name": "steady-10",
            "workflow": "examples.order_saga:order_saga",
            "shape": "steady",
            "users": 10,
            "arrival_rate": None,
            "duration_s": 30.0,
            "distributed": {"workers": 0},
        },
        "summary": {
            "submitted": 600,
            "completed": 460,
            "rolled_back": 20,
            "failed": 0,
            "unfinished": 0,
            "completion_rate": 460 / 600,
            "throughput_submitted_per_s": 20.0,
            "throughput_completed_per_s": 15.3,
            "submit_latency_ms": {"p50": 4.0, "p95": 8.0, "p99": 9.0, "max": 30.0},
            "e2e_latency_ms": {"p50": 130.0, "p95": 1400.0, "p99": 1850.0, "max": 2600.0},
            "errors": {"timeout": 20},
            "retry_amplification": 1.2,
            "compensation_rate": 0.033,
            "dropped_iterations": 0,
        },
        "series": series,
        "fault_windows": [
            {
                "index": 0,
                "kind": "network",
                "target": "store",
                "action": "latency",
                "start_s": 10.0,
                "end_s": 20.0,
                "params": {"latency": 500},
            }
        ],
        "recovery": [
            {
                "fault_index": 0,
                "healed_at_s": 20.0,
                "recovered": True,
                "recovered_at_s": 22.0,
                "time_to_recover_s": 2.0,
                "band": {"throughput": 0.2, "p99": 0.5},
            }
        ],
        "thresholds": [
            {"metric": "e2e_p99_ms", "op": "<", "value": 2000.0, "observed": 1850.0, "passed": True}
        ],
        "artifacts": {"locust_csv_prefix": "locust", "locust_html": "locust.html"},
    }
    data.update(changes)
    return LoadSection.model_validate(data)


def make_load_result(**changes: Any) -> ResilienceResult:
    fields: dict[str, Any] = {
        "scenario": "order-saga-load",
        "mode": "real",
        "seed": 0,
        "started_at": STARTED_AT,
        "duration_s": 31.0,
        "invariants": (
            invariant("duplicate_effect", "valid"),
            invariant("stuck_workflow", "valid"),
        ),
        "runs": tuple(run(f"load-{i}", "completed", i * 0.05, i * 0.05 + 0.2) for i in range(50)),
        "faults": (fault("network", 10.0, 20.0, target="store", detail="latency=500"),),
        "load": load_section(),
    }
    fields.update(changes)
    return build_result(**fields)


def the_four_results() -> dict[str, ResilienceResult]:
    """A valid, an invalid, an unknown and a load result, for tests of every renderer."""
    return {
        "valid": make_result(
            invariants=(invariant("effects_once", "valid"), invariant("progress", "valid")),
            runs=(run("run-1", "completed", 0.0, 2.0),),
            timeline=None,
            replay_command="chaosflow run shop/checkout.yaml --seed 7",
        ),
        "invalid": make_result(),
        "unknown": make_result(
            invariants=(invariant("progress", "unknown", note="history ended early"),),
        ),
        "load": make_load_result(),
    }

"""Hand-made results for the reports tests: small, every number chosen to be checked by hand."""

from __future__ import annotations

from typing import Any

import pytest

from reports import Anomaly, CheckerResult, FaultRecord, ResilienceResult, RunRecord

STARTED_AT = "2024-05-01T12:00:00+00:00"


def anomaly(kind: str = "duplicate_effect", token: str | None = "tok-1", **changes: Any) -> Anomaly:
    fields: dict[str, Any] = {
        "kind": kind,
        "run_id": "run-1",
        "steps": ("charge",),
        "event_seqs": (3, 7),
        "replay_token": token,
        "detail": "charged twice for one order",
    }
    fields.update(changes)
    return Anomaly(**fields)


def checker(name: str, verdict: str, *anomalies: Anomaly, note: str = "") -> CheckerResult:
    return CheckerResult(name=name, verdict=verdict, anomalies=anomalies, note=note)


def run(run_id: str, state: str, started: float = 0.0, ended: float | None = 1.0) -> RunRecord:
    return RunRecord(
        run_id=run_id, workflow="order", state=state, started_at=started, ended_at=ended, attempts=2
    )


def fault(kind: str = "crash", at: float = 1.0, healed: float | None = 2.0) -> FaultRecord:
    return FaultRecord(kind=kind, target="worker-1", at=at, healed_at=healed, detail="SIGKILL")


def build_result(**changes: Any) -> ResilienceResult:
    fields: dict[str, Any] = {
        "scenario": "order-saga-crash",
        "mode": "sim",
        "seed": 7,
        "started_at": STARTED_AT,
        "duration_s": 10.0,
        "checkers": (
            checker("effects_once", "invalid", anomaly("duplicate_effect", "tok-dup")),
            checker(
                "compensations",
                "invalid",
                anomaly("missing_compensation", "tok-miss", run_id="run-2", steps=("reserve",)),
            ),
            checker("progress", "valid"),
        ),
        "runs": (
            run("run-1", "completed", 0.0, 2.0),
            run("run-2", "compensation_failed", 1.0, 4.0),
            run("run-3", "running", 2.0, None),
        ),
        "faults": (fault("crash", 1.5, 3.0), fault("partition", 5.0, None)),
        "replay_command": "chaosflow demo --seed 7",
    }
    fields.update(changes)
    return ResilienceResult(**fields)


class Factory:
    """The builders above, handed to tests as the ``make`` fixture."""

    anomaly = staticmethod(anomaly)
    checker = staticmethod(checker)
    run = staticmethod(run)
    fault = staticmethod(fault)
    result = staticmethod(build_result)


@pytest.fixture
def make() -> Factory:
    """Builders for anomalies, checkers, runs, faults and whole results (any field replaced)."""
    return Factory()


@pytest.fixture
def sample() -> ResilienceResult:
    """Two invalid checkers (replay tokens tok-dup, tok-miss), one valid; 3 runs; 2 faults."""
    return build_result()

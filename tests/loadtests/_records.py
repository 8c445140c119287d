"""Hand-made load records: what the Locust users would have written, with known figures."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from loadtests import LoadRecord

ORIGIN = 1_000.0


def run(
    end: float, e2e_ms: float, *, outcome: str = "completed", submit_ms: float = 10.0
) -> dict[str, Any]:
    """One followed run that ended at ``end`` seconds into the load after ``e2e_ms``."""
    intended = ORIGIN + end - e2e_ms / 1000.0
    return {
        "intended": intended,
        "start": intended,
        "ack": intended + submit_ms / 1000.0,
        "end": ORIGIN + end,
        "run_id": f"r{end:.3f}-{outcome}",
        "outcome": outcome,
        "errors": {},
    }


def steady(
    start: int, stop: int, *, per_second: int, e2e_ms: float, outcome: str = "completed"
) -> list[dict[str, Any]]:
    """``per_second`` runs ending evenly in each second of ``[start, stop)``."""
    return [
        run(t + (k + 0.5) / per_second, e2e_ms, outcome=outcome)
        for t in range(start, stop)
        for k in range(per_second)
    ]


def record(samples: Iterable[dict[str, Any]], *, stopped: float = 40.0) -> LoadRecord:
    """A load record of ``samples`` with ten users from the first second."""
    return LoadRecord(
        origin=ORIGIN,
        stopped_at=ORIGIN + stopped,
        samples=list(samples),
        users=[(ORIGIN + t, 0 if t == 0 else 10) for t in range(int(stopped))],
        processes=1,
        workers_reported=None,
        exceptions=[],
    )

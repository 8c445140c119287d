"""Step faults, injected through the orchestrator's interceptors into a real run."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from faults import FaultPlanError, StepFault, StepFaultInjector
from orchestrator import (
    ManualClock,
    Orchestrator,
    RetryPolicy,
    RunState,
    Step,
    StepContext,
    Workflow,
)

FAST = RetryPolicy(max_attempts=4, initial_interval=0, max_interval=0)


class Service:
    def __init__(self) -> None:
        self.calls: list[tuple[str, int]] = []

    def call(self, ctx: StepContext) -> dict[str, Any]:
        self.calls.append((ctx.step, ctx.attempt))
        return {"ok": True}


def run_with(
    tmp_path: Path, *faults: StepFault, timeout: float | None = None
) -> tuple[Orchestrator, str, Service, StepFaultInjector]:
    svc = Service()
    wf = Workflow(
        "w",
        [
            Step(
                "pay",
                svc.call,
                retry=FAST,
                timeout=timeout,
                postcondition=lambda ctx, out: out.get("ok") is True,
            )
        ],
    )
    clock = ManualClock(100.0)
    orch = Orchestrator(f"sqlite:///{tmp_path / 's.db'}", clock=clock)
    injector = StepFaultInjector(list(faults), seed=1)
    orch.hooks.add_interceptor(injector)
    run_id = orch.submit(wf, {})
    orch.run_until_quiet(max_seconds=600)
    return orch, run_id, svc, injector


def test_transient_errors_on_the_first_attempts_then_success(tmp_path: Path) -> None:
    orch, run_id, svc, injector = run_with(tmp_path, StepFault("transient", "pay", attempts=2))
    assert orch.status(run_id).state == RunState.COMPLETED
    assert svc.calls == [("pay", 3)]
    assert [f.kind for f in injector.fired] == ["transient", "transient"]


def test_permanent_errors_exhaust_the_retries(tmp_path: Path) -> None:
    orch, run_id, svc, _ = run_with(tmp_path, StepFault("permanent", "pay"))
    assert orch.status(run_id).state == RunState.ROLLED_BACK
    assert svc.calls == []


def test_latency_moves_the_step_clock(tmp_path: Path) -> None:
    orch, run_id, _, _ = run_with(tmp_path, StepFault("latency", "pay", seconds=7.5))
    events = orch.events(run_id)
    claimed = next(e for e in events if e.kind == "step_claimed")
    completed = next(e for e in events if e.kind == "step_completed")
    assert completed.at - claimed.at >= 7.5


def test_hang_runs_past_the_timeout(tmp_path: Path) -> None:
    orch, run_id, _, _ = run_with(tmp_path, StepFault("hang", "pay", seconds=1.0), timeout=0.2)
    errors = [e.detail["error"] for e in orch.events(run_id) if "error" in e.detail]
    assert errors and all("StepTimeout" in e for e in errors)


def test_duplicate_delivery_runs_the_same_attempt_twice(tmp_path: Path) -> None:
    orch, run_id, svc, _ = run_with(tmp_path, StepFault("duplicate", "pay"))
    assert orch.status(run_id).state == RunState.COMPLETED
    assert svc.calls == [("pay", 1), ("pay", 1)]


def test_bad_output_breaks_the_postcondition(tmp_path: Path) -> None:
    orch, run_id, _, _ = run_with(tmp_path, StepFault("bad_output", "pay", output={"ok": "?"}))
    failed = [e for e in orch.events(run_id) if e.kind == "step_failed"]
    assert failed[0].detail["anomaly"] == "contract_violation"


def test_probability_is_seeded(tmp_path: Path) -> None:
    fault = StepFault("transient", attempts=100, probability=0.5)

    def pattern(seed: int) -> list[bool]:
        injector = StepFaultInjector([fault], seed=seed)
        out = []
        for attempt in range(1, 40):
            ctx = type(
                "C",
                (),
                {
                    "run_id": "r",
                    "step": "s",
                    "attempt": attempt,
                    "purpose": "action",
                    "clock": ManualClock(),
                },
            )()
            try:
                injector(ctx, lambda: None)
                out.append(False)
            except Exception:
                out.append(True)
        return out

    assert pattern(3) == pattern(3)
    assert pattern(3) != pattern(4)
    assert 5 < sum(pattern(3)) < 35


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"kind": "gremlin"}, r"kind='gremlin' is not known"),
        ({"kind": "latency", "seconds": -1}, r"seconds=-1 must not be negative"),
        ({"kind": "transient", "probability": 1.5}, r"probability=1.5 must be within 0..1"),
        ({"kind": "transient", "attempts": 0}, r"attempts=0 must be at least 1"),
        ({"kind": "permanent", "purpose": "lunch"}, r"purpose='lunch' must be"),
    ],
)
def test_invalid_step_faults(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(FaultPlanError, match=message):
        StepFault(**kwargs)

"""Pre- and postconditions, and interceptors around actions."""

from __future__ import annotations

import time
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

from orchestrator import (
    ManualClock,
    Orchestrator,
    RetryPolicy,
    RunState,
    Step,
    Workflow,
)
from tests.orchestrator.conftest import OrchestratorFactory


def orch_on(make_orchestrator: OrchestratorFactory) -> Orchestrator:
    return make_orchestrator(clock=ManualClock(0.0))


def test_broken_postcondition_fails_for_good_and_compensates(
    make_orchestrator: OrchestratorFactory,
) -> None:
    undone: list[str] = []
    wf = Workflow(
        "post",
        [
            Step("reserve", lambda ctx: {"qty": 1}, lambda ctx: undone.append("reserve")),
            Step(
                "charge",
                lambda ctx: {"amount": -5},
                lambda ctx: undone.append("charge"),
                after=("reserve",),
                postcondition=lambda ctx, out: out["amount"] > 0,
            ),
        ],
    )
    orch = orch_on(make_orchestrator)
    run_id = orch.submit(wf, {})
    orch.run_until_quiet(max_seconds=60)
    assert orch.status(run_id).state == RunState.ROLLED_BACK
    (failed,) = [e for e in orch.events(run_id) if e.kind == "step_failed"]
    assert failed.attempt == 1  # never retried
    assert failed.detail["anomaly"] == "contract_violation"
    assert (
        "Postcondition of step 'charge' does not hold for its output {'amount': -5}"
        in (failed.detail["error"])
    )
    assert undone == ["charge", "reserve"]


def test_broken_precondition_stops_the_action(make_orchestrator: OrchestratorFactory) -> None:
    ran: list[str] = []
    wf = Workflow(
        "pre",
        [
            Step(
                "ship",
                lambda ctx: ran.append("ship"),
                precondition=lambda ctx: bool(ctx.input.get("address")),
            )
        ],
    )
    orch = orch_on(make_orchestrator)
    run_id = orch.submit(wf, {"address": ""})
    orch.run_until_quiet(max_seconds=60)
    assert ran == []
    (failed,) = [e for e in orch.events(run_id) if e.kind == "step_failed"]
    assert "Precondition of step 'ship' does not hold" in failed.detail["error"]


def test_interceptors_wrap_actions_in_order_and_their_errors_are_step_failures(
    make_orchestrator: OrchestratorFactory,
) -> None:
    seen: list[str] = []

    def outer(ctx: Any, call: Callable[[], Any]) -> Any:
        seen.append(f"outer>{ctx.step}")
        return call()

    def flaky(ctx: Any, call: Callable[[], Any]) -> Any:
        seen.append(f"flaky>{ctx.step}#{ctx.attempt}")
        if ctx.attempt == 1:
            raise ConnectionError("injected transient error")
        return call()

    wf = Workflow(
        "icpt",
        [
            Step(
                "a",
                lambda ctx: "out",
                retry=RetryPolicy(max_attempts=2, initial_interval=0, max_interval=0),
            )
        ],
    )
    orch = orch_on(make_orchestrator)
    orch.hooks.add_interceptor(outer)
    remove = orch.hooks.add_interceptor(flaky)
    run_id = orch.submit(wf, {})
    orch.run_until_quiet(max_seconds=60)
    assert orch.status(run_id).state == RunState.COMPLETED
    assert seen == ["outer>a", "flaky>a#1", "outer>a", "flaky>a#2"]
    retry = [e for e in orch.events(run_id) if e.kind == "step_retry_scheduled"]
    assert "injected transient error" in retry[0].detail["error"]
    remove()
    assert orch.hooks.intercept(SimpleNamespace(step="z", attempt=1), lambda: 42) == 42
    assert seen[4:] == ["outer>z"]  # flaky is gone, outer stays


def test_an_interceptor_hang_is_cut_by_the_step_timeout(
    make_orchestrator: OrchestratorFactory,
) -> None:
    def hang(ctx: Any, call: Callable[[], Any]) -> Any:
        time.sleep(2)
        return call()

    wf = Workflow(
        "hang", [Step("a", lambda ctx: 1, timeout=0.2, retry=RetryPolicy(max_attempts=1))]
    )
    orch = orch_on(make_orchestrator)
    orch.hooks.add_interceptor(hang)
    run_id = orch.submit(wf, {})
    orch.run_until_quiet(max_seconds=60)
    (failed,) = [e for e in orch.events(run_id) if e.kind == "step_failed"]
    assert "StepTimeout" in failed.detail["error"]


def test_a_hang_in_virtual_time_is_cut_by_the_step_timeout(
    make_orchestrator: OrchestratorFactory,
) -> None:
    # Under a ManualClock shared with real threads a hanging call is a sleep that jumps the clock
    # at once; its answer still comes an hour after the deadline, so it must count as timed out.
    # (In the simulation the worker gives up at the deadline itself: tests/scenarios.)
    calls: list[int] = []

    def slow_then_fast(ctx: Any) -> int:
        calls.append(ctx.attempt)
        if ctx.attempt == 1:
            ctx.clock.sleep(3600)
        return ctx.attempt

    wf = Workflow(
        "virtual-hang", [Step("a", slow_then_fast, timeout=30, retry=RetryPolicy(max_attempts=2))]
    )
    clock = ManualClock(0.0)
    orch = make_orchestrator(clock=clock)
    run_id = orch.submit(wf, {})
    worker = orch.worker()
    for _ in range(20):  # ticks, not run(): the hour-long sleep would spend run's time budget
        if orch.status(run_id).terminal:
            break
        worker.tick()
        clock.advance(1)
    status = orch.status(run_id)
    assert status.state == RunState.COMPLETED
    assert status.outputs["a"] == 2
    assert calls == [1, 2]
    (retry,) = [e for e in orch.events(run_id) if e.kind == "step_retry_scheduled"]
    assert "StepTimeout" in retry.detail["error"]
    # Decided when the late answer came, by the step's own clock.
    assert retry.at == 3600.0

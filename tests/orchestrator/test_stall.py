"""Stall policies: a deadline on a run or on a sub-workflow's child run, and what happens past it.

The child "hangs" as a child whose dependency is down for good does: its step retries patiently
and never ends, or its action never returns.
"""

from __future__ import annotations

import threading
from typing import Any

import pytest

from orchestrator import (
    DefinitionError,
    Fallback,
    ManualClock,
    RetryPolicy,
    RunState,
    Stall,
    Step,
    StepContext,
    StepState,
    Workflow,
    rebuild_from_events,
)
from tests.orchestrator.conftest import OrchestratorFactory

PATIENT = RetryPolicy(max_attempts=10_000, initial_interval=5.0, max_interval=5.0, jitter=False)


def test_a_stall_policy_is_plain_data_and_checked_when_defined() -> None:
    stall = Stall(after=60, policy="escalate")
    assert Stall.from_dict(stall.to_dict()) == stall == Stall(60.0, "escalate")
    with pytest.raises(DefinitionError, match="after=0 must be a positive number"):
        Stall(after=0)
    with pytest.raises(DefinitionError, match="policy='reroute' is not known; use one of cancel"):
        Stall(after=1, policy="reroute")
    retry = Stall(after=30, policy="retry", retries=3)
    assert retry.to_dict() == {"after": 30, "policy": "retry", "retries": 3}
    assert Stall.from_dict(retry.to_dict()) == retry and retry.column == "retry:3"
    assert "retries" not in Stall(after=30).to_dict()  # the fingerprint of the other policies
    for bad in (0, 101, 1.5, True):
        with pytest.raises(DefinitionError, match=f"retries={bad!r} must be a whole number"):
            Stall(after=30, policy="retry", retries=bad)  # type: ignore[arg-type]
    with pytest.raises(DefinitionError, match="needs a Stall on a sub-workflow step"):
        Step("a", lambda ctx: None, stall=Stall(after=1))
    with pytest.raises(DefinitionError, match="stall=5 is not a Stall"):
        Workflow("w", [Step("a", lambda ctx: None)], stall=5)  # type: ignore[arg-type]


class Services:
    """What the steps applied and undid; the carrier's dependency is down until ``up``."""

    def __init__(self) -> None:
        self.up = False
        self.applied: list[str] = []
        self.undone: list[str] = []

    def reserve(self, ctx: StepContext) -> str:
        self.applied.append("reserve")
        return "reserved"

    def release(self, ctx: StepContext) -> None:
        self.undone.append("reserve")

    def book(self, ctx: StepContext) -> str:
        if not self.up:
            raise ConnectionError("carrier down")
        self.applied.append(ctx.step)
        return "booked"

    def book_other(self, ctx: StepContext) -> str:
        self.applied.append("other")
        return "booked elsewhere"


def trip(services: Services, stall: Stall, *, fallback: bool = False) -> Workflow:
    child = Workflow("booking", [Step("book", services.book, retry=PATIENT)])
    steps = [
        Step("reserve", services.reserve, services.release),
        Step(
            "ship",
            subworkflow=child,
            after=("reserve",),
            stall=stall,
            fallback=Fallback("ship_other", on="timeout") if fallback else None,
        ),
    ]
    if fallback:
        steps.append(Step("ship_other", services.book_other, after=("reserve",)))
    return Workflow("trip", steps)


def drive(orch: Any, clock: ManualClock, until: Any, seconds: float) -> None:
    """Tick one worker on the virtual clock until ``until()`` or ``seconds`` pass."""
    worker = orch.worker()
    end = clock.now() + seconds
    while not until() and clock.now() < end:
        if not worker.tick():
            clock.advance(0.5)


def test_a_hung_child_past_its_deadline_is_cancelled_and_the_parent_rolls_back(
    make_orchestrator: OrchestratorFactory,
) -> None:
    clock = ManualClock(0.0)
    services = Services()
    orch = make_orchestrator(clock=clock)
    wf = trip(services, Stall(after=30, policy="cancel"))
    run_id = orch.submit(wf, {})
    child_id = f"{run_id}.ship"
    drive(orch, clock, lambda: orch.status(run_id).terminal, 300)
    status = orch.status(run_id)
    assert status.state == RunState.ROLLED_BACK
    assert services.undone == ["reserve"] and services.applied == ["reserve"]
    child = orch.status(child_id)
    assert child.state == RunState.CANCELLED and child.stalled_at is not None
    assert child.deadline is not None and child.stalled_at >= child.deadline
    assert child.stalled_at - child.deadline <= 2.0  # swept within a second or two of its clock
    (detected,) = [e for e in orch.events(child_id) if e.kind == "stall_detected"]
    assert detected.detail["policy"] == "cancel"
    failed = next(e for e in orch.events(run_id) if e.kind == "step_failed")
    assert failed.step == "ship" and failed.detail["stalled"] is True
    assert status.failure is not None and "stalled" in status.failure.reason
    for rid, wf_ in ((run_id, wf), (child_id, wf.steps["ship"].subworkflow)):
        assert rebuild_from_events(wf_, orch.events(rid)) == (
            orch.status(rid).state,
            dict(orch.status(rid).steps),
        )


def test_a_stalled_child_takes_the_fallback_declared_for_timeouts(
    make_orchestrator: OrchestratorFactory,
) -> None:
    clock = ManualClock(0.0)
    services = Services()
    orch = make_orchestrator(clock=clock)
    run_id = orch.submit(trip(services, Stall(after=30), fallback=True), {})
    drive(orch, clock, lambda: orch.status(run_id).terminal, 300)
    status = orch.status(run_id)
    assert status.state == RunState.COMPLETED
    assert status.steps["ship"] == StepState.REPLACED_INDETERMINATE
    assert status.steps["ship_other"] == StepState.COMPLETED
    assert services.applied == ["reserve", "other"] and services.undone == []
    assert orch.status(f"{run_id}.ship").state == RunState.CANCELLED


def test_an_escalated_stall_is_logged_once_and_the_run_goes_on(
    make_orchestrator: OrchestratorFactory,
) -> None:
    clock = ManualClock(0.0)
    services = Services()
    orch = make_orchestrator(clock=clock)
    slow = Workflow(
        "slow", [Step("book", services.book, retry=PATIENT)], stall=Stall(10, "escalate")
    )
    run_id = orch.submit(slow, {})
    drive(orch, clock, lambda: False, 60)
    kinds = [e.kind for e in orch.events(run_id)]
    assert kinds.count("stall_detected") == 1 and kinds.count("escalation") == 1
    assert orch.status(run_id).state == RunState.RUNNING
    services.up = True  # the dependency heals: the escalated run still completes
    drive(orch, clock, lambda: orch.status(run_id).terminal, 60)
    assert orch.status(run_id).state == RunState.COMPLETED


def test_a_child_whose_action_never_returns_does_not_hold_its_parent(
    make_orchestrator: OrchestratorFactory,
) -> None:
    """The child's step hangs in a worker (no timeout); another worker's sweep fails the parent
    step as timed out at the deadline, and the parent rolls back without waiting for it."""
    clock = ManualClock(0.0)
    release = threading.Event()
    services = Services()

    def hang(ctx: StepContext) -> str:
        release.wait(120)
        return "too late"

    child = Workflow("hung", [Step("call", hang)])
    wf = Workflow(
        "parent",
        [
            Step("reserve", services.reserve, services.release),
            Step("ship", subworkflow=child, after=("reserve",), stall=Stall(after=30)),
        ],
    )
    orch = make_orchestrator(clock=clock)
    run_id = orch.submit(wf, {})
    # Leases far longer than the test: the hung call is not taken over on the virtual clock.
    stuck = orch.worker(worker_id="stuck", lease_seconds=100_000)
    stuck.tick()  # reserve
    stuck.tick()  # ship: starts the child
    hung = threading.Thread(target=stuck.tick, name="stuck-worker")  # claims the hung call
    hung.start()
    try:
        claimed = threading.Event()
        for _ in range(2000):  # until the stuck worker holds the call (real time, bounded)
            if any(e.kind == "step_claimed" for e in orch.events(f"{run_id}.ship")):
                claimed.set()
                break
            release.wait(0.01)
        assert claimed.is_set(), "the stuck worker never claimed the hung call"
        sweeper = orch.worker(worker_id="sweeper", lease_seconds=100_000)
        deadline = clock.now() + 300
        while not orch.status(run_id).terminal and clock.now() < deadline:
            if not sweeper.tick():
                clock.advance(0.5)
        status = orch.status(run_id)
        assert status.state == RunState.ROLLED_BACK and services.undone == ["reserve"]
        assert orch.status(f"{run_id}.ship").state == RunState.CANCELLING  # still hung
    finally:
        release.set()
        hung.join(60)
    drive(orch, clock, lambda: orch.status(f"{run_id}.ship").terminal, 120)
    assert orch.status(f"{run_id}.ship").state == RunState.CANCELLED
    assert orch.status(run_id).state == RunState.ROLLED_BACK  # the late end changed nothing


def test_the_fallback_policy_is_checked_when_defined_and_takes_the_fallback(
    make_orchestrator: OrchestratorFactory,
) -> None:
    with pytest.raises(DefinitionError, match=r"declares no fallback for 'timeout'"):
        trip(Services(), Stall(after=30, policy="fallback"))
    with pytest.raises(DefinitionError, match=r"stall policy 'fallback' needs a step"):
        Workflow("w", [Step("a", lambda ctx: None)], stall=Stall(after=1, policy="fallback"))
    clock = ManualClock(0.0)
    services = Services()
    orch = make_orchestrator(clock=clock)
    run_id = orch.submit(trip(services, Stall(after=30, policy="fallback"), fallback=True), {})
    drive(orch, clock, lambda: orch.status(run_id).terminal, 300)
    status = orch.status(run_id)
    assert status.state == RunState.COMPLETED
    assert status.steps["ship"] == StepState.REPLACED_INDETERMINATE
    assert status.steps["ship_other"] == StepState.COMPLETED
    assert services.applied == ["reserve", "other"] and services.undone == []
    child_id = f"{run_id}.ship"
    assert orch.status(child_id).state == RunState.CANCELLED
    (detected,) = [e for e in orch.events(child_id) if e.kind == "stall_detected"]
    assert detected.detail["policy"] == "fallback"
    assert [e.step for e in orch.events(run_id) if e.kind == "fallback_taken"] == ["ship_other"]


def test_a_hung_action_past_the_deadline_is_retried_and_the_late_answer_fenced_off(
    make_orchestrator: OrchestratorFactory,
) -> None:
    """Policy ``retry``: the child's call hangs in one worker on its first attempt; at the
    deadline another worker's sweep revokes that lease, takes the call again (attempt 2) and the
    run completes; the hung attempt's late answer is refused by the fence."""
    clock = ManualClock(0.0)
    release = threading.Event()
    answers: list[int] = []
    services = Services()

    def call(ctx: StepContext) -> str:
        if ctx.attempt == 1:
            release.wait(120)
        answers.append(ctx.attempt)
        return f"answer of attempt {ctx.attempt}"

    child = Workflow("flaky", [Step("call", call)])
    stall = Stall(after=30, policy="retry", retries=1)
    wf = Workflow(
        "parent",
        [
            Step("reserve", services.reserve, services.release),
            Step("ship", subworkflow=child, after=("reserve",), stall=stall),
        ],
    )
    orch = make_orchestrator(clock=clock)
    run_id = orch.submit(wf, {})
    child_id = f"{run_id}.ship"
    stuck = orch.worker(worker_id="stuck", lease_seconds=100_000)
    stuck.tick()  # reserve
    stuck.tick()  # ship: starts the child
    hung = threading.Thread(target=stuck.tick, name="stuck-worker")
    hung.start()
    try:
        for _ in range(2000):  # until the stuck worker holds the call (real time, bounded)
            if any(e.kind == "step_claimed" for e in orch.events(child_id)):
                break
            release.wait(0.01)
        else:
            pytest.fail("the stuck worker never claimed the hung call")
        sweeper = orch.worker(worker_id="sweeper", lease_seconds=100_000)
        end = clock.now() + 300
        while not orch.status(run_id).terminal and clock.now() < end:
            if not sweeper.tick():
                clock.advance(0.5)
        assert orch.status(run_id).state == RunState.COMPLETED
    finally:
        release.set()
        hung.join(60)
    child_status = orch.status(child_id)
    assert child_status.state == RunState.COMPLETED and child_status.stalled_at is None
    assert child_status.outputs["call"] == "answer of attempt 2"  # the late answer was fenced
    assert sorted(answers) == [1, 2]
    (retried,) = [e for e in orch.events(child_id) if e.kind == "stall_retried"]
    assert retried.detail["abandoned"] == ["call"] and retried.detail["retry"] == 1
    assert retried.detail["deadline"] == pytest.approx(retried.at + 30)
    (detected,) = [e for e in orch.events(child_id) if e.kind == "stall_detected"]
    assert detected.detail["policy"] == "retry" and detected.at >= 30
    claims = [e for e in orch.events(child_id) if e.kind == "step_claimed"]
    assert [(c.worker_id, c.attempt) for c in claims] == [("stuck", 1), ("sweeper", 2)]
    assert services.undone == []


def test_a_stall_retried_to_its_limit_is_then_cancelled(
    make_orchestrator: OrchestratorFactory,
) -> None:
    """A child whose dependency stays down: each retry renews the deadline by ``after``; after
    the last, the stall cancels the child and the parent rolls back."""
    clock = ManualClock(0.0)
    services = Services()
    orch = make_orchestrator(clock=clock)
    run_id = orch.submit(trip(services, Stall(after=30, policy="retry", retries=2)), {})
    child_id = f"{run_id}.ship"
    drive(orch, clock, lambda: orch.status(run_id).terminal, 400)
    assert orch.status(run_id).state == RunState.ROLLED_BACK
    assert services.undone == ["reserve"]
    child = orch.status(child_id)
    assert child.state == RunState.CANCELLED and child.stalled_at is not None
    events = orch.events(child_id)
    retried = [e for e in events if e.kind == "stall_retried"]
    assert [e.detail["retry"] for e in retried] == [1, 2]
    assert [e.detail["of"] for e in retried] == [2, 2]
    assert len([e for e in events if e.kind == "stall_detected"]) == 3  # two retries, a cancel
    # Each deadline is ``after`` past the retry that set it, and the next firing comes at it.
    assert retried[1].at >= retried[0].detail["deadline"]
    assert child.stalled_at >= retried[1].detail["deadline"]
    assert child.stalled_at - 90 <= 3.0  # three deadlines of 30 s, swept within a second each
    assert rebuild_from_events(wf_of(orch, child_id), events) == (
        child.state,
        dict(child.steps),
    )


def wf_of(orch: Any, run_id: str) -> Workflow:
    status = orch.status(run_id)
    return orch.registry.get(status.workflow, status.version)

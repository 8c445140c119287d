"""The hot path: a worker that keeps its run records a step and leases the next in one commit.

What must hold: one durable commit per step (not a claim of its own per step), the log as
before (completed, ready, claimed), a stopped loop hands the kept step back unspent, and a
crashed worker leaves it leased until the lease expires, as a killed process would.
"""

from __future__ import annotations

import threading
from typing import Any

import pytest
from sqlalchemy import event

from orchestrator import (
    HookEvent,
    HookPoint,
    ManualClock,
    Orchestrator,
    RunState,
    Step,
    StepContext,
    Workflow,
)
from tests.orchestrator.conftest import OrchestratorFactory

STEPS = 10


class Crash(BaseException):
    """A worker dying at a hook point (not an Exception: nothing may catch it)."""


def _plus_one(previous: str | None) -> Any:
    def action(context: StepContext) -> int:
        base = context.input["x"] if previous is None else context.results[previous]
        return int(base) + 1

    return action


def chain(name: str = "chain") -> Workflow:
    return Workflow(
        name,
        [
            Step(f"s{i}", _plus_one(f"s{i - 1}" if i else None), after=(f"s{i - 1}",) if i else ())
            for i in range(STEPS)
        ],
    )


def _commits(orchestrator: Orchestrator) -> list[int]:
    counted = [0]

    @event.listens_for(orchestrator.store.engine, "commit")
    def _count(_conn: Any) -> None:
        counted[0] += 1

    return counted


def test_a_worker_keeps_its_run_one_commit_per_step(
    make_orchestrator: OrchestratorFactory,
) -> None:
    orch = make_orchestrator()
    wf = chain()
    orch.register(wf)
    run_id = orch.submit(wf, {"x": 0})
    commits = _commits(orch)
    handled = orch.run_until_quiet(max_seconds=60)
    assert handled == STEPS
    status = orch.status(run_id)
    assert status.state == RunState.COMPLETED
    assert status.outputs["s9"] == STEPS
    # The first claim, one commit per step, and the claim that found nothing left. Claiming
    # each step in a transaction of its own would take nine more.
    assert commits[0] == STEPS + 2
    kinds = [(e.kind, e.step) for e in orch.events(run_id)]
    for i in range(1, STEPS):
        done = kinds.index(("step_completed", f"s{i - 1}"))
        assert kinds[done + 1 : done + 3] == [("step_ready", f"s{i}"), ("step_claimed", f"s{i}")]
    claims = [e for e in orch.events(run_id) if e.kind == "step_claimed"]
    assert [e.attempt for e in claims] == [1] * STEPS
    assert all(e.detail["reclaimed"] is False for e in claims)


def test_a_lone_tick_leaves_the_next_step_in_the_queue(
    make_orchestrator: OrchestratorFactory,
) -> None:
    orch = make_orchestrator()
    wf = chain()
    orch.register(wf)
    run_id = orch.submit(wf, {"x": 0})
    assert orch.worker(worker_id="one").tick()
    step = {row["step"]: row for row in orch.store.step_rows(run_id)}["s1"]
    assert (step["state"], step["lease_token"], step["attempt"]) == ("ready", None, 0)
    assert orch.worker(worker_id="two").tick()
    assert orch.status(run_id).outputs["s1"] == 2


def test_a_stopped_loop_hands_the_kept_step_back_unspent(
    make_orchestrator: OrchestratorFactory,
) -> None:
    orch = make_orchestrator()
    wf = chain()
    orch.register(wf)
    run_id = orch.submit(wf, {"x": 0})
    stop = threading.Event()

    def stop_after_first(hook: HookEvent) -> None:
        if hook.point == HookPoint.AFTER_COMMIT and hook.step == "s0":
            stop.set()

    orch.hooks.add_listener(stop_after_first)
    assert orch.worker(worker_id="stopping").run(max_seconds=60, stop_event=stop) == 1
    step = {row["step"]: row for row in orch.store.step_rows(run_id)}["s1"]
    assert (step["state"], step["lease_token"], step["attempt"]) == ("ready", None, 0)
    last = [e for e in orch.events(run_id) if e.step == "s1"][-1]
    assert (last.kind, last.worker_id) == ("step_deferred", "stopping")
    # Another worker takes it at once (no lease to wait out) and spends the first attempt.
    assert orch.run_until_quiet(max_seconds=60, worker_id="next") == STEPS - 1
    status = orch.status(run_id)
    assert status.state == RunState.COMPLETED
    s1 = {row["step"]: row for row in orch.store.step_rows(run_id)}["s1"]
    assert s1["attempt"] == 1
    assert status.outputs["s9"] == STEPS


def test_a_crashed_worker_leaves_the_kept_step_leased_until_it_expires(
    make_orchestrator: OrchestratorFactory,
) -> None:
    clock = ManualClock(1000.0)
    orch = make_orchestrator(clock=clock)
    wf = chain()
    orch.register(wf)
    run_id = orch.submit(wf, {"x": 0})

    def die_after_first(hook: HookEvent) -> None:
        if hook.point == HookPoint.AFTER_COMMIT and hook.step == "s0":
            raise Crash

    remove = orch.hooks.add_listener(die_after_first)
    with pytest.raises(Crash):
        orch.worker(worker_id="dead", lease_seconds=5).run(max_seconds=60)
    remove()
    step = {row["step"]: row for row in orch.store.step_rows(run_id)}["s1"]
    assert (step["state"], step["lease_owner"]) == ("running", "dead")
    rescuer = orch.worker(worker_id="rescuer", lease_seconds=5)
    assert not rescuer.tick()  # the dead worker's lease still holds
    clock.advance(6)
    assert rescuer.tick()
    reclaim = [e for e in orch.events(run_id) if e.kind == "step_claimed" and e.step == "s1"][-1]
    assert (reclaim.worker_id, reclaim.detail["reclaimed"]) == ("rescuer", True)
    orch.run_until_quiet(max_seconds=60, worker_id="rescuer")
    status = orch.status(run_id)
    assert status.state == RunState.COMPLETED
    assert status.outputs["s9"] == STEPS


def test_a_worker_takes_the_next_run_in_the_commit_that_ends_the_last(
    make_orchestrator: OrchestratorFactory,
) -> None:
    orch = make_orchestrator()
    wf = Workflow("one", [Step("s0", _plus_one(None))])
    orch.register(wf)
    run_ids = [orch.submit(wf, {"x": n}) for n in range(5)]
    commits = _commits(orch)
    assert orch.run_until_quiet(max_seconds=60) == 5
    assert [orch.status(r).outputs["s0"] for r in run_ids] == [1, 2, 3, 4, 5]
    # The first claim, one commit per run (each also claims the next), the empty claim.
    assert commits[0] == 5 + 2
    claims = [e for e in orch.events() if e.kind == "step_claimed"]
    assert len(claims) == 5 and all(e.attempt == 1 for e in claims)

"""One heartbeat per worker process: every held lease extended in one statement per beat.

What must hold: a long action keeps its lease through the shared beat (inline, and in a task
when it has a timeout), so no rival takes it over; workers that share one :class:`Heartbeats`
and run N steps at once cost one statement per beat, not N; a lease taken over is not
extended (the token fences the beat); the beat ends once nothing is held; a crash does not
leave its lease beating.
"""

from __future__ import annotations

import re
import threading
import time
from typing import Any

import pytest
from sqlalchemy import event, select

from orchestrator import (
    Heartbeats,
    ManualClock,
    Orchestrator,
    RunState,
    Step,
    StepContext,
    ThreadRuntime,
    Workflow,
)
from orchestrator._schema import steps
from tests.orchestrator.conftest import OrchestratorFactory

LEASE = 2.0
BEAT = 0.05
WAIT = 60.0  # generous: a loaded machine may starve the beat's thread for a while


def _wait_for(condition: Any, what: str) -> None:
    deadline = time.monotonic() + WAIT
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.005)


# A statement that only pushes lease expiries out: a beat (one per step, as before the beat
# was shared, or one for all). A claim or an outcome sets other columns too.
_EXTENSION = re.compile(r"UPDATE cf_steps SET lease_expires_at=\S+ WHERE ", re.IGNORECASE)


def _lease_statements(orchestrator: Orchestrator) -> list[int]:
    """The row count of every statement that extended leases, from now on."""
    seen: list[int] = []

    @event.listens_for(orchestrator.store.engine, "after_cursor_execute")
    def _count(_conn: Any, cursor: Any, statement: str, *_: Any) -> None:
        if _EXTENSION.match(statement.strip()):
            seen.append(cursor.rowcount)

    return seen


def _expiry(orchestrator: Orchestrator, run_id: str, step: str) -> float:
    query = select(steps.c.lease_expires_at).where(
        (steps.c.run_id == run_id) & (steps.c.step == step)
    )
    with orchestrator.store.engine.connect() as conn:
        return float(conn.execute(query).scalar_one())


@pytest.mark.parametrize("timeout", [None, 600.0], ids=["inline", "in-a-task"])
def test_a_long_action_keeps_its_lease_through_the_shared_beat(
    make_orchestrator: OrchestratorFactory, timeout: float | None
) -> None:
    clock = ManualClock(1000.0)
    orch = make_orchestrator(clock=clock)
    rival = orch.worker(worker_id="rival", lease_seconds=LEASE)
    owner = orch.worker(worker_id="owner", lease_seconds=LEASE, heartbeat_seconds=BEAT)
    calls: list[str] = []

    def long(ctx: StepContext) -> str:
        calls.append(ctx.idempotency_key)
        # Five lease lengths of (manual) time pass while the action runs; after each half
        # lease the beat must have pushed the expiry out, or the rival would take the step.
        for _ in range(10):
            clock.advance(LEASE / 2)
            due = clock.now() + LEASE  # what a beat after the advance sets
            _wait_for(
                lambda due=due: _expiry(orch, ctx.run_id, "a") >= due, "a beat after the advance"
            )
            assert not rival.tick()
        return "done"

    run_id = orch.submit(Workflow("long", [Step("a", long, timeout=timeout)]), {})
    assert owner.tick()
    assert orch.status(run_id).state == RunState.COMPLETED
    assert len(calls) == 1
    assert owner.heartbeats.beats >= 10


def test_workers_running_n_steps_at_once_issue_one_beat_statement_per_interval(
    make_orchestrator: OrchestratorFactory,
) -> None:
    n = 4
    orch = make_orchestrator(clock=None)
    started = threading.Semaphore(0)
    release = threading.Event()

    def hold(_ctx: StepContext) -> int:
        started.release()
        assert release.wait(WAIT)
        return 1

    wf = Workflow("wide", [Step(f"p{i}", hold) for i in range(n)])
    runtime = ThreadRuntime()
    beats = Heartbeats(orch.store, orch.clock, runtime, lease_seconds=30.0, interval=BEAT)
    workers = [
        orch.worker(worker_id=f"w{i}", lease_seconds=30.0, runtime=runtime, heartbeats=beats)
        for i in range(n)
    ]
    run_id = orch.submit(wf, {})

    def work(worker: Any) -> None:
        # Claims race: a worker that found nothing to claim tries again (bounded).
        deadline = time.monotonic() + WAIT
        while not worker.tick() and time.monotonic() < deadline:
            time.sleep(0.01)

    threads = [threading.Thread(target=work, args=(w,)) for w in workers]
    for thread in threads:
        thread.start()
    for _ in range(n):
        assert started.acquire(timeout=WAIT)
    _wait_for(lambda: len(beats.held()) == n, "every lease held")
    statements = _lease_statements(orch)
    first = beats.beats
    # Five beats of all n leases: a beat already on its way when counting began may have
    # read the held leases before the last was taken.
    _wait_for(lambda: statements.count(n) >= 5, "five beats of every lease")
    release.set()
    for thread in threads:
        thread.join(WAIT)
    assert orch.status(run_id).state == RunState.COMPLETED
    # One statement per beat, each extending all n leases (not n statements of one row).
    beaten = beats.beats - first
    assert beaten <= len(statements) <= beaten + 1  # a beat may be on its way when counting began
    assert statements.count(n) >= 5
    assert set(statements) <= {n, n - 1, n - 2, n - 3, 0}  # leases end while a beat runs


def test_a_lease_taken_over_is_not_extended(make_orchestrator: OrchestratorFactory) -> None:
    clock = ManualClock(1000.0)
    orch = make_orchestrator(clock=clock)
    run_id = orch.submit(Workflow("one", [Step("a", lambda _ctx: 1)]), {})
    owner = orch.worker(worker_id="owner", lease_seconds=LEASE, heartbeat_seconds=BEAT)
    claim = owner._claim()
    assert claim is not None
    mine = (run_id, "a", claim.token)
    beats = Heartbeats(orch.store, clock, ThreadRuntime(), lease_seconds=LEASE, interval=BEAT)
    beats.hold(mine)
    assert beats.beat() == 1
    # The lease expires and a rival takes the step over, under a token of its own.
    clock.advance(3 * LEASE)
    taken = orch.worker(worker_id="rival", lease_seconds=LEASE)._claim()
    assert taken is not None and taken.token != claim.token
    before = _expiry(orch, run_id, "a")
    assert beats.beat() == 0  # fenced: the old token extends nothing
    assert _expiry(orch, run_id, "a") == before
    # The beat ends by itself once nothing is held.
    assert beats.beating
    beats.release(mine)
    _wait_for(lambda: not beats.beating, "the beat to end with nothing held")


def test_a_crashing_action_stops_beating_its_lease(make_orchestrator: OrchestratorFactory) -> None:
    class Crash(BaseException):
        """A worker dying mid-action."""

    orch = make_orchestrator()
    owner = orch.worker(worker_id="owner", lease_seconds=LEASE, heartbeat_seconds=BEAT)

    def crash(_ctx: StepContext) -> None:
        assert len(owner.heartbeats.held()) == 1  # beating while the action runs
        raise Crash

    orch.submit(Workflow("crashes", [Step("a", crash)]), {})
    with pytest.raises(Crash):
        owner.tick()
    assert owner.heartbeats.held() == []  # its lease now only expires, as a dead worker's does


def test_shared_heartbeats_need_the_same_lease(make_orchestrator: OrchestratorFactory) -> None:
    orch = make_orchestrator()
    beats = Heartbeats(orch.store, orch.clock, ThreadRuntime(), lease_seconds=30.0, interval=1.0)
    with pytest.raises(ValueError, match=r"lease_seconds=5 differs from the shared heartbeats'"):
        orch.worker(lease_seconds=5, heartbeats=beats)
    with pytest.raises(ValueError, match=r"interval=30.0 must be positive and shorter than"):
        Heartbeats(orch.store, orch.clock, ThreadRuntime(), lease_seconds=30.0, interval=30.0)

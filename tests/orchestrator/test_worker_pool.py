"""Several worker loops in one process (``WorkerPool``, ``chaosflow worker --concurrency N``).

What must hold: the runs in flight share commits on a group-committing store (fewer commits
than transactions), every run still ends completed with each step run once, the loops share
one heartbeat, a loop that crashes stops the others and its error reaches the caller, and a
bad concurrency is refused naming it.
"""

from __future__ import annotations

import threading
from typing import Any

import pytest

from orchestrator import (
    Orchestrator,
    RunState,
    Step,
    StepContext,
    WorkerPool,
    Workflow,
    check_concurrency,
)

N = 4
RUNS = 12
WAIT = 60.0


def _three_steps(seen: list[str]) -> Workflow:
    lock = threading.Lock()

    def step(ctx: StepContext) -> str:
        with lock:
            seen.append(ctx.idempotency_key)
        return ctx.step

    return Workflow(
        "three",
        [Step("a", step), Step("b", step, after=("a",)), Step("c", step, after=("b",))],
    )


def test_concurrent_runs_in_one_process_share_commits(store_url: str) -> None:
    orch = Orchestrator(store_url, group_commit=True)
    try:
        seen: list[str] = []
        wf = _three_steps(seen)
        orch.register(wf)
        run_ids = [orch.submit(wf, {"n": n}) for n in range(RUNS)]
        pool = WorkerPool(orch, N, worker_id="pool", lease_seconds=30.0)
        assert {w.heartbeats for w in pool.workers} == {pool.heartbeats}
        assert [w.worker_id for w in pool.workers] == [f"pool-{n}" for n in range(N)]
        handled = pool.run(max_seconds=WAIT, stop_when=lambda: orch.unfinished_runs() == 0)
        assert handled == 3 * RUNS
        assert all(orch.status(r).state == RunState.COMPLETED for r in run_ids)
        assert sorted(seen) == sorted({*seen})  # every step ran once
        group = orch.store.group
        assert group is not None
        # Transactions of runs in flight together went out in shared commits.
        assert group.commits < group.bodies, (group.commits, group.bodies)
        workers = {e.worker_id for e in orch.events() if e.kind == "step_completed"}
        assert len(workers) > 1
    finally:
        orch.store.dispose()


def test_a_crashing_loop_stops_the_pool_and_its_error_is_raised(store_url: str) -> None:
    class Crash(BaseException):
        """A worker loop dying (not an Exception: nothing may swallow it)."""

    orch = Orchestrator(store_url, group_commit=True)
    try:

        def crash(_ctx: StepContext) -> None:
            raise Crash("boom")

        wf = Workflow("crashes", [Step("a", crash)])
        orch.register(wf)
        orch.submit(wf, {})
        pool = WorkerPool(orch, N, lease_seconds=30.0)
        with pytest.raises(Crash, match="boom"):
            pool.run(max_seconds=WAIT)
    finally:
        orch.store.dispose()


def test_concurrency_picks_group_commit_on_sqlite_only(store_url: str) -> None:
    sqlite = store_url.startswith("sqlite")
    for concurrency, shared in ((1, False), (8, sqlite)):
        orch = Orchestrator(store_url, concurrency=concurrency)
        try:
            assert (orch.store.group is not None) == shared
            if not sqlite:  # a connection kept for each worker (and the heartbeat, a client)
                assert orch.store.engine.pool.size() >= concurrency + 2
        finally:
            orch.store.dispose()


@pytest.mark.parametrize("bad", [0, -1, 65, True, 2.5])
def test_a_bad_concurrency_is_refused_naming_it(bad: Any) -> None:
    with pytest.raises(ValueError, match=rf"concurrency={bad!r} must be a whole number"):
        check_concurrency(bad)

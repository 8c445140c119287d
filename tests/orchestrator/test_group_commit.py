"""Group commit: the transactions of many threads share commits, and lose nothing by it.

What must hold: a body's writes are on disk when its block returns (read back on another
connection), a body that raises rolls back only itself while the others' writes still commit,
a commit that fails fails every body it carried (nothing of them is on disk), a nested
transaction on the same thread is refused with a message, and many workers sharing commits
run every run to the outcome one worker gives.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
from sqlalchemy import event
from sqlalchemy.exc import OperationalError

from orchestrator import (
    Orchestrator,
    RetryPolicy,
    RunState,
    Step,
    StepContext,
    Store,
    StoreError,
    ThreadRuntime,
    Workflow,
)


@pytest.fixture
def store(store_url: str) -> Any:
    opened = Store(store_url, group_commit=True)
    Orchestrator(opened)  # creates the schema
    yield opened
    opened.dispose()


def _probe(store: Store, kind: str) -> None:
    with store.transaction() as tx:
        tx.append_event("probe", kind, 0.0)


def _kinds(store: Store) -> list[str]:
    return [e.kind for e in store.events("probe")]


def _wait_until(condition: Any, seconds: float = 30.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "the condition did not come true in time"
        time.sleep(0.001)


def test_a_body_is_on_disk_when_its_block_returns(store: Store) -> None:
    _probe(store, "first")
    # Store.reading is another connection: it sees only what was committed.
    assert _kinds(store) == ["first"]


def test_a_failing_body_rolls_back_only_itself(store: Store) -> None:
    assert store.group is not None
    errors: list[BaseException] = []

    def failing() -> None:
        try:
            with store.transaction() as tx:
                tx.append_event("probe", "doomed", 0.0)
                raise ValueError("this body fails")
        except ValueError as error:
            errors.append(error)

    second = threading.Thread(target=failing)
    with store.transaction() as tx:
        tx.append_event("probe", "kept", 0.0)
        second.start()
        # The failing body queues behind this one, so both share a batch: this body leaves
        # the commit to it, and it must still make it for this body's sake.
        _wait_until(lambda: store.group is not None and store.group._queued == 1)
    second.join(30)
    assert [str(e) for e in errors] == ["this body fails"]
    assert _kinds(store) == ["kept"]
    _probe(store, "after")
    assert _kinds(store) == ["kept", "after"]


def test_a_failed_commit_fails_every_body_it_carried(store: Store) -> None:
    assert store.group is not None
    failed: list[str] = []
    strike = {"left": 1}

    @event.listens_for(store.engine, "commit")
    def _fail_once(_conn: Any) -> None:
        if strike["left"]:
            strike["left"] -= 1
            raise OperationalError("COMMIT", {}, Exception("disk gone"))

    def member(kind: str) -> None:
        try:
            _probe(store, kind)
        except OperationalError:
            failed.append(kind)

    second = threading.Thread(target=member, args=("second",))
    try:
        with store.transaction() as tx:
            tx.append_event("probe", "first", 0.0)
            second.start()
            _wait_until(lambda: store.group is not None and store.group._queued == 1)
    except OperationalError:
        failed.append("first")
    second.join(30)
    assert sorted(failed) == ["first", "second"]
    assert _kinds(store) == []
    _probe(store, "retried")  # a fresh connection serves the next batch
    assert _kinds(store) == ["retried"]


def test_a_nested_transaction_on_one_thread_is_refused(store: Store) -> None:
    with store.transaction(), pytest.raises(StoreError, match="inside another"):  # noqa: SIM117
        with store.transaction():
            pass
    _probe(store, "still works")
    assert _kinds(store) == ["still works"]


def _step(name: str, after: tuple[str, ...]) -> Step:
    def action(context: StepContext) -> int:
        base = context.input["x"] if not after else context.results[after[0]]
        return int(base) + 1

    def undo(_context: StepContext) -> None:
        return None

    return Step(name, action, undo, after=after, retry=RetryPolicy(max_attempts=1))


def test_many_workers_sharing_commits_finish_every_run(store: Store) -> None:
    orch = Orchestrator(store)
    wf = Workflow("shared", [_step(f"s{i}", (f"s{i - 1}",) if i else ()) for i in range(5)])
    orch.register(wf)
    runtime = ThreadRuntime()
    doorbell = runtime.doorbell()
    store.on_work(doorbell.ring)
    stop = threading.Event()
    workers = [
        threading.Thread(
            target=orch.worker(worker_id=f"w{n}", runtime=runtime, doorbell=doorbell).run,
            kwargs={"max_seconds": 120, "stop_event": stop},
        )
        for n in range(8)
    ]
    for worker in workers:
        worker.start()
    run_ids = [orch.submit(wf, {"x": n}) for n in range(24)]
    try:
        _wait_until(lambda: orch.unfinished_runs() == 0, seconds=120)
    finally:
        stop.set()
        doorbell.ring()
        for worker in workers:
            worker.join(30)
    for n, run_id in enumerate(run_ids):
        status = orch.status(run_id)
        assert status.state == RunState.COMPLETED
        assert status.outputs == {f"s{i}": n + i + 1 for i in range(5)}
        completed = [e.step for e in orch.events(run_id) if e.kind == "step_completed"]
        assert sorted(completed) == [f"s{i}" for i in range(5)]
    assert store.group is not None and store.group.bodies >= 24 * 5

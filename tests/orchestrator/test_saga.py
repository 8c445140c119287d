"""Execution semantics of the orchestrator, on a SQLite store and a virtual clock."""

from __future__ import annotations

import json
import threading
import time
from typing import Any

import pytest

from orchestrator import (
    HookEvent,
    HookPoint,
    IllegalTransition,
    ManualClock,
    Orchestrator,
    RetryPolicy,
    RunConflict,
    RunState,
    RunStatus,
    Step,
    StepContext,
    StepState,
    UnknownRun,
    Workflow,
    input_digest,
    rebuild_from_events,
)
from tests.orchestrator.conftest import OrchestratorFactory

FAST = RetryPolicy(max_attempts=3, initial_interval=0.01, max_interval=0.01, jitter=False)


class Recorder:
    """Records calls as (purpose, step, attempt, key), and fails where told to."""

    def __init__(self, fail: dict[str, int] | None = None, always_fail: set[str] | None = None):
        self.calls: list[tuple[str, str, int, str]] = []
        self.fail = fail or {}  # step -> fail the first N attempts
        self.always_fail = always_fail or set()
        self.lock = threading.Lock()

    def action(self, ctx: StepContext) -> dict[str, Any]:
        with self.lock:
            self.calls.append(("do", ctx.step, ctx.attempt, ctx.idempotency_key))
        if ctx.step in self.always_fail or ctx.attempt <= self.fail.get(ctx.step, 0):
            raise RuntimeError(f"{ctx.step} fails on attempt {ctx.attempt}")
        return {"step": ctx.step}

    def undo(self, ctx: StepContext) -> None:
        with self.lock:
            self.calls.append(("undo", ctx.step, ctx.attempt, ctx.idempotency_key))

    def undone(self) -> list[str]:
        return [step for purpose, step, _, _ in self.calls if purpose == "undo"]

    def step(self, name: str, *after: str, **kwargs: Any) -> Step:
        return Step(name, self.action, self.undo, after=after, retry=FAST, **kwargs)


def orchestrator_on(make: OrchestratorFactory, clock: ManualClock | None = None) -> Orchestrator:
    return make(clock=clock or ManualClock(1000.0))


def run(orch: Orchestrator, wf: Workflow, payload: dict[str, Any] | None = None) -> str:
    run_id = orch.submit(wf, payload or {"n": 1})
    orch.run_until_quiet(max_seconds=600)
    return run_id


def run_on_threads(
    orch: Orchestrator, run_id: str, workers: int = 2
) -> tuple[RunStatus, list[threading.Thread]]:
    """Run wall-clock workers on threads until ``run_id`` ends (30 s at most), then stop them."""
    stop = threading.Event()
    threads = [
        threading.Thread(
            target=orch.worker(poll_interval=0.01).run,
            kwargs={"max_seconds": 30, "stop_event": stop},
        )
        for _ in range(workers)
    ]
    for thread in threads:
        thread.start()
    status = orch.wait(run_id, timeout=30)
    stop.set()
    for thread in threads:
        thread.join(10)
    return status, threads


def test_linear_workflow_completes_in_order(make_orchestrator: OrchestratorFactory) -> None:
    rec = Recorder()
    wf = Workflow("lin", [rec.step("a"), rec.step("b", "a"), rec.step("c", "b")])
    orch = orchestrator_on(make_orchestrator)
    run_id = run(orch, wf)
    status = orch.status(run_id)
    assert status.state == RunState.COMPLETED
    assert [c[1] for c in rec.calls] == ["a", "b", "c"]
    assert status.outputs == {"a": {"step": "a"}, "b": {"step": "b"}, "c": {"step": "c"}}


def test_retries_keep_the_idempotency_key(make_orchestrator: OrchestratorFactory) -> None:
    rec = Recorder(fail={"b": 2})
    wf = Workflow("retry", [rec.step("a"), rec.step("b", "a")])
    orch = orchestrator_on(make_orchestrator)
    run_id = run(orch, wf)
    assert orch.status(run_id).state == RunState.COMPLETED
    b_calls = [c for c in rec.calls if c[1] == "b"]
    assert [c[2] for c in b_calls] == [1, 2, 3]
    assert {c[3] for c in b_calls} == {f"{run_id}:b"}
    kinds = [e.kind for e in orch.events(run_id) if e.step == "b"]
    assert kinds.count("step_retry_scheduled") == 2


def test_failure_compensates_in_reverse_dependency_order(
    make_orchestrator: OrchestratorFactory,
) -> None:
    # a -> (b, c) -> d, and e after d fails for good: d, then b and c, then a are undone.
    rec = Recorder(always_fail={"e"})
    wf = Workflow(
        "diamond",
        [
            rec.step("a"),
            rec.step("b", "a"),
            rec.step("c", "a"),
            rec.step("d", "b", "c"),
            rec.step("e", "d"),
        ],
    )
    orch = orchestrator_on(make_orchestrator)
    run_id = run(orch, wf)
    status = orch.status(run_id)
    assert status.state == RunState.ROLLED_BACK
    undone = rec.undone()
    assert undone[0] == "e" and undone[1] == "d" and undone[-1] == "a"
    assert set(undone[2:4]) == {"b", "c"}
    compensation_keys = {c[3] for c in rec.calls if c[0] == "undo"}
    assert f"{run_id}:a:compensation" in compensation_keys


def test_steps_not_started_are_skipped_and_not_compensated(
    make_orchestrator: OrchestratorFactory,
) -> None:
    rec = Recorder(always_fail={"a"})
    wf = Workflow("skip", [rec.step("a"), rec.step("b", "a")])
    orch = orchestrator_on(make_orchestrator)
    run_id = run(orch, wf)
    status = orch.status(run_id)
    assert status.steps == {"a": StepState.COMPENSATED, "b": StepState.SKIPPED}
    assert rec.undone() == ["a"]


def test_non_retryable_error_fails_on_first_attempt(make_orchestrator: OrchestratorFactory) -> None:
    def refuse(ctx: StepContext) -> None:
        raise KeyError("no such account")

    wf = Workflow("nr", [Step("a", refuse, retry=RetryPolicy(non_retryable=(KeyError,)))])
    orch = orchestrator_on(make_orchestrator)
    run_id = run(orch, wf)
    failed = [e for e in orch.events(run_id) if e.kind == "step_failed"]
    assert len(failed) == 1 and failed[0].attempt == 1
    assert "KeyError" in failed[0].detail["error"]
    assert orch.status(run_id).state == RunState.ROLLED_BACK


def test_timeout_fails_the_step(make_orchestrator: OrchestratorFactory) -> None:
    release = threading.Event()

    def hang(ctx: StepContext) -> None:
        release.wait(10)

    wf = Workflow("hang", [Step("a", hang, timeout=0.2, retry=RetryPolicy(max_attempts=1))])
    orch = orchestrator_on(make_orchestrator)
    try:
        run_id = run(orch, wf)
    finally:
        release.set()
    failed = [e for e in orch.events(run_id) if e.kind == "step_failed"]
    assert "StepTimeout" in failed[0].detail["error"]
    assert "timeout=0.2s" in failed[0].detail["error"]


def test_unserialisable_output_names_step_and_type(make_orchestrator: OrchestratorFactory) -> None:
    wf = Workflow("ser", [Step("make_set", lambda ctx: {1, 2})])
    orch = orchestrator_on(make_orchestrator)
    run_id = run(orch, wf)
    failed = [e for e in orch.events(run_id) if e.kind == "step_failed"]
    assert "Step 'make_set' of workflow 'ser' returned a set" in failed[0].detail["error"]
    assert failed[0].attempt == 1  # not retried: the same output would fail again


def test_compensation_failing_for_good_escalates(make_orchestrator: OrchestratorFactory) -> None:
    def bad_undo(ctx: StepContext) -> None:
        raise RuntimeError("refund API down")

    rec = Recorder(always_fail={"b"})
    wf = Workflow(
        "esc",
        [
            Step("a", rec.action, bad_undo, compensation_retry=FAST),
            rec.step("b", "a"),
        ],
    )
    orch = orchestrator_on(make_orchestrator)
    run_id = run(orch, wf)
    assert orch.status(run_id).state == RunState.COMPENSATION_FAILED
    kinds = [e.kind for e in orch.events(run_id)]
    assert "escalation" in kinds
    assert kinds[-1] == "run_compensation_failed"


def test_paused_worker_loses_its_lease_and_its_late_write_is_rejected(
    make_orchestrator: OrchestratorFactory,
) -> None:
    clock = ManualClock(1000.0)
    rec = Recorder()
    wf = Workflow("pause", [rec.step("a")])
    orch = orchestrator_on(make_orchestrator, clock)
    orch.register(wf)
    run_id = orch.submit(wf, {})
    first = orch.worker(worker_id="slow", lease_seconds=5)
    second = orch.worker(worker_id="fast", lease_seconds=5)

    def pause_first(event: HookEvent) -> None:
        # While "slow" is paused before its action, its lease expires and "fast" takes over.
        if event.point == HookPoint.BEFORE_ACTION and event.worker_id == "slow":
            clock.advance(10)
            assert second.tick()

    orch.hooks.add_listener(pause_first)
    assert first.tick()
    events = orch.events(run_id)
    kinds = [(e.kind, e.worker_id) for e in events]
    assert ("step_completed", "fast") in kinds
    assert ("late_write_rejected", "slow") in kinds
    assert [k for k, _ in kinds].count("step_completed") == 1
    assert orch.status(run_id).state == RunState.COMPLETED
    claims = [e for e in events if e.kind == "step_claimed"]
    assert claims[1].detail["reclaimed"] is True


def test_hooks_fire_at_each_boundary_in_order(make_orchestrator: OrchestratorFactory) -> None:
    rec = Recorder()
    wf = Workflow("hooks", [rec.step("a")])
    orch = orchestrator_on(make_orchestrator)
    seen: list[str] = []
    orch.hooks.add_listener(lambda e: seen.append(str(e.point)))
    run(orch, wf)
    assert seen == [
        "run_submitted",
        "step_claimed",
        "before_action",
        "after_action",
        "after_commit",
        "run_finished",
    ]


def test_a_crashing_hook_leaves_the_effect_unrecorded_until_recovery(
    make_orchestrator: OrchestratorFactory,
) -> None:
    class Crash(BaseException):
        pass

    clock = ManualClock(1000.0)
    rec = Recorder()
    wf = Workflow("crash", [rec.step("a")])
    orch = orchestrator_on(make_orchestrator, clock)
    crashed: list[bool] = []

    def crash_once(event: HookEvent) -> None:
        if event.point == HookPoint.AFTER_ACTION and not crashed:
            crashed.append(True)
            raise Crash()

    orch.hooks.add_listener(crash_once)
    run_id = orch.submit(wf, {})
    with pytest.raises(Crash):
        orch.worker(lease_seconds=5).tick()
    assert orch.status(run_id).steps["a"] == StepState.RUNNING
    orch.run_until_quiet(max_seconds=60)
    assert orch.status(run_id).state == RunState.COMPLETED
    assert [c[2] for c in rec.calls] == [1, 2]  # at least once: the action ran again
    assert len({c[3] for c in rec.calls}) == 1  # with the same idempotency key


def test_submit_is_idempotent_on_run_id(make_orchestrator: OrchestratorFactory) -> None:
    rec = Recorder()
    wf = Workflow("idem", [rec.step("a")])
    orch = orchestrator_on(make_orchestrator)
    assert orch.submit(wf, {"x": 1}, run_id="r1") == "r1"
    assert orch.submit(wf, {"x": 1}, run_id="r1") == "r1"
    assert [e.kind for e in orch.events("r1")] == ["run_submitted", "step_ready"]


def test_resubmitting_a_run_id_with_another_input_is_refused_naming_both_digests(
    make_orchestrator: OrchestratorFactory,
) -> None:
    rec = Recorder()
    wf = Workflow("idem", [rec.step("a")])
    orch = orchestrator_on(make_orchestrator)
    orch.submit(wf, {"x": 1}, run_id="r1")
    with pytest.raises(RunConflict, match="exists with a different input") as raised:
        orch.submit(wf, {"x": 2}, run_id="r1")
    assert raised.value.stored_digest == input_digest({"x": 1})
    assert raised.value.given_digest == input_digest({"x": 2})
    assert input_digest({"x": 1}) in str(raised.value)
    assert input_digest({"x": 2}) in str(raised.value)
    assert json.loads(orch.store.run("r1").input) == {"x": 1}  # the stored run is untouched
    # Key order does not make another input: the digest is of canonical JSON.
    orch.submit(wf, {"y": 1, "x": 2}, run_id="r2")
    assert orch.submit(wf, {"x": 2, "y": 1}, run_id="r2") == "r2"


def test_state_rebuilt_from_the_event_log_matches_the_tables(
    make_orchestrator: OrchestratorFactory,
) -> None:
    rec = Recorder(fail={"b": 1}, always_fail={"d"})
    wf = Workflow(
        "rebuild", [rec.step("a"), rec.step("b", "a"), rec.step("c", "a"), rec.step("d", "b", "c")]
    )
    ok = Workflow("rebuild_ok", [rec.step("a"), rec.step("b", "a")])
    orch = orchestrator_on(make_orchestrator)
    ids = [run(orch, wf), run(orch, ok)]
    for run_id, definition in zip(ids, (wf, ok), strict=True):
        status = orch.status(run_id)
        run_state, steps = rebuild_from_events(definition, orch.events(run_id))
        assert run_state == status.state
        assert steps == dict(status.steps)


def test_store_survives_a_new_process_view(make_orchestrator: OrchestratorFactory) -> None:
    rec = Recorder()
    wf = Workflow("durable", [rec.step("a")])
    first = orchestrator_on(make_orchestrator)
    run_id = first.submit(wf, {"k": "v"})
    first.store.dispose()
    second = orchestrator_on(make_orchestrator)
    second.register(wf)
    assert second.status(run_id).state == RunState.RUNNING
    second.run_until_quiet(max_seconds=60)
    assert second.status(run_id).state == RunState.COMPLETED


def test_wall_clock_worker_runs_real_threads(make_orchestrator: OrchestratorFactory) -> None:
    rec = Recorder()
    wf = Workflow("threads", [rec.step("a"), rec.step("b"), rec.step("c", "a", "b")])
    orch = make_orchestrator(clock=None)
    status, workers = run_on_threads(orch, orch.submit(wf, {}))
    assert status.state == RunState.COMPLETED
    assert not any(w.is_alive() for w in workers)


def test_heartbeats_keep_a_long_step_from_being_taken_over(
    make_orchestrator: OrchestratorFactory,
) -> None:
    orch = make_orchestrator(clock=None)
    calls: list[str] = []
    # Leases of 2 s renewed every 0.1 s: a loaded machine may starve the heartbeat thread for
    # a while, but not for 20 heartbeats in a row.
    rival = orch.worker(worker_id="rival", lease_seconds=2.0)

    def slow(ctx: StepContext) -> None:
        calls.append(ctx.idempotency_key)
        # Three lease lengths long: without heartbeats the rival would claim the step.
        deadline = time.monotonic() + 6.0
        while time.monotonic() < deadline:
            assert not rival.tick()
            time.sleep(0.1)

    wf = Workflow("long", [Step("a", slow)])
    run_id = orch.submit(wf, {})
    assert orch.worker(worker_id="owner", lease_seconds=2.0, heartbeat_seconds=0.1).tick()
    assert orch.status(run_id).state == RunState.COMPLETED
    assert len(calls) == 1


def test_heartbeat_must_be_shorter_than_the_lease(make_orchestrator: OrchestratorFactory) -> None:
    orch = orchestrator_on(make_orchestrator)
    with pytest.raises(ValueError, match=r"heartbeat_seconds=5 must be positive and shorter than"):
        orch.worker(lease_seconds=5, heartbeat_seconds=5)


def test_cancel_skips_what_did_not_start_and_compensates_the_rest(
    make_orchestrator: OrchestratorFactory,
) -> None:
    rec = Recorder()
    wf = Workflow("cancel", [rec.step("a"), rec.step("b", "a"), rec.step("c", "b")])
    orch = orchestrator_on(make_orchestrator)
    run_id = orch.submit(wf, {})
    worker = orch.worker()
    assert worker.tick() and worker.tick()  # a and b done, c ready
    status = orch.cancel(run_id, reason="customer changed their mind")
    assert status.state == RunState.CANCELLING
    assert status.steps["c"] == StepState.SKIPPED
    orch.run_until_quiet(max_seconds=60)
    status = orch.status(run_id)
    assert status.state == RunState.CANCELLED
    assert rec.undone() == ["b", "a"]
    run_state, steps = rebuild_from_events(wf, orch.events(run_id))
    assert (run_state, steps) == (status.state, dict(status.steps))


def test_cancelling_an_ended_run_is_refused(make_orchestrator: OrchestratorFactory) -> None:
    rec = Recorder()
    wf = Workflow("ended", [rec.step("a")])
    orch = orchestrator_on(make_orchestrator)
    run_id = run(orch, wf)
    with pytest.raises(
        IllegalTransition, match=r"run cannot take event 'cancel' in state 'completed'"
    ):
        orch.cancel(run_id)
    with pytest.raises(UnknownRun, match="nothing to cancel"):
        orch.cancel("no-such-run")


def test_parallel_branches_overlap_in_time(make_orchestrator: OrchestratorFactory) -> None:
    spans: dict[str, tuple[float, float]] = {}
    both_started = threading.Barrier(2, timeout=10)

    def branch(ctx: StepContext) -> None:
        started = time.monotonic()
        both_started.wait()  # only passes if the two branches run at the same time
        spans[ctx.step] = (started, time.monotonic())

    wf = Workflow(
        "fan",
        [
            Step("root", lambda ctx: None),
            Step("left", branch, after=("root",)),
            Step("right", branch, after=("root",)),
            Step("join", lambda ctx: None, after=("left", "right")),
        ],
    )
    orch = make_orchestrator(clock=None)
    status, _ = run_on_threads(orch, orch.submit(wf, {}))
    assert status.state == RunState.COMPLETED
    (l_start, l_end), (r_start, r_end) = spans["left"], spans["right"]
    assert l_start < r_end and r_start < l_end


def test_a_step_that_fails_while_its_run_rolls_back_is_compensated_not_retried(
    make_orchestrator: OrchestratorFactory,
) -> None:
    # Found by the simulation: a forward step that failed during a rollback was scheduled for a
    # retry, made ready behind the rollback's back, and ran after the run had ended.
    orch = orchestrator_on(make_orchestrator)
    undone: list[str] = []

    def cancels_then_fails(ctx: StepContext) -> None:
        orch.cancel(ctx.run_id, reason="the customer changed their mind mid-step")
        raise ConnectionError("the service went away")  # retryable, and not definite

    wf = Workflow(
        "rollback-retry",
        [
            Step(
                "a",
                cancels_then_fails,
                lambda ctx: undone.append(ctx.step),
                retry=RetryPolicy(max_attempts=5, initial_interval=0.1),
            )
        ],
    )
    run_id = orch.submit(wf, {})
    orch.run_until_quiet(max_seconds=60)
    status = orch.status(run_id)
    assert status.state == RunState.CANCELLED
    kinds = [e.kind for e in orch.events(run_id) if e.step == "a"]
    assert "step_retry_scheduled" not in kinds
    assert kinds.count("step_claimed") == 1
    (failed,) = [e for e in orch.events(run_id) if e.kind == "step_failed"]
    assert "not retried: the run is rolling back" in failed.detail["error"]
    assert undone == ["a"]  # it may have applied its effect: compensated

"""Priorities and fairness: higher priority first within a workflow, workflows served in turn."""

from __future__ import annotations

import pytest

from orchestrator import (
    DefinitionError,
    HookEvent,
    HookPoint,
    ManualClock,
    RetryPolicy,
    RunState,
    Step,
    StepContext,
    Workflow,
)
from orchestrator._priorities import rotation
from tests.orchestrator.conftest import OrchestratorFactory


def noop(ctx: StepContext) -> str:
    return ctx.step


def test_workflows_are_served_in_turn_after_the_last_one() -> None:
    assert rotation(["b", "a", "c"], None) == ["a", "b", "c"]
    assert rotation(["b", "a", "c"], "a") == ["b", "c", "a"]
    assert rotation(["b", "a", "c"], "c") == ["a", "b", "c"]
    assert rotation(["a"], "gone") == ["a"]


@pytest.mark.parametrize("priority", [1001, -1001, 1.5, True, "high"])
def test_a_bad_priority_is_refused_where_it_is_given(
    priority: object, make_orchestrator: OrchestratorFactory
) -> None:
    with pytest.raises(DefinitionError, match=rf"priority={priority!r} must be a whole number"):
        Workflow("w", [Step("a", noop)], priority=priority)  # type: ignore[arg-type]
    orch = make_orchestrator()
    with pytest.raises(ValueError, match=r"submit of workflow 'w'.*must be a whole number"):
        orch.submit(Workflow("w", [Step("a", noop)]), {}, priority=priority)  # type: ignore[arg-type]


def test_an_urgent_run_goes_before_the_backlog_of_its_workflow(
    make_orchestrator: OrchestratorFactory,
) -> None:
    wf = Workflow("orders", [Step("a", noop), Step("b", noop, after=("a",))], priority=0)
    orch = make_orchestrator()
    backlog = [orch.submit(wf, {}, run_id=f"bulk-{n}") for n in range(5)]
    urgent = orch.submit(wf, {}, run_id="urgent", priority=10)
    worker = orch.worker()
    assert worker.tick()
    first = next(e for e in orch.events() if e.kind == "step_claimed")
    assert first.run_id == urgent
    submitted = next(e for e in orch.events(urgent) if e.kind == "run_submitted")
    assert submitted.detail["priority"] == 10
    assert orch.status(urgent).priority == 10 and orch.status(backlog[0]).priority == 0
    orch.run_until_quiet(max_seconds=60)
    assert {orch.status(r).state for r in [*backlog, urgent]} == {RunState.COMPLETED}


def test_a_workflow_default_priority_orders_its_runs(
    make_orchestrator: OrchestratorFactory,
) -> None:
    low = Workflow("orders", [Step("a", noop)], priority=-5)
    orch = make_orchestrator()
    orch.submit(low, {}, run_id="default")  # the workflow's -5
    orch.submit(low, {}, run_id="raised", priority=0)
    orch.worker().tick()
    assert next(e for e in orch.events() if e.kind == "step_claimed").run_id == "raised"


@pytest.mark.parametrize("loop", ["tick", "run"])
def test_a_trickle_workflow_is_served_while_a_backlog_drains_under_a_retry_storm(
    make_orchestrator: OrchestratorFactory, loop: str
) -> None:
    """Forty bulk runs whose steps fail every third call (retried at once), and a trickle of
    another workflow submitted every six claims: each trickle step waits for at most one bulk
    claim, and every trickle run completes long before the backlog has drained. With lone
    ticks and with the worker's loop, which keeps its run and claims the next in the same
    commit."""
    calls = {"n": 0}

    def flaky(ctx: StepContext) -> str:
        calls["n"] += 1
        if calls["n"] % 3 == 0:
            raise ConnectionError("bulk dependency dropped the connection")
        return "ok"

    storm = RetryPolicy(max_attempts=10, initial_interval=0.0, max_interval=0.0, jitter=False)
    bulk = Workflow(
        "bulk",
        [Step("load", flaky, retry=storm), Step("store", flaky, after=("load",), retry=storm)],
    )
    trickle = Workflow("trickle", [Step("one", noop), Step("two", noop, after=("one",))])
    clock = ManualClock(0.0)
    orch = make_orchestrator(clock=clock)
    orch.register(bulk, trickle)
    backlog = [orch.submit(bulk, {}, run_id=f"bulk-{n:02}") for n in range(40)]
    trickled: list[str] = []
    claims = {"n": 0}

    def submit_trickle(event: HookEvent) -> None:
        # Every sixth claim a trickle run arrives (from the worker's thread, between commits).
        if event.point != HookPoint.STEP_CLAIMED:
            return
        claims["n"] += 1
        if claims["n"] % 6 == 1 and len(trickled) < 8:
            trickled.append(orch.submit(trickle, {}, run_id=f"trickle-{len(trickled)}"))

    orch.hooks.add_listener(submit_trickle)
    worker = orch.worker()
    if loop == "tick":
        for _ in range(400):
            if not worker.tick():
                break
            clock.advance(0.01)
    else:
        worker.run(max_seconds=600, stop_when=lambda: orch.unfinished_runs() == 0)
    assert orch.unfinished_runs() == 0 and len(trickled) == 8
    events = orch.events()
    # Between a trickle step becoming ready and its claim, at most one bulk step was claimed.
    ready_at: dict[tuple[str, str], int] = {}
    for index, event in enumerate(events):
        if event.run_id.startswith("trickle") and event.kind == "step_ready":
            ready_at[(event.run_id, str(event.step))] = index
        if event.run_id.startswith("trickle") and event.kind == "step_claimed":
            since = events[ready_at[(event.run_id, str(event.step))] : index]
            bulk_claims = [e for e in since if e.kind == "step_claimed" and e.run_id in backlog]
            assert len(bulk_claims) <= 1, (event.run_id, event.step, len(bulk_claims))
    # The trickle finished while the backlog was still draining.
    last_trickle = max(
        i for i, e in enumerate(events) if e.kind == "run_completed" and e.run_id in trickled
    )
    still_running = {e.run_id for e in events[last_trickle:] if e.kind == "run_completed"}
    assert len(still_running & set(backlog)) >= 10
    assert calls["n"] > 80 and any(e.kind == "step_retry_scheduled" for e in events)
    assert {orch.status(r).state for r in [*backlog, *trickled]} == {RunState.COMPLETED}

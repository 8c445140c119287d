"""Sub-workflows: a step that runs a child workflow, whose failure or cancel reaches the parent."""

from __future__ import annotations

from typing import Any

import pytest

from orchestrator import (
    DefinitionError,
    ManualClock,
    Orchestrator,
    RetryPolicy,
    RunState,
    Step,
    StepContext,
    StepState,
    Workflow,
    rebuild_from_events,
)
from tests.orchestrator.conftest import OrchestratorFactory

ONCE = RetryPolicy(max_attempts=1)


class Log:
    def __init__(
        self, failing: set[str] | None = None, failing_undo: set[str] | None = None
    ) -> None:
        self.calls: list[str] = []
        self.failing = failing or set()
        self.failing_undo = failing_undo or set()

    def do(self, ctx: StepContext) -> Any:
        self.calls.append(f"{ctx.workflow}.{ctx.step}")
        if ctx.step in self.failing:
            raise RuntimeError(f"{ctx.step} refused")
        return ctx.step

    def undo(self, ctx: StepContext) -> None:
        self.calls.append(f"undo {ctx.workflow}.{ctx.step}")
        if ctx.step in self.failing_undo:
            raise RuntimeError(f"undo of {ctx.step} refused")

    def step(self, name: str, *after: str) -> Step:
        return Step(name, self.do, self.undo, after=after, retry=ONCE)


def build(log: Log) -> tuple[Workflow, Workflow]:
    child = Workflow("payment", [log.step("authorise"), log.step("capture", "authorise")])
    parent = Workflow(
        "order",
        [
            log.step("reserve"),
            Step("pay", subworkflow=child, after=("reserve",)),
            log.step("ship", "pay"),
        ],
    )
    return parent, child


def orchestrator(make_orchestrator: OrchestratorFactory, parent: Workflow) -> Orchestrator:
    orch = make_orchestrator(clock=ManualClock(0.0))
    orch.register(parent)  # registers the child too
    return orch


def test_a_completed_child_completes_the_parent_step(
    make_orchestrator: OrchestratorFactory,
) -> None:
    log = Log()
    parent, child = build(log)
    orch = orchestrator(make_orchestrator, parent)
    run_id = orch.submit("order", {"sku": "x"})
    orch.run_until_quiet(max_seconds=60)
    status = orch.status(run_id)
    assert status.state == RunState.COMPLETED
    assert status.outputs["pay"] == {"authorise": "authorise", "capture": "capture"}
    assert log.calls == ["order.reserve", "payment.authorise", "payment.capture", "order.ship"]
    child_status = orch.status(f"{run_id}.pay")
    assert child_status.state == RunState.COMPLETED and child_status.workflow == "payment"
    for rid, definition in ((run_id, parent), (f"{run_id}.pay", child)):
        state = orch.status(rid)
        assert rebuild_from_events(definition, orch.events(rid)) == (state.state, dict(state.steps))


def test_a_failed_child_takes_the_parent_down_its_failure_path(
    make_orchestrator: OrchestratorFactory,
) -> None:
    log = Log(failing={"capture"})
    parent, _ = build(log)
    orch = orchestrator(make_orchestrator, parent)
    run_id = orch.submit("order", {})
    orch.run_until_quiet(max_seconds=60)
    assert orch.status(f"{run_id}.pay").state == RunState.ROLLED_BACK
    status = orch.status(run_id)
    assert status.state == RunState.ROLLED_BACK
    assert status.steps == {
        "reserve": StepState.COMPENSATED,
        "pay": StepState.FAILED,
        "ship": StepState.SKIPPED,
    }
    # The child undoes its own work first, then the parent undoes what came before the child.
    assert log.calls[-2:] == ["undo payment.authorise", "undo order.reserve"]


def test_cancelling_the_parent_cancels_the_child(make_orchestrator: OrchestratorFactory) -> None:
    log = Log()
    parent, _ = build(log)
    orch = orchestrator(make_orchestrator, parent)
    run_id = orch.submit("order", {})
    worker = orch.worker()

    def child_half_done() -> bool:
        if orch.status(run_id).steps["pay"] != StepState.WAITING:
            return False
        return orch.status(f"{run_id}.pay").steps["authorise"] == StepState.COMPLETED

    for _ in range(20):  # reserve, start the child, authorise; stop before capture
        if child_half_done():
            break
        assert worker.tick()
    assert child_half_done()
    orch.cancel(run_id, reason="customer cancelled")
    orch.run_until_quiet(max_seconds=60)
    assert orch.status(f"{run_id}.pay").state == RunState.CANCELLED
    assert orch.status(run_id).state == RunState.CANCELLED
    assert "undo payment.authorise" in log.calls and "undo order.reserve" in log.calls
    assert "payment.capture" not in log.calls
    kinds = [e.kind for e in orch.events(f"{run_id}.pay")]
    assert "cancel_requested" in kinds


def test_sub_workflow_definitions_are_checked() -> None:
    log = Log()
    with pytest.raises(
        DefinitionError,
        match=r"needs exactly one of action=\.\.\. or subworkflow=\.\.\.; it has both",
    ):
        Step("x", log.do, subworkflow=Workflow("c", [log.step("a")]))
    with pytest.raises(DefinitionError, match="it has neither"):
        Step("x")
    inner = Workflow("loop", [log.step("a")])
    with pytest.raises(DefinitionError, match="contains itself as a sub-workflow"):
        Workflow("loop", [Step("again", subworkflow=inner)], version=2)


def test_a_completed_child_is_rolled_back_when_its_parent_rolls_back(
    make_orchestrator: OrchestratorFactory,
) -> None:
    log = Log(failing={"ship"})
    parent, child = build(log)
    orch = orchestrator(make_orchestrator, parent)
    run_id = orch.submit("order", {})
    orch.run_until_quiet(max_seconds=60)
    child_id = f"{run_id}.pay"
    assert orch.status(run_id).state == RunState.ROLLED_BACK
    assert orch.status(run_id).steps["pay"] == StepState.COMPENSATED
    assert orch.status(child_id).state == RunState.ROLLED_BACK
    # Undone in reverse: the failed step (it may have applied), the child's steps (capture,
    # then authorise), then what came before the child.
    undos = [call for call in log.calls if call.startswith("undo")]
    assert undos == [
        "undo order.ship",
        "undo payment.capture",
        "undo payment.authorise",
        "undo order.reserve",
    ]
    kinds = [e.kind for e in orch.events(child_id)]
    assert (
        kinds.index("run_completed")
        < kinds.index("run_compensating")
        < kinds.index("run_rolled_back")
    )
    parent_kinds = [(e.kind, e.step) for e in orch.events(run_id) if e.step == "pay"]
    assert ("child_compensation_started", "pay") in parent_kinds
    assert parent_kinds[-1] == ("step_compensated", "pay")
    for rid, definition in ((run_id, parent), (child_id, child)):
        state = orch.status(rid)
        assert rebuild_from_events(definition, orch.events(rid)) == (state.state, dict(state.steps))


def test_a_child_whose_rollback_fails_fails_the_parent_step_and_escalates(
    make_orchestrator: OrchestratorFactory,
) -> None:
    log = Log(failing={"ship"}, failing_undo={"capture"})
    parent, _ = build(log)
    orch = orchestrator(make_orchestrator, parent)
    run_id = orch.submit("order", {})
    orch.run_until_quiet(max_seconds=60)
    assert orch.status(f"{run_id}.pay").state == RunState.COMPENSATION_FAILED
    status = orch.status(run_id)
    assert status.state == RunState.COMPENSATION_FAILED
    assert status.steps["pay"] == StepState.COMPENSATION_FAILED
    # The rest of the rollback still happens: what came before the child is undone.
    assert "undo order.reserve" in log.calls
    escalations = [e for e in orch.events(run_id) if e.kind == "escalation"]
    assert escalations and escalations[0].detail["child"] == f"{run_id}.pay"

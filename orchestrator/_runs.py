"""Run-level moves inside one transaction: create a run, write a plan, cancel, settle a parent.

These are shared by the client API and the workers, and they recurse through sub-workflows: a
child run that ends settles its parent's waiting step in the same transaction, and a parent that
starts rolling back cancels the children it is waiting for, and rolls back the children that
completed (the step that started a child is undone by undoing the child).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from ._canary import declares_canaries, judge_canary
from ._definition import Workflow
from ._engine import (
    Plan,
    after_compensation_settled,
    after_step_completed,
    after_step_failed,
    after_step_replaced,
    on_cancel,
    on_submit,
)
from ._errors import SubworkflowFailed
from ._failures import (
    cancel_record,
    decode_error,
    encode_error,
    failure_record,
    read_failure,
    step_error,
)
from ._fallbacks import takes_fallback
from ._registry import WorkflowRegistry
from ._stall import Stall, run_deadline
from ._states import TERMINAL_RUN_STATES, RunState, StepState, next_run_state, next_step_state
from ._store import RunRow, StoreTransaction

# The event log's name for each step move the engine plans.
MOVE_EVENT_KINDS = {
    "dependencies_completed": "step_ready",
    "branch_not_taken": "step_branch_skipped",
    "skip": "step_skipped",
    "schedule_compensation": "compensation_scheduled",
    "dependents_compensated": "compensation_ready",
    "replace": "step_replaced",
    "replace_indeterminate": "step_replaced_indeterminate",
    "take_fallback": "fallback_taken",
}

_ROLLBACK = frozenset({RunState.COMPENSATING, RunState.CANCELLING})


def child_run_id(run_id: str, step: str) -> str:
    """The id of the child run a sub-workflow step starts: derived, so a retry reuses it."""
    return f"{run_id}.{step}"


def create_run(
    tx: StoreTransaction,
    registry: WorkflowRegistry,
    definition: Workflow,
    run_id: str,
    payload: Mapping[str, Any],
    now: float,
    *,
    correlation_id: str | None = None,
    parent: tuple[str, str] | None = None,
    actor: str = "client",
    priority: int | None = None,
    stall: Stall | None = None,
    canary: Mapping[str, Any] | None = None,
) -> bool:
    """Insert a run, log its submission and make its first steps ready; False if it exists.

    ``canary`` (the canary version and whether this run took it) goes into the submission's
    event, so the log says why a run got its version.
    """
    created = tx.insert_run(
        {
            "run_id": run_id,
            "workflow": definition.name,
            "version": definition.version,
            "state": str(RunState.RUNNING),
            "input": json.dumps(dict(payload), sort_keys=True),
            "correlation_id": correlation_id,
            "parent_run_id": parent[0] if parent else None,
            "parent_step": parent[1] if parent else None,
            "priority": definition.priority if priority is None else priority,
            **run_deadline(stall or definition.stall, now),
            "created_at": now,
            "updated_at": now,
        },
        dict.fromkeys(definition.order, StepState.PENDING),
    )
    if created:
        detail: dict[str, Any] = {
            "version": definition.version,
            "correlation_id": correlation_id,
            "priority": definition.priority if priority is None else priority,
        }
        if parent:
            detail["parent"] = {"run_id": parent[0], "step": parent[1]}
        if canary:
            detail["canary"] = dict(canary)
        tx.append_event(run_id, "run_submitted", now, worker_id=actor, detail=detail)
        plan = on_submit(definition, {"input": dict(payload), "results": {}})
        write_plan(tx, registry, run_id, plan, RunState.RUNNING, now, actor)
    return created


def write_plan(
    tx: StoreTransaction,
    registry: WorkflowRegistry,
    run_id: str,
    plan: Plan,
    run_state: RunState,
    now: float,
    actor: str | None,
) -> bool:
    """Write a plan's moves and their events; True when the run reached a terminal state."""

    def write_moves() -> None:
        for name, event, new_state in plan.step_moves:
            # A compensation counts its own attempts, for its own retry policy.
            extra = {"attempt": 0} if event == "schedule_compensation" else {}
            tx.set_step_state(run_id, name, str(new_state), now, **extra)
            tx.append_event(
                run_id,
                MOVE_EVENT_KINDS[event],
                now,
                step=name,
                worker_id=actor,
                detail=plan.notes.get(name),
            )

    # The log reads cause first: a run enters a rollback before its steps are scheduled for
    # compensation, and ends after its last step moved.
    started_rollback = False
    moves_written = False
    for event in plan.run_events:
        new_run_state = next_run_state(run_state, event)
        if new_run_state in TERMINAL_RUN_STATES and not moves_written:
            write_moves()
            moves_written = True
        if new_run_state != run_state:
            started_rollback |= new_run_state in _ROLLBACK and run_state == RunState.RUNNING
            tx.set_run_state(run_id, str(new_run_state), now)
            detail = run_event_detail(tx, run_id, new_run_state)
            tx.append_event(run_id, f"run_{new_run_state}", now, worker_id=actor, detail=detail)
            run_state = new_run_state
    if not moves_written:
        write_moves()
    finished = run_state in TERMINAL_RUN_STATES
    # Recursion last, so that it reads this run's steps as they now are.
    if started_rollback:
        for name, row in tx.steps(run_id).items():
            if row.state == StepState.WAITING:
                cancel_run(
                    tx,
                    registry,
                    child_run_id(run_id, name),
                    now,
                    actor,
                    reason=f"parent run {run_id!r} is rolling back",
                )
    if finished:
        settle_parent(tx, registry, run_id, run_state, now, actor)
        if declares_canaries(registry):
            judge_canary(tx, registry, run_id, now, actor)
    return finished


def run_event_detail(tx: StoreTransaction, run_id: str, state: RunState) -> dict[str, Any]:
    """The detail of a run's move into ``state``: for any end but completion, why.

    ``{"failure": ...}``, the failure summary as :class:`RunFailure` gives it (the step that
    failed and its error, or the cancel, and each compensation that failed for good, with its
    error), so that an export of the event log says what went wrong without the store. (Under
    a key of its own: ``detail["error"]`` is a step event's one-line error everywhere.)
    """
    if state in (RunState.RUNNING, RunState.COMPLETED):
        return {}
    run = tx.run(run_id)
    compensations = {
        step: decode_error(text, purpose="compensation")
        for step, text in tx.compensation_errors(run_id).items()
    }
    failure = read_failure(
        run.failure if run else None, {k: v for k, v in compensations.items() if v is not None}
    )
    return {"failure": failure.to_dict()} if failure else {}


def _child_failure(
    tx: StoreTransaction, child_id: str, state: RunState, attempt: int, purpose: str
) -> Any:
    """The record a parent step keeps of a child run that did not complete."""
    child = tx.run(child_id)
    failure = read_failure(child.failure if child else None, {})
    why = f": {failure.reason}" if failure and failure.reason else ""
    error = SubworkflowFailed(f"child run {child_id!r} ended {state}{why}")
    # A child that rolled back (or was cancelled) left nothing applied; otherwise it may have.
    definite = state in (RunState.ROLLED_BACK, RunState.CANCELLED)
    return step_error(error, attempt=attempt, definite=definite, purpose=purpose)


def _settle_parent_compensation(
    tx: StoreTransaction,
    registry: WorkflowRegistry,
    workflow: Workflow,
    parent: RunRow,
    step: str,
    child_id: str,
    state: RunState,
    now: float,
    actor: str | None,
) -> None:
    """The child the parent step was undoing has ended its rollback: settle the step."""
    detail: dict[str, Any] = {"child": child_id}
    if state == RunState.ROLLED_BACK:
        new_state = next_step_state(StepState.COMPENSATION_WAITING, "child_compensated")
        tx.set_step_state(parent.run_id, step, str(new_state), now)
        tx.append_event(
            parent.run_id, "step_compensated", now, step=step, worker_id=actor, detail=detail
        )
    else:
        new_state = next_step_state(StepState.COMPENSATION_WAITING, "child_compensation_failed")
        record = _child_failure(tx, child_id, state, 1, "compensation")
        detail.update(error=f"{record.type}: {record.message}", code=record.code)
        tx.set_step_state(
            parent.run_id, step, str(new_state), now, compensation_error=encode_error(record)
        )
        for kind in ("compensation_failed", "escalation"):  # never silently: a human must look
            tx.append_event(parent.run_id, kind, now, step=step, worker_id=actor, detail=detail)
    states = {name: row.state for name, row in tx.steps(parent.run_id).items()}
    plan = after_compensation_settled(workflow, states, step)
    write_plan(tx, registry, parent.run_id, plan, RunState(parent.state), now, actor)


def cancel_run(
    tx: StoreTransaction,
    registry: WorkflowRegistry,
    run_id: str,
    now: float,
    actor: str | None,
    *,
    reason: str = "",
) -> bool:
    """Cancel a running run (IllegalTransition if it is not running); True if it ended at once."""
    tx.lock_run(run_id)
    run = tx.run(run_id)
    if run is None:
        return False
    next_run_state(run.state, "cancel")  # refuses a run that is not running
    workflow = registry.get(run.workflow, run.version)
    states = {name: row.state for name, row in tx.steps(run_id).items()}
    tx.append_event(run_id, "cancel_requested", now, worker_id=actor, detail={"reason": reason})
    tx.set_run_failure(run_id, cancel_record(reason))
    return write_plan(
        tx, registry, run_id, on_cancel(workflow, states), RunState(run.state), now, actor
    )


def settle_parent(
    tx: StoreTransaction,
    registry: WorkflowRegistry,
    run_id: str,
    state: RunState,
    now: float,
    actor: str | None,
) -> None:
    """If ``run_id`` is a child run, complete or fail the parent step that waits for it."""
    child = tx.run(run_id)
    if child is None or child.parent_run_id is None or child.parent_step is None:
        return
    tx.lock_run(child.parent_run_id)
    parent = tx.run(child.parent_run_id)
    assert parent is not None  # a child never outlives its parent
    step = child.parent_step
    rows = tx.steps(parent.run_id)
    workflow = registry.get(parent.workflow, parent.version)
    parent_state = RunState(parent.state)
    if rows[step].state == StepState.COMPENSATION_WAITING:
        _settle_parent_compensation(tx, registry, workflow, parent, step, run_id, state, now, actor)
        return
    if rows[step].state != StepState.WAITING:
        return  # already settled (a replayed transition)
    if state == RunState.COMPLETED:
        outputs = {
            name: json.loads(row.output)
            for name, row in tx.steps(run_id).items()
            if row.output is not None
        }
        new_state = next_step_state(StepState.WAITING, "child_completed")
        tx.set_step_state(
            parent.run_id, step, str(new_state), now, output=json.dumps(outputs), error=None
        )
        tx.append_event(
            parent.run_id,
            "step_completed",
            now,
            step=step,
            worker_id=actor,
            detail={"child": run_id},
        )
        states = {name: row.state for name, row in tx.steps(parent.run_id).items()}
        results = {
            n: json.loads(r.output)
            for n, r in tx.steps(parent.run_id).items()
            if r.output is not None
        }
        data = {"input": json.loads(parent.input), "results": results}
        plan = after_step_completed(workflow, parent_state, states, step, data)
    else:
        new_state = next_step_state(StepState.WAITING, "child_failed")
        record = _child_failure(tx, run_id, state, rows[step].attempt, "action")
        tx.set_step_state(parent.run_id, step, str(new_state), now, error=encode_error(record))
        tx.append_event(
            parent.run_id,
            "step_failed",
            now,
            step=step,
            worker_id=actor,
            detail={
                "child": run_id,
                "error": f"{record.type}: {record.message}",
                "code": record.code,
                "definite": record.definite,
            },
        )
        states = {name: row.state for name, row in tx.steps(parent.run_id).items()}
        cause = "definite" if record.definite else "indeterminate"
        if parent_state == RunState.RUNNING and takes_fallback(workflow.steps[step], cause):
            plan = after_step_replaced(
                workflow, states, step, definite=record.definite, cause=cause
            )
        else:
            if parent_state == RunState.RUNNING:
                tx.set_run_failure(parent.run_id, failure_record(step, record))
            # A failed child undid itself: the engine never compensates a failed sub-workflow
            # step.
            plan = after_step_failed(workflow, parent_state, states, step, definite=record.definite)
    write_plan(tx, registry, parent.run_id, plan, parent_state, now, actor)


def stall_parent_step(
    tx: StoreTransaction,
    registry: WorkflowRegistry,
    parent_id: str,
    step: str,
    error: Exception,
    now: float,
    actor: str | None,
) -> None:
    """Fail the parent step whose child run stalled, as timed out, without waiting for the
    child's rollback: its fallback if one covers ``timeout``, else the parent's rollback."""
    tx.lock_run(parent_id)
    parent = tx.run(parent_id)
    assert parent is not None  # a child never outlives its parent
    rows = tx.steps(parent_id)
    if rows[step].state != StepState.WAITING:
        return  # settled already
    workflow = registry.get(parent.workflow, parent.version)
    record = step_error(error, attempt=rows[step].attempt, definite=False)
    new_state = next_step_state(StepState.WAITING, "stall")
    tx.set_step_state(parent_id, step, str(new_state), now, error=encode_error(record))
    tx.append_event(
        parent_id,
        "step_failed",
        now,
        step=step,
        worker_id=actor,
        detail={
            "child": child_run_id(parent_id, step),
            "error": f"{record.type}: {record.message}",
            "code": record.code,
            "definite": False,
            "stalled": True,
        },
    )
    parent_state = RunState(parent.state)
    states = {name: row.state for name, row in tx.steps(parent_id).items()}
    if parent_state == RunState.RUNNING and takes_fallback(workflow.steps[step], "timeout"):
        plan = after_step_replaced(workflow, states, step, definite=False, cause="timeout")
    else:
        if parent_state == RunState.RUNNING:
            tx.set_run_failure(parent_id, failure_record(step, record))
        plan = after_step_failed(workflow, parent_state, states, step, definite=False)
    write_plan(tx, registry, parent_id, plan, parent_state, now, actor)

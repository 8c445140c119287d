"""Rebuild a run's state from its event log alone (the log is the record; tables are a view)."""

from __future__ import annotations

from collections.abc import Iterable

from ._definition import Workflow
from ._states import RunState, StepState
from ._store import EventRow

_STEP_EVENT_STATES = {
    "step_ready": StepState.READY,
    "step_claimed": StepState.RUNNING,
    "step_completed": StepState.COMPLETED,
    "step_retry_scheduled": StepState.READY,
    "step_deferred": StepState.READY,
    "step_failed": StepState.FAILED,
    "subworkflow_started": StepState.WAITING,
    "step_skipped": StepState.SKIPPED,
    "step_branch_skipped": StepState.SKIPPED,
    "step_replaced": StepState.REPLACED,
    "step_replaced_indeterminate": StepState.REPLACED_INDETERMINATE,
    "fallback_taken": StepState.READY,
    "compensation_scheduled": StepState.COMPENSATION_PENDING,
    "compensation_ready": StepState.COMPENSATION_READY,
    "compensation_claimed": StepState.COMPENSATING,
    "child_compensation_started": StepState.COMPENSATION_WAITING,
    "compensation_retry_scheduled": StepState.COMPENSATION_READY,
    "step_compensated": StepState.COMPENSATED,
    "compensation_failed": StepState.COMPENSATION_FAILED,
}


def rebuild_from_events(
    workflow: Workflow, events: Iterable[EventRow]
) -> tuple[RunState, dict[str, StepState]]:
    """The run state and step states that the events of one run imply."""
    steps = {name: StepState.PENDING for name in workflow.order}
    run_state = RunState.RUNNING
    for event in sorted(events, key=lambda e: e.seq):
        if event.kind.startswith("run_") and event.kind != "run_submitted":
            run_state = RunState(event.kind.removeprefix("run_"))
        elif event.step is not None and event.kind in _STEP_EVENT_STATES:
            steps[event.step] = _STEP_EVENT_STATES[event.kind]
    return run_state, steps

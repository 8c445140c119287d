"""The saga's decisions, as pure functions of a workflow and its steps' states.

Given what just happened to one step, these functions say which other steps move and whether the
run moves. They read nothing and write nothing, so the worker applies their plan inside the same
transaction that records the step's outcome, and tests can check them without a database.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import networkx as nx

from ._definition import Workflow
from ._states import RunState, StepState, next_step_state

S = StepState

# Steps that are still doing something during a rollback: nothing upstream of them may be undone.
_ROLLBACK_ACTIVE = frozenset(
    {
        S.RUNNING,
        S.WAITING,
        S.COMPENSATION_PENDING,
        S.COMPENSATION_READY,
        S.COMPENSATING,
        S.COMPENSATION_WAITING,
    }
)


@dataclass
class Plan:
    """What follows from one step's outcome: step moves in order, then run events in order."""

    step_moves: list[tuple[str, str, StepState]] = field(default_factory=list)
    run_events: list[str] = field(default_factory=list)
    # The detail of a step's move event, for the moves that carry one (a fallback's cause).
    notes: dict[str, dict[str, Any]] = field(default_factory=dict)


def _move(plan: Plan, states: dict[str, StepState], step: str, event: str) -> None:
    new_state = next_step_state(states[step], event)
    states[step] = new_state
    plan.step_moves.append((step, event, new_state))


def _may_have_applied(workflow: Workflow, name: str, state: StepState, definite: bool) -> bool:
    """Whether a step in ``state`` must be undone: it completed, or failed indeterminately."""
    step = workflow.steps[name]
    if state == S.COMPLETED:
        # A completed child run is undone by rolling it back.
        return step.compensation is not None or step.subworkflow is not None
    if state == S.FAILED:
        # A definite failure applied nothing; a failed child run undid itself.
        return not definite and step.compensation is not None and step.subworkflow is None
    if state == S.REPLACED_INDETERMINATE:
        # Replaced by its fallback while its own outcome was unknown: its effect may stand.
        return step.compensation is not None and step.subworkflow is None
    return False


def _schedule_rollback(
    workflow: Workflow,
    states: dict[str, StepState],
    plan: Plan,
    definite: frozenset[str] = frozenset(),
) -> None:
    """Skip what never started, schedule compensation of what may have applied its effect.

    ``definite`` names the failed steps whose failure was definite: those are left alone.
    """
    for name in workflow.order:
        if states[name] in (S.PENDING, S.READY):
            _move(plan, states, name, "skip")
        elif _may_have_applied(workflow, name, states[name], name in definite):
            _move(plan, states, name, "schedule_compensation")


def _release_compensations(workflow: Workflow, states: dict[str, StepState], plan: Plan) -> None:
    """Make ready every compensation whose descendants are all settled (reverse DAG order)."""
    for name in reversed(workflow.order):
        if states[name] != S.COMPENSATION_PENDING:
            continue
        # Descendants, not only direct dependents: a dependent without a compensation is
        # settled at once, yet its own dependents may still be undoing their effects.
        if all(states[d] not in _ROLLBACK_ACTIVE for d in nx.descendants(workflow.graph, name)):
            _move(plan, states, name, "dependents_compensated")


def _finish_rollback(states: Mapping[str, StepState], plan: Plan) -> None:
    if any(state in _ROLLBACK_ACTIVE for state in states.values()):
        return
    failed = any(state == S.COMPENSATION_FAILED for state in states.values())
    plan.run_events.append("compensation_failed" if failed else "all_compensated")


# A replaced primary is settled: its dependents also wait for its fallback (a graph edge).
_SETTLED_FORWARD = frozenset({S.COMPLETED, S.SKIPPED, S.REPLACED, S.REPLACED_INDETERMINATE})


def _advance(
    workflow: Workflow, states: dict[str, StepState], plan: Plan, data: Mapping[str, Any]
) -> None:
    """Make ready, or skip as a branch not taken, every pending step whose dependencies settled.

    One pass in topological order is enough: a skip only ever cascades forwards.
    """
    for name in workflow.order:
        if states[name] != S.PENDING:
            continue
        primary = workflow.standby.get(name)
        if primary is not None:
            # A fallback on standby is made ready only by its primary's failure (see
            # ``after_step_replaced``); once the primary has no need of it, it is not taken.
            if states[primary] in (S.COMPLETED, S.SKIPPED):
                _move(plan, states, name, "branch_not_taken")
            continue
        dependencies = workflow.dependencies(name)
        if not all(states[d] in _SETTLED_FORWARD for d in dependencies):
            continue
        condition = workflow.steps[name].when
        taken = not dependencies or any(states[d] == S.COMPLETED for d in dependencies)
        if taken and condition is not None:
            taken = condition.evaluate(data)
        _move(plan, states, name, "dependencies_completed" if taken else "branch_not_taken")
    if all(state in _SETTLED_FORWARD for state in states.values()):
        plan.run_events.append("all_steps_completed")


def on_submit(workflow: Workflow, data: Mapping[str, Any]) -> Plan:
    """The plan for a new run, all of whose steps start pending."""
    plan = Plan()
    _advance(workflow, {name: S.PENDING for name in workflow.order}, plan, data)
    return plan


def after_step_completed(
    workflow: Workflow,
    run_state: RunState,
    states: Mapping[str, StepState],
    step: str,
    data: Mapping[str, Any] | None = None,
) -> Plan:
    """The plan after ``step``'s action succeeded (its state is already COMPLETED in ``states``).

    ``data`` is the run's ``{"input": ..., "results": ...}``, which routing conditions read.
    """
    current = dict(states)
    plan = Plan()
    if run_state == RunState.RUNNING:
        _advance(workflow, current, plan, data or {})
        return plan
    # The run is rolling back: a parallel branch finished after another one failed.
    if workflow.steps[step].compensation:
        _move(plan, current, step, "schedule_compensation")
    _release_compensations(workflow, current, plan)
    _finish_rollback(current, plan)
    return plan


def after_step_failed(
    workflow: Workflow,
    run_state: RunState,
    states: Mapping[str, StepState],
    step: str,
    *,
    definite: bool = False,
) -> Plan:
    """The plan after ``step`` failed for good (its state is already FAILED in ``states``).

    An indeterminate failure (the default) is compensated with the rest, since its effect may
    stand; a ``definite`` one (the service refused) is not, since it applied nothing.
    """
    current = dict(states)
    plan = Plan(run_events=["step_failed"])
    if run_state == RunState.RUNNING:
        _schedule_rollback(workflow, current, plan, frozenset({step}) if definite else frozenset())
    elif _may_have_applied(workflow, step, current[step], definite):
        # A parallel branch that failed after the rollback began.
        _move(plan, current, step, "schedule_compensation")
    _release_compensations(workflow, current, plan)
    # A rollback with nothing to undo ends at once.
    _finish_rollback(current, plan)
    return plan


def after_step_replaced(
    workflow: Workflow, states: Mapping[str, StepState], step: str, *, definite: bool, cause: str
) -> Plan:
    """The plan after ``step`` failed for good in a running run and its fallback is taken
    (its state is already FAILED in ``states``): the step is replaced, the fallback made ready."""
    fallback = workflow.steps[step].fallback
    assert fallback is not None  # the caller asked ``takes_fallback`` first
    current = dict(states)
    plan = Plan()
    _move(plan, current, step, "replace" if definite else "replace_indeterminate")
    _move(plan, current, fallback.step, "take_fallback")
    plan.notes[step] = {"fallback": fallback.step, "cause": cause}
    plan.notes[fallback.step] = {"primary": step, "cause": cause}
    return plan


def on_cancel(workflow: Workflow, states: Mapping[str, StepState]) -> Plan:
    """The plan when a client cancels a running run: roll back as if a step had failed."""
    return _roll_back(workflow, states, "cancel")


def on_compensate_completed(workflow: Workflow, states: Mapping[str, StepState]) -> Plan:
    """The plan that rolls back a completed (child) run: undo every step that has an undo."""
    return _roll_back(workflow, states, "compensate")


def _roll_back(workflow: Workflow, states: Mapping[str, StepState], run_event: str) -> Plan:
    current = dict(states)
    plan = Plan(run_events=[run_event])
    _schedule_rollback(workflow, current, plan)
    _release_compensations(workflow, current, plan)
    _finish_rollback(current, plan)
    return plan


def after_compensation_settled(
    workflow: Workflow, states: Mapping[str, StepState], step: str
) -> Plan:
    """The plan after ``step``'s compensation succeeded or failed for good."""
    current = dict(states)
    plan = Plan()
    _release_compensations(workflow, current, plan)
    _finish_rollback(current, plan)
    del step  # the step's own state is already in ``states``
    return plan

"""Run and step states, declared as transition tables.

The tables are data: ``RUN_TRANSITIONS`` and ``STEP_TRANSITIONS`` map ``(state, event)`` to the new
state. Every move the engine makes goes through :func:`next_run_state` or :func:`next_step_state`,
so a move that is not in the table raises :class:`IllegalTransition` naming both the state and the
event. ``transition_graph`` returns a table as a networkx graph to draw or check.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Any

import networkx as nx

from ._errors import IllegalTransition


class RunState(StrEnum):
    """Where a workflow run stands; the four terminal states name what happened.

    ``completed``: every step ran. ``rolled_back``: a step failed and every effect that may
    have been applied was undone (for a child run: its parent rolled back). ``cancelled``: a
    client cancelled and the rollback succeeded. ``compensation_failed``: a rollback (after a
    failure or a cancel) left a compensation that failed for good; a person must look.
    """

    RUNNING = "running"
    COMPENSATING = "compensating"  # rolling back because a step failed
    CANCELLING = "cancelling"  # compensating because a client asked, not because a step failed
    COMPLETED = "completed"
    ROLLED_BACK = "rolled_back"  # called "compensated" before schema version 2
    COMPENSATION_FAILED = "compensation_failed"
    CANCELLED = "cancelled"


class StepState(StrEnum):
    """Where one step of a run stands, forward and in compensation."""

    PENDING = "pending"  # waiting for the steps it depends on
    READY = "ready"  # may be claimed (once its not_before time has come)
    RUNNING = "running"  # claimed under a lease; its effect may be applied
    WAITING = "waiting"  # a sub-workflow step waits for its child run to end
    COMPLETED = "completed"
    # Failed for good (retries exhausted or not retryable). A definite failure stays here; an
    # indeterminate one with a compensation moves on to be compensated.
    FAILED = "failed"
    SKIPPED = "skipped"  # never started: the run rolled back first
    # Failed for good and replaced by its fallback step: definitely (applied nothing, never
    # undone) or indeterminately (its effect may stand: undone if the run rolls back).
    REPLACED = "replaced"
    REPLACED_INDETERMINATE = "replaced_indeterminate"
    COMPENSATION_PENDING = "compensation_pending"  # waits for its dependents to be undone
    COMPENSATION_READY = "compensation_ready"
    COMPENSATING = "compensating"
    # A sub-workflow step being undone: its completed child run is rolling back.
    COMPENSATION_WAITING = "compensation_waiting"
    COMPENSATED = "compensated"
    COMPENSATION_FAILED = "compensation_failed"


TERMINAL_RUN_STATES = frozenset(
    {RunState.COMPLETED, RunState.ROLLED_BACK, RunState.COMPENSATION_FAILED, RunState.CANCELLED}
)

R, S = RunState, StepState

RUN_TRANSITIONS: Mapping[tuple[RunState, str], RunState] = {
    (R.RUNNING, "all_steps_completed"): R.COMPLETED,
    (R.RUNNING, "step_failed"): R.COMPENSATING,
    (R.COMPENSATING, "step_failed"): R.COMPENSATING,  # a parallel branch failing too
    (R.COMPENSATING, "all_compensated"): R.ROLLED_BACK,
    (R.COMPENSATING, "compensation_failed"): R.COMPENSATION_FAILED,
    (R.RUNNING, "cancel"): R.CANCELLING,
    (R.CANCELLING, "step_failed"): R.CANCELLING,
    (R.CANCELLING, "all_compensated"): R.CANCELLED,
    (R.CANCELLING, "compensation_failed"): R.COMPENSATION_FAILED,
    # A completed sub-workflow run whose parent rolls back is undone as a whole.
    (R.COMPLETED, "compensate"): R.COMPENSATING,
}

STEP_TRANSITIONS: Mapping[tuple[StepState, str], StepState] = {
    (S.PENDING, "dependencies_completed"): S.READY,
    (S.READY, "claim"): S.RUNNING,
    # A lease that expired while the step ran: another worker takes the step over.
    (S.RUNNING, "reclaim"): S.RUNNING,
    (S.RUNNING, "succeed"): S.COMPLETED,
    (S.RUNNING, "retry"): S.READY,
    # A circuit breaker is open: back to ready, the attempt not spent.
    (S.RUNNING, "defer"): S.READY,
    (S.RUNNING, "fail"): S.FAILED,
    (S.RUNNING, "start_child"): S.WAITING,
    (S.WAITING, "child_completed"): S.COMPLETED,
    (S.WAITING, "child_failed"): S.FAILED,
    # The child run passed its stall deadline under policy 'cancel': failed as timed out.
    (S.WAITING, "stall"): S.FAILED,
    (S.PENDING, "branch_not_taken"): S.SKIPPED,
    # A fallback route: the primary failed for good as its fallback declares.
    (S.FAILED, "replace"): S.REPLACED,
    (S.FAILED, "replace_indeterminate"): S.REPLACED_INDETERMINATE,
    (S.PENDING, "take_fallback"): S.READY,
    (S.REPLACED_INDETERMINATE, "schedule_compensation"): S.COMPENSATION_PENDING,
    (S.PENDING, "skip"): S.SKIPPED,
    (S.READY, "skip"): S.SKIPPED,
    (S.COMPLETED, "schedule_compensation"): S.COMPENSATION_PENDING,
    # Only an indeterminate failure: its effect may have been applied (the engine decides).
    (S.FAILED, "schedule_compensation"): S.COMPENSATION_PENDING,
    (S.COMPENSATION_PENDING, "dependents_compensated"): S.COMPENSATION_READY,
    (S.COMPENSATION_READY, "claim"): S.COMPENSATING,
    (S.COMPENSATING, "reclaim"): S.COMPENSATING,
    (S.COMPENSATING, "succeed"): S.COMPENSATED,
    (S.COMPENSATING, "retry"): S.COMPENSATION_READY,
    (S.COMPENSATING, "defer"): S.COMPENSATION_READY,  # a chained lease handed back unused
    (S.COMPENSATING, "fail"): S.COMPENSATION_FAILED,
    (S.COMPENSATING, "compensate_child"): S.COMPENSATION_WAITING,
    (S.COMPENSATION_WAITING, "child_compensated"): S.COMPENSATED,
    (S.COMPENSATION_WAITING, "child_compensation_failed"): S.COMPENSATION_FAILED,
}


def move(table: Mapping[tuple[Any, str], Any], machine: str, state: Any, event: str) -> Any:
    """The state after ``event`` in ``table``; IllegalTransition when the table has no such row."""
    try:
        return table[(state, event)]
    except KeyError:
        raise IllegalTransition(machine, str(state), event) from None


def next_run_state(state: RunState | str, event: str) -> RunState:
    """The run state after ``event``; raises IllegalTransition when the table has no such move."""
    return RunState(move(RUN_TRANSITIONS, "run", RunState(state), event))


def next_step_state(state: StepState | str, event: str) -> StepState:
    """The step state after ``event``; raises IllegalTransition when the table has no such move."""
    return StepState(move(STEP_TRANSITIONS, "step", StepState(state), event))


def transition_graph(table: Mapping[tuple[str, str], str]) -> nx.MultiDiGraph:
    """A transition table as a multigraph whose edges carry the event name (to draw or check)."""
    graph: nx.MultiDiGraph = nx.MultiDiGraph()
    for (state, event), target in table.items():
        graph.add_edge(str(state), str(target), event=event)
    return graph

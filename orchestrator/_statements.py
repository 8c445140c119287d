"""The store's statements, built once: each call binds its values, nothing is rebuilt per step.

Building a SQLAlchemy expression and its cache key costs more than SQLite takes to run it, and
the hot path (claim, record, heartbeat) runs a dozen of them per step. Built at import, with
``bindparam`` placeholders (named ``b_*`` where a column of the same name is being set), they
are compiled once per engine and then only executed.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import cache
from typing import Any

from sqlalchemy import Select, Update, bindparam, func, insert, select, update

from ._schema import events, runs, steps
from ._states import StepState

CLAIMABLE = (StepState.READY, StepState.COMPENSATION_READY)
LEASED = (StepState.RUNNING, StepState.COMPENSATING)
_CLAIMABLE = [str(s) for s in CLAIMABLE]
_LEASED = [str(s) for s in LEASED]

_RUN = runs.c.run_id == bindparam("b_run")
_STEP = _RUN & (steps.c.step == bindparam("b_step"))
_STEP_OF_RUN = (steps.c.run_id == bindparam("b_run")) & (steps.c.step == bindparam("b_step"))
_TOKEN = steps.c.lease_token == bindparam("b_token")

RUN_BY_ID = select(runs).where(_RUN)
RUN_EXISTS = select(runs.c.run_id).where(_RUN)
LOCK_RUN = select(runs.c.run_id).where(_RUN).with_for_update()
INSERT_RUN = insert(runs)
INSERT_STEPS = insert(steps)
# A transaction's events go in as one INSERT of up to EVENT_BATCH rows (see ``insert_events``).
EVENT_COLUMNS = ("run_id", "step", "kind", "attempt", "worker_id", "at", "detail")
EVENT_BATCH = 32
STEPS_OF_RUN = select(
    steps.c.run_id,
    steps.c.step,
    steps.c.state,
    steps.c.attempt,
    steps.c.lease_token,
    steps.c.output,
).where(steps.c.run_id == bindparam("b_run"))
STEPS_WITH_RUN_STATE = (
    select(
        steps.c.run_id,
        steps.c.step,
        steps.c.state,
        steps.c.attempt,
        steps.c.lease_token,
        steps.c.output,
        runs.c.state.label("run_state"),
    )
    .select_from(steps.join(runs, runs.c.run_id == steps.c.run_id))
    .where(steps.c.run_id == bindparam("b_run"))
)
# Set columns come from each call's parameters (every key that is not a ``b_*`` placeholder).
SET_RUN = update(runs).where(_RUN)
SET_STEP = update(steps).where(_STEP_OF_RUN)
EXTEND_LEASE = update(steps).where(_STEP_OF_RUN & _TOKEN)
SPEND_RETRY = update(runs).where(_RUN).values(retries_used=runs.c.retries_used + 1)
SPEND_BUDGETED_RETRY = (
    update(runs)
    .where(_RUN & (runs.c.retries_used < bindparam("b_budget")))
    .values(retries_used=runs.c.retries_used + 1)
)

# A worker's workflows are the same on every claim: the statements that filter on them are
# built once per set of names (an expanding IN would be recompiled for each execution).


@cache
def next_due(workflows: tuple[str, ...]) -> Select[Any]:
    """The earliest retry time and the earliest lease expiry among the steps of ``workflows``."""
    of_workflows = steps.c.run_id.in_(select(runs.c.run_id).where(runs.c.workflow.in_(workflows)))
    return select(
        select(func.min(steps.c.not_before))
        .where(of_workflows & steps.c.state.in_(_CLAIMABLE))
        .scalar_subquery(),
        select(func.min(steps.c.lease_expires_at))
        .where(of_workflows & steps.c.state.in_(_LEASED))
        .scalar_subquery(),
    )


def unfinished_runs(terminal: Iterable[str]) -> Select[Any]:
    """How many runs are not in one of the ``terminal`` states."""
    return _unfinished(tuple(sorted(terminal)))


@cache
def _unfinished(terminal: tuple[str, ...]) -> Select[Any]:
    return select(func.count()).select_from(runs).where(runs.c.state.not_in(terminal))


@cache
def claim_candidates(workflows: tuple[str, ...], for_update: bool) -> Select[Any]:
    """Ready steps and expired leases of ``workflows``, earliest due first; with
    ``for_update`` (PostgreSQL) each worker skips rows another is claiming."""
    query = (
        select(steps.c.run_id, steps.c.step, steps.c.state, steps.c.lease_token)
        .select_from(steps.join(runs, runs.c.run_id == steps.c.run_id))
        .where(runs.c.workflow.in_(workflows))
        .where(
            (steps.c.state.in_(_CLAIMABLE) & (steps.c.not_before <= bindparam("b_now")))
            | (steps.c.state.in_(_LEASED) & (steps.c.lease_expires_at < bindparam("b_now")))
        )
        # Within a workflow: higher priority, then earliest due, then oldest run (_priorities).
        .order_by(runs.c.priority.desc(), steps.c.not_before, runs.c.created_at)
        .limit(bindparam("b_limit"))
    )
    if for_update:
        query = query.with_for_update(skip_locked=True, of=steps)
    return query


@cache
def take_lease(held: bool, due: bool = False) -> Update:
    """Move a candidate to its leased state, if it is still as the claim saw it: unleased
    (``held=False``) or under the expired lease it was seen with; with ``due``, only once its
    ``not_before`` has come."""
    condition = _STEP_OF_RUN & (steps.c.state == bindparam("b_state"))
    condition &= _TOKEN if held else steps.c.lease_token.is_(None)
    if due:
        condition &= steps.c.not_before <= bindparam("b_now")
    return (
        update(steps)
        .where(condition)
        .values(attempt=steps.c.attempt + 1)
        .returning(steps.c.attempt)
    )


FINISH_LEASED = update(steps).where(_STEP_OF_RUN & _TOKEN)


@cache
def insert_events(count: int) -> Any:
    """An INSERT of ``count`` events, bound as ``<column>_<i>``: one statement, not ``count``
    (an executemany would do as much work, and faults that strike statements must see it)."""
    rows: list[dict[str, Any]] = [
        {name: bindparam(f"{name}_{i}") for name in EVENT_COLUMNS} for i in range(count)
    ]
    return insert(events).values(rows)

"""What a client reads of runs: one run's status with its errors, and pages of run summaries.

A status is read in one pass over the run's row and its steps' rows; a listing is one keyset
query (newest first, on ``(created_at, run_id)``), so a page costs the same however deep it is
and a run submitted while paging shifts nothing.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, and_, or_, select

from ._failures import RunFailure, StepError, decode_error, read_failure
from ._schema import runs, steps
from ._states import TERMINAL_RUN_STATES, RunState, StepState
from ._store import RunRow, Store

if TYPE_CHECKING:
    from ._definition import Workflow

MAX_PAGE = 1000  # runs per page at most
DEFAULT_PAGE = 50


@dataclass(frozen=True)
class RunStatus:
    """A run as the store knows it, with what went wrong when it did not complete.

    ``errors`` holds, per step, the last error of its action and ``compensation_errors`` the
    last error of its compensation (each cleared when the step then succeeded); ``failure``
    says why the run did not complete (None while it runs without failure, or once completed).
    """

    run_id: str
    workflow: str
    version: int
    state: RunState
    steps: Mapping[str, StepState]
    outputs: Mapping[str, Any]
    correlation_id: str | None
    created_at: float
    updated_at: float
    # Each routed step's condition, as data (empty when this process does not know the version).
    routes: Mapping[str, Any] = field(default_factory=dict)
    errors: Mapping[str, StepError] = field(default_factory=dict)
    compensation_errors: Mapping[str, StepError] = field(default_factory=dict)
    failure: RunFailure | None = None
    # Claims order (see _priorities), and each step's declared patterns as data: its fallback
    # route and rate limit (empty when this process does not know the version).
    priority: int = 0
    patterns: Mapping[str, Any] = field(default_factory=dict)
    # A stall policy's deadline (None without one) and when it fired (None until it did).
    deadline: float | None = None
    stalled_at: float | None = None

    @property
    def terminal(self) -> bool:
        """Whether the run has ended (completed, rolled_back, compensation_failed, cancelled)."""
        return self.state in TERMINAL_RUN_STATES

    def to_dict(self) -> dict[str, Any]:
        """The status as JSON-ready data."""
        return {
            "run_id": self.run_id,
            "workflow": self.workflow,
            "version": self.version,
            "state": str(self.state),
            "steps": {k: str(v) for k, v in self.steps.items()},
            "outputs": dict(self.outputs),
            "correlation_id": self.correlation_id,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
            "routes": dict(self.routes),
            "errors": {k: v.to_dict() for k, v in self.errors.items()},
            "compensation_errors": {k: v.to_dict() for k, v in self.compensation_errors.items()},
            "failure": None if self.failure is None else self.failure.to_dict(),
            "priority": self.priority,
            "patterns": {k: dict(v) for k, v in self.patterns.items()},
            "deadline": self.deadline,
            "stalled_at": self.stalled_at,
        }


def status_from_rows(
    run: RunRow,
    rows: list[dict[str, Any]],
    routes: Mapping[str, Any],
    patterns: Mapping[str, Any] | None = None,
) -> RunStatus:
    """A run's status from its row and its steps' rows."""
    errors = {row["step"]: decode_error(row["error"]) for row in rows}
    undos = {
        row["step"]: decode_error(row["compensation_error"], purpose="compensation") for row in rows
    }
    failed_undos = {
        row["step"]: undos[row["step"]]
        for row in rows
        if row["state"] == StepState.COMPENSATION_FAILED and undos[row["step"]] is not None
    }
    return RunStatus(
        run.run_id,
        run.workflow,
        run.version,
        RunState(run.state),
        {row["step"]: StepState(row["state"]) for row in rows},
        {row["step"]: json.loads(row["output"]) for row in rows if row["output"] is not None},
        run.correlation_id,
        run.created_at,
        run.updated_at,
        routes,
        {k: v for k, v in errors.items() if v is not None},
        {k: v for k, v in undos.items() if v is not None},
        read_failure(run.failure, {k: v for k, v in failed_undos.items() if v is not None}),
        run.priority,
        dict(patterns or {}),
        run.deadline,
        run.stalled_at,
    )


@dataclass(frozen=True)
class RunSummary:
    """One line of a run listing: the run's identity, state, times and why it failed."""

    run_id: str
    workflow: str
    version: int
    state: RunState
    correlation_id: str | None
    parent_run_id: str | None
    created_at: float
    updated_at: float
    failure: str | None  # the failure summary's one line, when the run did not complete

    def to_dict(self) -> dict[str, Any]:
        """The summary as JSON-ready data."""
        return {
            "run_id": self.run_id,
            "workflow": self.workflow,
            "version": self.version,
            "state": str(self.state),
            "correlation_id": self.correlation_id,
            "parent_run_id": self.parent_run_id,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
            "failure": self.failure,
        }


@dataclass(frozen=True)
class RunPage:
    """One page of a run listing, newest first; ``next_cursor`` fetches the next (None: last)."""

    runs: tuple[RunSummary, ...]
    next_cursor: str | None

    def to_dict(self) -> dict[str, Any]:
        """The page as JSON-ready data."""
        return {"runs": [r.to_dict() for r in self.runs], "next_cursor": self.next_cursor}


def encode_cursor(created_at: float, run_id: str) -> str:
    """The cursor that resumes a listing after the run ``(created_at, run_id)``.

    Its form, ``<created_at>:<run_id>`` (the float as Python writes it exactly), is stable and
    documented, so any string of that form names a position and none is refused.
    """
    return f"{created_at!r}:{run_id}"


def decode_cursor(cursor: str) -> tuple[float, str]:
    """The position a cursor names; ValueError when it is not of the form ``<number>:<id>``."""
    at, sep, run_id = cursor.partition(":")
    try:
        created_at = float(at)
    except ValueError:
        created_at = math.nan
    if not sep or not run_id or math.isnan(created_at) or not at.strip():
        raise ValueError(
            f"cursor={cursor!r} is not of the form '<created_at>:<run_id>'. Pass the "
            "next_cursor of the previous page unchanged, or omit it for the first page."
        )
    return created_at, run_id


def list_runs(
    store: Store,
    *,
    state: RunState | str | None = None,
    workflow: str | None = None,
    correlation_id: str | None = None,
    since: float | None = None,
    until: float | None = None,
    limit: int = DEFAULT_PAGE,
    cursor: str | None = None,
) -> RunPage:
    """A page of run summaries, newest first, filtered; ValueError names a bad argument."""
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_PAGE:
        raise ValueError(f"limit={limit!r} must be a whole number from 1 to {MAX_PAGE}.")
    query = select(runs)
    if state is not None:
        query = query.where(runs.c.state == str(_run_state(state)))
    if workflow is not None:
        query = query.where(runs.c.workflow == workflow)
    if correlation_id is not None:
        query = query.where(runs.c.correlation_id == correlation_id)
    for name, bound in (("since", since), ("until", until)):
        if bound is not None and not (isinstance(bound, int | float) and math.isfinite(bound)):
            raise ValueError(f"{name}={bound!r} must be a time in seconds since the epoch.")
    if since is not None:
        query = query.where(runs.c.created_at >= since)
    if until is not None:
        query = query.where(runs.c.created_at < until)
    if cursor is not None:
        at, run_id = decode_cursor(cursor)
        query = query.where(
            or_(runs.c.created_at < at, and_(runs.c.created_at == at, runs.c.run_id < run_id))
        )
    query = query.order_by(runs.c.created_at.desc(), runs.c.run_id.desc()).limit(limit + 1)
    with store.reading() as conn:
        rows = [RunRow(**row._mapping) for row in conn.execute(query).all()]
        page = rows[:limit]
        undone = _failed_compensations(conn, [row.run_id for row in page])
    summaries = tuple(
        RunSummary(
            row.run_id,
            row.workflow,
            row.version,
            RunState(row.state),
            row.correlation_id,
            row.parent_run_id,
            row.created_at,
            row.updated_at,
            _failure_line(row.failure, undone.get(row.run_id, {})),
        )
        for row in page
    )
    more = len(rows) > limit
    last = page[-1] if page else None
    next_cursor = encode_cursor(last.created_at, last.run_id) if more and last else None
    return RunPage(summaries, next_cursor)


def _run_state(state: RunState | str) -> RunState:
    try:
        return RunState(state)
    except ValueError:
        hint = " (renamed 'rolled_back' in schema version 2)" if state == "compensated" else ""
        raise ValueError(
            f"state={state!r} is not a run state{hint}; use one of "
            f"{', '.join(s.value for s in RunState)}."
        ) from None


def _failed_compensations(conn: Connection, run_ids: list[str]) -> dict[str, dict[str, StepError]]:
    """Each listed run's compensations that failed for good, in one query for the page."""
    found: dict[str, dict[str, StepError]] = {}
    if not run_ids:
        return found
    rows = conn.execute(
        select(steps.c.run_id, steps.c.step, steps.c.compensation_error).where(
            steps.c.run_id.in_(run_ids) & (steps.c.state == str(StepState.COMPENSATION_FAILED))
        )
    ).all()
    for run_id, step, text in rows:
        error = decode_error(text, purpose="compensation")
        if error is not None:
            found.setdefault(run_id, {})[step] = error
    return found


def _failure_line(text: str | None, undone: Mapping[str, StepError]) -> str | None:
    failure = read_failure(text, undone)
    return failure.reason if failure else None


def step_patterns(workflow: Workflow) -> dict[str, dict[str, Any]]:
    """Each step's declared orchestration patterns as plain data (what ``status`` shows)."""
    found: dict[str, dict[str, Any]] = {}
    for name, step in workflow.steps.items():
        declared: dict[str, Any] = {}
        if step.fallback is not None:
            declared["fallback"] = step.fallback.to_dict()
        if step.rate_limit is not None:
            declared["rate_limit"] = step.rate_limit.to_dict()
        if step.stall is not None:
            declared["stall"] = step.stall.to_dict()
        if step.concurrency is not None:
            declared["concurrency"] = step.concurrency.to_dict()
        if declared:
            found[name] = declared
    return found

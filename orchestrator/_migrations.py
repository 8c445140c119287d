"""Migrations of stored runs from older schema versions, registered in ``_schema.MIGRATIONS``.

Each runs inside the transaction that opens the store, so a migration that fails leaves the
store as it was. Each is idempotent: a store that already has a column is not altered again.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from sqlalchemy import Connection, inspect, select, text, update

from ._failures import StepError, cancel_record, decode_error, encode_error, failure_record
from ._schema import MIGRATIONS, RUN_INDEXES, canaries, events, rate_limits, runs, steps

_ACTION_FAILURES = ("step_failed", "step_retry_scheduled")
_COMPENSATION_FAILURES = ("compensation_failed", "compensation_retry_scheduled")


def _add_column(conn: Connection, table: str, column: str) -> None:
    if column not in {c["name"] for c in inspect(conn).get_columns(table)}:
        conn.execute(text(f"ALTER TABLE {table} ADD COLUMN {column} TEXT"))


def _error_text(detail: Mapping[str, Any]) -> str | None:
    error = detail.get("error")
    return error if isinstance(error, str) and error else None


def to_version_2(conn: Connection) -> None:
    """Errors as records, the run's failure summary, ``compensated`` renamed ``rolled_back``.

    Version 1 kept one error text per step, of whichever purpose failed last, so the event log
    decides which it was; every version-1 failure was compensated, so each is read back as
    indeterminate.
    """
    _add_column(conn, "cf_runs", "failure")
    _add_column(conn, "cf_steps", "compensation_error")
    for index in RUN_INDEXES:
        index.create(conn, checkfirst=True)
    conn.execute(update(runs).where(runs.c.state == "compensated").values(state="rolled_back"))
    conn.execute(
        update(events).where(events.c.kind == "run_compensated").values(kind="run_rolled_back")
    )
    kinds = (*_ACTION_FAILURES, *_COMPENSATION_FAILURES, "cancel_requested")
    log = conn.execute(
        select(events.c.run_id, events.c.step, events.c.kind, events.c.attempt, events.c.detail)
        .where(events.c.kind.in_(kinds))
        .order_by(events.c.seq)
    ).all()
    first_failure: dict[str, dict[str, Any]] = {}
    last: dict[tuple[str, str], tuple[str, int, Mapping[str, Any]]] = {}
    last_action: dict[tuple[str, str], tuple[int, Mapping[str, Any]]] = {}
    for run_id, step, kind, attempt, raw in log:
        detail = json.loads(raw or "{}")
        if kind == "cancel_requested":
            first_failure.setdefault(run_id, cancel_record(str(detail.get("reason", ""))))
            continue
        if step is None:
            continue
        last[(run_id, step)] = (kind, attempt, detail)
        if kind in _ACTION_FAILURES:
            last_action[(run_id, step)] = (attempt, detail)
        if kind == "step_failed" and run_id not in first_failure:
            error = decode_error(_error_text(detail))
            if error is not None:
                error = _with_attempt(error, attempt)
                first_failure[run_id] = failure_record(step, error)
    for run_id, record in first_failure.items():
        conn.execute(
            update(runs)
            .where((runs.c.run_id == run_id) & runs.c.failure.is_(None))
            .values(failure=json.dumps(record, sort_keys=True))
        )
    rows = conn.execute(
        select(steps.c.run_id, steps.c.step, steps.c.error).where(steps.c.error.is_not(None))
    ).all()
    for run_id, step, stored in rows:
        values = _step_errors((run_id, step), stored, last, last_action)
        conn.execute(
            update(steps)
            .where((steps.c.run_id == run_id) & (steps.c.step == step))
            .values(**values)
        )


def _step_errors(
    key: tuple[str, str],
    stored: str,
    last: Mapping[tuple[str, str], tuple[str, int, Mapping[str, Any]]],
    last_action: Mapping[tuple[str, str], tuple[int, Mapping[str, Any]]],
) -> dict[str, str | None]:
    kind, attempt, _detail = last.get(key, ("step_failed", 0, {}))
    if kind in _COMPENSATION_FAILURES:
        compensation = decode_error(stored, purpose="compensation")
        assert compensation is not None
        action_attempt, action_detail = last_action.get(key, (0, {}))
        action = decode_error(_error_text(action_detail))
        return {
            "compensation_error": encode_error(_with_attempt(compensation, attempt)),
            "error": None
            if action is None
            else encode_error(_with_attempt(action, action_attempt)),
        }
    action = decode_error(stored)
    assert action is not None
    return {"error": encode_error(_with_attempt(action, attempt))}


def _with_attempt(error: StepError, attempt: int) -> StepError:
    # Version 1 kept no attempt in the error text: the event that recorded it knows it.
    return replace(error, attempt=attempt) if error.attempt == 0 else error


def to_version_3(conn: Connection) -> None:
    """The orchestration patterns: a token bucket table for rate limits, a run's priority
    and its stall deadline.

    Nothing stored changes meaning: a version-2 run has priority 0 and no deadline.
    """
    rate_limits.create(conn, checkfirst=True)
    present = {c["name"] for c in inspect(conn).get_columns("cf_runs")}
    for column, kind in (
        ("priority", "INTEGER NOT NULL DEFAULT 0"),
        ("deadline", "FLOAT"),
        ("stall_policy", "VARCHAR(16)"),
        ("stalled_at", "FLOAT"),
    ):
        if column not in present:
            conn.execute(text(f"ALTER TABLE cf_runs ADD COLUMN {column} {kind}"))


def to_version_4(conn: Connection) -> None:
    """Canary versions: a table of the stopped ones. A version-3 store has none."""
    canaries.create(conn, checkfirst=True)


MIGRATIONS[2] = to_version_2
MIGRATIONS[3] = to_version_3
MIGRATIONS[4] = to_version_4

"""The durable store: SQLAlchemy Core over SQLite (WAL, full sync) or PostgreSQL (psycopg 3).

Every durable change is one transaction that writes state and appends to the event log together;
:class:`StoreTransaction` holds the few statements the engine needs inside such a transaction.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, insert, inspect, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import make_url
from sqlalchemy.exc import IntegrityError, OperationalError

from . import _migrations  # noqa: F401  (registers the migrations in MIGRATIONS)
from ._connect import READ_ONLY, create_store_engine, masked_url
from ._driver import DriverStatements
from ._errors import StoreError, StoreNotFound, StoreUnavailable
from ._group_commit import GroupCommitter
from ._rows import EventRow, RunRow, StepRow
from ._schema import (
    MIGRATIONS,
    SCHEMA_VERSION,
    breakers,
    events,
    meta,
    metadata,
    rate_limits,
    runs,
    steps,
)
from ._statements import (
    CLAIMABLE,
    EVENT_BATCH,
    EVENT_COLUMNS,
    EXTEND_LEASE,
    FINISH_LEASED,
    INSERT_RUN,
    INSERT_STEPS,
    LOCK_RUN,
    RUN_BY_ID,
    RUN_EXISTS,
    SET_RUN,
    SET_STEP,
    SPEND_BUDGETED_RETRY,
    SPEND_RETRY,
    STEPS_OF_RUN,
    STEPS_WITH_RUN_STATE,
    claim_candidates,
    insert_events,
    next_due,
    take_lease,
)
from ._states import StepState


class Store:
    """The orchestrator's durable state behind one engine."""

    def __init__(
        self,
        url: str,
        *,
        durable: bool = True,
        lock_timeout: float = 30.0,
        group_commit: bool = False,
        connections: int = 5,
    ) -> None:
        """Open the store at ``url``. With ``group_commit``, the transactions of this process's
        threads share commits (see ``_group_commit``): for many workers in one process on
        SQLite. ``connections``: the PostgreSQL connections kept open (one per worker thread)."""
        self.url = url
        self.engine = create_store_engine(
            url, durable=durable, lock_timeout=lock_timeout, connections=connections
        )
        self.is_sqlite = self.engine.dialect.name == "sqlite"
        self._driver = DriverStatements(self.engine.dialect)
        self._commit_listeners: list[Callable[[], None]] = []
        self.group: GroupCommitter | None = None
        if group_commit:
            self.group = GroupCommitter(self.engine, self._transaction_on)

    def on_work(self, listener: Callable[[], None]) -> None:
        """Call ``listener`` after each commit that may have made a step claimable.

        Workers of this process ring their doorbell from it, so an idle worker wakes at once
        instead of at its next poll; workers in other processes still poll.
        """
        self._commit_listeners.append(listener)

    def create_schema(self, *, create: bool = True) -> None:
        """Create the tables if they are missing, check the schema version, migrate an older one.

        With ``create=False`` a store that does not exist yet raises :class:`StoreNotFound`
        instead of being created: reading commands must not leave an empty store behind.
        """
        try:
            if not create:
                self._require_existing()
            else:
                metadata.create_all(self.engine)
            with self.transaction() as tx:
                found = tx.conn.execute(
                    select(meta.c.value).where(meta.c.key == "schema_version")
                ).scalar()
                if found is None:
                    tx.conn.execute(
                        insert(meta).values(key="schema_version", value=str(SCHEMA_VERSION))
                    )
                elif int(found) > SCHEMA_VERSION:
                    raise StoreError(
                        f"The store at {masked_url(self.url)!r} has schema version {found}, newer "
                        f"than this chaosflow's {SCHEMA_VERSION}. Upgrade chaosflow."
                    )
                elif int(found) < SCHEMA_VERSION:
                    for version in range(int(found) + 1, SCHEMA_VERSION + 1):
                        MIGRATIONS[version](tx.conn)
                    tx.conn.execute(
                        update(meta)
                        .where(meta.c.key == "schema_version")
                        .values(value=str(SCHEMA_VERSION))
                    )
        except OperationalError as error:
            raise StoreUnavailable(
                f"Cannot reach the store at {masked_url(self.url)!r}: {error.orig}. Check that the "
                "database is running and the URL is right."
            ) from None

    def _require_existing(self) -> None:
        database = make_url(self.url).database
        # Connecting would create a SQLite file: look first.
        if (
            self.is_sqlite
            and database not in (None, "", ":memory:")
            and not Path(database).is_file()
        ):
            raise StoreNotFound(
                f"There is no store at {masked_url(self.url)!r}: the file {database!r} does "
                "not exist. Check the path (a relative one is read from the current "
                "directory), or start a worker or submit a run to create it."
            )
        if not inspect(self.engine).has_table(meta.name):
            raise StoreNotFound(
                f"The database at {masked_url(self.url)!r} holds no chaosflow store (no "
                f"{meta.name!r} table). Check the URL, or start a worker or submit a run to "
                "create one."
            )

    @contextmanager
    def transaction(self) -> Iterator[StoreTransaction]:
        """One durable transaction: commits when the block ends, rolls back when it raises."""
        if self.group is not None:
            with self.group.transaction(self._woken) as tx:
                yield tx
            return
        with self.engine.begin() as conn:
            tx = StoreTransaction(conn, self.is_sqlite, self._driver)
            yield tx
            tx.flush_events()
        if tx.wakes:
            self._woken()

    def _transaction_on(self, conn: Connection) -> StoreTransaction:
        return StoreTransaction(conn, self.is_sqlite, self._driver)

    def _woken(self) -> None:
        for listener in self._commit_listeners:
            listener()

    def next_due(self, workflows: list[str]) -> float | None:
        """The earliest time a step of ``workflows`` becomes claimable that is not claimable by
        state alone: a retry's ``not_before`` or a lease's expiry; None when nothing waits."""
        with self.reading() as conn:
            row = conn.execute(next_due(tuple(workflows))).one()
        due = [value for value in row if value is not None]
        return min(due) if due else None

    @contextmanager
    def reading(self) -> Iterator[Connection]:
        """A connection for reads only: on SQLite it takes no write lock (a deferred BEGIN)."""
        with self.engine.connect() as conn:
            conn.execution_options(**{READ_ONLY: True})
            yield conn

    def dispose(self) -> None:
        """Close every pooled connection."""
        if self.group is not None:
            self.group.dispose()
        self.engine.dispose()

    def clear_work_listeners(self) -> None:
        """Forget every listener :meth:`on_work` added."""
        self._commit_listeners.clear()

    def reset(self) -> None:
        """Delete every run, step, event, breaker and rate limit bucket (the schema stays).

        For a simulation that reuses one store for many cases; never for a store in use. Event
        numbers start at 1 again (on SQLite, whose rowids restart after the table is emptied).
        """
        with self.engine.begin() as conn:
            for table in (events, steps, runs, breakers, rate_limits):
                conn.execute(table.delete())

    def run(self, run_id: str) -> RunRow | None:
        """A run's row, or None when the store does not know it."""
        with self.reading() as conn:
            row = conn.execute(RUN_BY_ID, {"b_run": run_id}).one_or_none()
        return RunRow(**row._mapping) if row else None

    def runs(self) -> list[RunRow]:
        """Every run, oldest first."""
        with self.reading() as conn:
            rows = conn.execute(select(runs).order_by(runs.c.created_at, runs.c.run_id)).all()
        return [RunRow(**row._mapping) for row in rows]

    def step_rows(self, run_id: str) -> list[dict[str, Any]]:
        """A run's steps as plain dicts."""
        with self.reading() as conn:
            rows = conn.execute(select(steps).where(steps.c.run_id == run_id)).all()
        return [dict(row._mapping) for row in rows]

    def events(self, run_id: str | None = None, after_seq: int = 0) -> list[EventRow]:
        """Event log entries after ``after_seq``, for one run or for all, in log order."""
        query = select(events).where(events.c.seq > after_seq).order_by(events.c.seq)
        if run_id is not None:
            query = query.where(events.c.run_id == run_id)
        with self.reading() as conn:
            rows = conn.execute(query).all()
        return [EventRow(**{**row._mapping, "detail": json.loads(row.detail)}) for row in rows]


# Only a step that became claimable is worth waking an idle worker for.
_CLAIMABLE = frozenset(str(s) for s in CLAIMABLE)


class StoreTransaction:
    """The statements the engine runs inside one transaction."""

    def __init__(
        self, conn: Connection, is_sqlite: bool, driver: DriverStatements | None = None
    ) -> None:
        self.conn = conn
        self._sql = (driver or DriverStatements(conn.dialect)).execute
        self._is_sqlite = is_sqlite
        # Whether this transaction wrote something that may make a step claimable.
        self.wakes = False
        self._events: list[tuple[Any, ...]] = []

    def insert_run(self, row: Mapping[str, Any], step_states: Mapping[str, StepState]) -> bool:
        """Insert a run and its steps; False when the run id exists already (idempotent submit)."""
        exists = self.conn.execute(RUN_EXISTS, {"b_run": row["run_id"]}).scalar()
        if exists is not None:
            return False
        try:
            self.conn.execute(INSERT_RUN, dict(row))
        except IntegrityError:
            return False
        now = row["created_at"]
        self.wakes = True
        self.conn.execute(
            INSERT_STEPS,
            [
                {
                    "run_id": row["run_id"],
                    "step": name,
                    "state": str(state),
                    "attempt": 0,
                    "not_before": 0.0,
                    "updated_at": now,
                }
                for name, state in step_states.items()
            ],
        )
        return True

    def run(self, run_id: str) -> RunRow | None:
        """The run's row inside this transaction."""
        row = self._sql(self.conn, RUN_BY_ID, {"b_run": run_id}).one_or_none()
        return RunRow(**row._mapping) if row else None

    def lock_run(self, run_id: str) -> None:
        """Serialise the transitions of one run until this transaction ends.

        Every transaction that reads a run's steps to decide what follows takes this lock first.
        Without it, two branches finishing at once under READ COMMITTED would each see the other
        still running, and neither would make their join ready. SQLite needs no row lock: its
        write transactions (BEGIN IMMEDIATE) are serial already.
        """
        if not self._is_sqlite:
            self._sql(self.conn, LOCK_RUN, {"b_run": run_id})

    def steps(self, run_id: str) -> dict[str, StepRow]:
        """The run's steps inside this transaction."""
        return _step_rows(self._sql(self.conn, STEPS_OF_RUN, {"b_run": run_id}).all())

    def steps_and_run_state(self, run_id: str) -> tuple[dict[str, StepRow], str]:
        """The run's steps and the run's state, in one read (what recording an outcome needs)."""
        rows = self._sql(self.conn, STEPS_WITH_RUN_STATE, {"b_run": run_id}).all()
        assert rows, f"run {run_id!r} has no steps"  # a run is inserted with all its steps
        return _step_rows(rows), rows[0].run_state

    def claim_candidates(
        self, now: float, limit: int, workflows: list[str]
    ) -> list[tuple[str, str, str, str | None]]:
        """Steps of ``workflows`` that may be claimed now: ready ones and expired leases."""
        query = claim_candidates(tuple(workflows), for_update=not self._is_sqlite)
        params = {"b_now": now, "b_limit": limit}
        rows = self.conn.execute(query, params).all()
        return [(row[0], row[1], row[2], row[3]) for row in rows]

    def take_lease(
        self,
        run_id: str,
        step: str,
        old_state: str,
        old_token: str | None,
        new_state: str,
        worker_id: str,
        expires_at: float,
        now: float,
        *,
        due: bool = False,
    ) -> tuple[str, int] | None:
        """Move a candidate to its leased state; returns (token, attempt) or None if it moved.

        With ``due``, only if its ``not_before`` has come (a chained claim has not read it)."""
        token = str(uuid.uuid4())
        params = {
            "b_run": run_id,
            "b_step": step,
            "b_state": old_state,
            "state": new_state,
            "lease_token": token,
            "lease_owner": worker_id,
            "lease_expires_at": expires_at,
            "updated_at": now,
        }
        if old_token is not None:
            params["b_token"] = old_token
        if due:
            params["b_now"] = now
        statement = take_lease(held=old_token is not None, due=due)
        result = self._sql(self.conn, statement, params).one_or_none()
        return (token, int(result.attempt)) if result else None

    def finish_leased(
        self, run_id: str, step: str, token: str, new_state: str, now: float, **values: Any
    ) -> bool:
        """Release a lease with a new state, fenced: False when the lease was taken over."""
        self.wakes |= new_state in _CLAIMABLE
        params = {
            "b_run": run_id,
            "b_step": step,
            "b_token": token,
            "state": new_state,
            "lease_token": None,
            "lease_owner": None,
            "lease_expires_at": None,
            "updated_at": now,
            **values,
        }
        return self._sql(self.conn, FINISH_LEASED, params).rowcount == 1

    def extend_lease(self, run_id: str, step: str, token: str, expires_at: float) -> bool:
        """Push a held lease's expiry out (a heartbeat); False when the lease was taken over."""
        params = {"b_run": run_id, "b_step": step, "b_token": token, "lease_expires_at": expires_at}
        return self._sql(self.conn, EXTEND_LEASE, params).rowcount == 1

    def set_step_state(self, run_id: str, step: str, state: str, now: float, **values: Any) -> None:
        """Move a step that no lease holds (readiness, skips, scheduling of compensations)."""
        self.wakes |= state in _CLAIMABLE
        params = {"b_run": run_id, "b_step": step, "state": state, "updated_at": now, **values}
        self._sql(self.conn, SET_STEP, params)

    def step_errors(self, run_id: str, step: str) -> tuple[str | None, str | None]:
        """A step's stored last errors (action, compensation), as JSON text."""
        row = self.conn.execute(
            select(steps.c.error, steps.c.compensation_error).where(
                (steps.c.run_id == run_id) & (steps.c.step == step)
            )
        ).one_or_none()
        return (row.error, row.compensation_error) if row else (None, None)

    def compensation_errors(self, run_id: str) -> dict[str, str]:
        """Each step of the run whose compensation failed for good, with its last error."""
        rows = self.conn.execute(
            select(steps.c.step, steps.c.compensation_error).where(
                (steps.c.run_id == run_id) & (steps.c.state == str(StepState.COMPENSATION_FAILED))
            )
        ).all()
        return {row.step: row.compensation_error or "" for row in rows}

    def set_run_failure(self, run_id: str, failure: Mapping[str, Any]) -> None:
        """Record why the run did not complete; the first reason stays (later ones follow it)."""
        self.conn.execute(
            update(runs)
            .where((runs.c.run_id == run_id) & runs.c.failure.is_(None))
            .values(failure=json.dumps(dict(failure), sort_keys=True))
        )

    def spend_retry(self, run_id: str, budget: int | None) -> bool:
        """Spend one retry of the run's budget; False when the budget is used up."""
        if budget is None:
            result = self.conn.execute(SPEND_RETRY, {"b_run": run_id})
        else:
            result = self.conn.execute(SPEND_BUDGETED_RETRY, {"b_run": run_id, "b_budget": budget})
        return result.rowcount == 1

    def breaker(self, resource: str) -> dict[str, Any]:
        """A circuit breaker's row, created closed on first use, locked for this transaction."""
        dialect_insert = sqlite_insert if self._is_sqlite else postgresql_insert
        self.conn.execute(
            dialect_insert(breakers)
            .values(resource=resource, state="closed", failures=0, opened_at=None)
            .on_conflict_do_nothing(index_elements=["resource"])
        )
        query = select(breakers).where(breakers.c.resource == resource)
        if not self._is_sqlite:
            query = query.with_for_update()
        return dict(self.conn.execute(query).one()._mapping)

    def set_breaker(self, resource: str, **values: Any) -> None:
        """Update a circuit breaker's row."""
        self.conn.execute(update(breakers).where(breakers.c.resource == resource).values(**values))

    def rate_limit_bucket(self, name: str, burst: float, now: float) -> tuple[float, float]:
        """A rate limit's bucket (tokens, updated_at), created full on first use, locked for
        this transaction."""
        dialect_insert = sqlite_insert if self._is_sqlite else postgresql_insert
        self.conn.execute(
            dialect_insert(rate_limits)
            .values(name=name, tokens=burst, updated_at=now)
            .on_conflict_do_nothing(index_elements=["name"])
        )
        query = select(rate_limits.c.tokens, rate_limits.c.updated_at).where(
            rate_limits.c.name == name
        )
        if not self._is_sqlite:
            query = query.with_for_update()
        row = self.conn.execute(query).one()
        return float(row.tokens), float(row.updated_at)

    def set_rate_limit_bucket(self, name: str, tokens: float, updated_at: float) -> None:
        """Write a rate limit's bucket back."""
        self.conn.execute(
            update(rate_limits)
            .where(rate_limits.c.name == name)
            .values(tokens=tokens, updated_at=updated_at)
        )

    def set_run_state(self, run_id: str, state: str, now: float) -> None:
        """Move a run to ``state``."""
        self._sql(self.conn, SET_RUN, {"b_run": run_id, "state": state, "updated_at": now})

    def append_event(
        self,
        run_id: str,
        kind: str,
        at: float,
        *,
        step: str | None = None,
        attempt: int = 0,
        worker_id: str | None = None,
        detail: Mapping[str, Any] | None = None,
    ) -> None:
        """Append one entry to the event log (written, in order, before the commit)."""
        detail_text = json.dumps(dict(detail or {}), sort_keys=True)
        self._events.append((run_id, step, kind, attempt, worker_id, at, detail_text))

    def flush_events(self) -> None:
        """Write the appended entries: one INSERT of many rows (a round trip per step saved)."""
        pending, self._events = self._events, []
        for start in range(0, len(pending), EVENT_BATCH):
            chunk = pending[start : start + EVENT_BATCH]
            params = {
                f"{name}_{i}": v
                for i, row in enumerate(chunk)
                for name, v in zip(EVENT_COLUMNS, row, strict=True)
            }
            self._sql(self.conn, insert_events(len(chunk)), params)


def _step_rows(rows: Any) -> dict[str, StepRow]:
    return {
        row.step: StepRow(
            row.run_id, row.step, StepState(row.state), row.attempt, row.lease_token, row.output
        )
        for row in rows
    }

"""The durable store: SQLAlchemy Core over SQLite (WAL, full sync) or PostgreSQL (psycopg 3).

Every durable change is one transaction that writes state and appends to the event log together;
:class:`StoreTransaction` holds the few statements the engine needs inside such a transaction.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event, insert, inspect, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, IntegrityError, OperationalError
from sqlalchemy.pool import StaticPool

from . import _migrations  # noqa: F401  (registers the migrations in MIGRATIONS)
from ._errors import StoreError, StoreNotFound, StoreUnavailable
from ._schema import (
    MIGRATIONS,
    SCHEMA_VERSION,
    breakers,
    events,
    meta,
    metadata,
    runs,
    steps,
)
from ._statements import (
    EXTEND_LEASE,
    FINISH_LEASED,
    INSERT_EVENT,
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
    claim_candidates,
    next_due,
    take_lease,
)
from ._states import StepState


@dataclass(frozen=True)
class StepRow:
    """A step's durable state, as read inside a transaction."""

    run_id: str
    step: str
    state: StepState
    attempt: int
    lease_token: str | None
    output: str | None


@dataclass(frozen=True)
class RunRow:
    """A run's durable state."""

    run_id: str
    workflow: str
    version: int
    state: str
    input: str
    correlation_id: str | None
    parent_run_id: str | None
    parent_step: str | None
    retries_used: int
    created_at: float
    updated_at: float
    failure: str | None = None


@dataclass(frozen=True)
class EventRow:
    """One entry of the append-only event log."""

    seq: int
    run_id: str
    step: str | None
    kind: str
    attempt: int
    worker_id: str | None
    at: float
    detail: Mapping[str, Any]


# The execution option that marks a connection as a reader (see ``Store.reading``).
READ_ONLY = "chaosflow_read_only"


def masked_url(url: str) -> str:
    """``url`` with its password hidden, for error messages and logs."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "<unparseable URL>"


def _configure_sqlite(engine: Engine, *, durable: bool, lock_timeout: float) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy's begin event emit BEGIN IMMEDIATE instead of pysqlite's deferred BEGIN,
        # so two writers never deadlock upgrading a read lock (the same choice DBOS makes).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA synchronous={'FULL' if durable else 'OFF'}")
        cursor.execute(f"PRAGMA busy_timeout={int(lock_timeout * 1000)}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        # A reader takes no write lock: it must never wait behind a writer, nor block one (a
        # harness counting runs while a frozen worker holds the lock, say).
        reading = connection.get_execution_options().get(READ_ONLY, False)
        connection.exec_driver_sql("BEGIN" if reading else "BEGIN IMMEDIATE")


def create_store_engine(url: str, *, durable: bool = True, lock_timeout: float = 30.0) -> Engine:
    """An engine for ``url``, set up for durability (SQLite) or for many workers (PostgreSQL).

    ``durable=False`` (SQLite) commits without fsync, and ``lock_timeout=0`` makes a writer that
    finds the database locked fail at once instead of waiting: both are for the simulation,
    where durability is modelled rather than measured, and where a wait must be a retry on the
    virtual clock (a blocked thread would stop the whole simulated world).
    """
    try:
        parsed = make_url(url)
    except ArgumentError as error:
        raise StoreError(
            f"Store URL {url!r} is not a database URL ({error}). Use e.g. "
            "'sqlite:///chaosflow.db' or 'postgresql+psycopg://user@host:5432/db'."
        ) from None
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        in_memory = parsed.database in (None, "", ":memory:")
        kwargs: dict[str, Any] = {"connect_args": {"check_same_thread": False}}
        if in_memory:
            # One shared connection, or every thread would see its own empty database.
            kwargs["poolclass"] = StaticPool
        elif lock_timeout == 0:
            # Cooperative tasks cannot wait for a pooled connection either.
            kwargs["max_overflow"] = -1
        engine = create_engine(url, **kwargs)
        _configure_sqlite(engine, durable=durable, lock_timeout=lock_timeout)
        return engine
    if backend == "postgresql":
        if parsed.get_driver_name() != "psycopg":
            parsed = parsed.set(drivername="postgresql+psycopg")
        # No pre-ping: a lost connection surfaces as an OperationalError that the worker retries.
        return create_engine(parsed, pool_pre_ping=False, pool_size=5, max_overflow=5)
    raise StoreError(
        f"Store URL {masked_url(url)!r} uses backend {backend!r}; chaosflow supports 'sqlite' and "
        "'postgresql'."
    )


class Store:
    """The orchestrator's durable state behind one engine."""

    def __init__(self, url: str, *, durable: bool = True, lock_timeout: float = 30.0) -> None:
        self.url = url
        self.engine = create_store_engine(url, durable=durable, lock_timeout=lock_timeout)
        self.is_sqlite = self.engine.dialect.name == "sqlite"
        self._commit_listeners: list[Callable[[], None]] = []

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
        with self.engine.begin() as conn:
            tx = StoreTransaction(conn, self.is_sqlite)
            yield tx
        if tx.wakes:
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
        self.engine.dispose()

    def clear_work_listeners(self) -> None:
        """Forget every listener :meth:`on_work` added."""
        self._commit_listeners.clear()

    def reset(self) -> None:
        """Delete every run, step, event and breaker (the schema stays).

        For a simulation that reuses one store for many cases; never for a store in use. Event
        numbers start at 1 again (on SQLite, whose rowids restart after the table is emptied).
        """
        with self.engine.begin() as conn:
            for table in (events, steps, runs, breakers):
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


class StoreTransaction:
    """The statements the engine runs inside one transaction."""

    def __init__(self, conn: Connection, is_sqlite: bool) -> None:
        self.conn = conn
        self._is_sqlite = is_sqlite
        # Whether this transaction wrote something that may make a step claimable.
        self.wakes = False

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
        row = self.conn.execute(RUN_BY_ID, {"b_run": run_id}).one_or_none()
        return RunRow(**row._mapping) if row else None

    def lock_run(self, run_id: str) -> None:
        """Serialise the transitions of one run until this transaction ends.

        Every transaction that reads a run's steps to decide what follows takes this lock first.
        Without it, two branches finishing at once under READ COMMITTED would each see the other
        still running, and neither would make their join ready. SQLite needs no row lock: its
        write transactions (BEGIN IMMEDIATE) are serial already.
        """
        if not self._is_sqlite:
            self.conn.execute(LOCK_RUN, {"b_run": run_id})

    def steps(self, run_id: str) -> dict[str, StepRow]:
        """The run's steps inside this transaction."""
        rows = self.conn.execute(STEPS_OF_RUN, {"b_run": run_id}).all()
        return {
            row.step: StepRow(
                row.run_id, row.step, StepState(row.state), row.attempt, row.lease_token, row.output
            )
            for row in rows
        }

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
    ) -> tuple[str, int] | None:
        """Move a candidate to its leased state; returns (token, attempt) or None if it moved."""
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
        result = self.conn.execute(take_lease(held=old_token is not None), params).one_or_none()
        return (token, int(result.attempt)) if result else None

    def finish_leased(
        self, run_id: str, step: str, token: str, new_state: str, now: float, **values: Any
    ) -> bool:
        """Release a lease with a new state, fenced: False when the lease was taken over."""
        self.wakes = True
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
        return self.conn.execute(FINISH_LEASED, params).rowcount == 1

    def extend_lease(self, run_id: str, step: str, token: str, expires_at: float) -> bool:
        """Push a held lease's expiry out (a heartbeat); False when the lease was taken over."""
        params = {"b_run": run_id, "b_step": step, "b_token": token, "lease_expires_at": expires_at}
        return self.conn.execute(EXTEND_LEASE, params).rowcount == 1

    def set_step_state(self, run_id: str, step: str, state: str, now: float, **values: Any) -> None:
        """Move a step that no lease holds (readiness, skips, scheduling of compensations)."""
        self.wakes = True
        params = {"b_run": run_id, "b_step": step, "state": state, "updated_at": now, **values}
        self.conn.execute(SET_STEP, params)

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

    def set_run_state(self, run_id: str, state: str, now: float) -> None:
        """Move a run to ``state``."""
        self.conn.execute(SET_RUN, {"b_run": run_id, "state": state, "updated_at": now})

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
        """Append one entry to the event log."""
        self.conn.execute(
            INSERT_EVENT,
            {
                "run_id": run_id,
                "step": step,
                "kind": kind,
                "attempt": attempt,
                "worker_id": worker_id,
                "at": at,
                "detail": json.dumps(dict(detail or {}), sort_keys=True),
            },
        )

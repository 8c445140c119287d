"""Connecting to a store: the engine for a URL, set up for durability (SQLite) or for many
workers (PostgreSQL), and URLs fit for messages."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.pool import StaticPool

from ._errors import StoreError

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


def create_store_engine(
    url: str, *, durable: bool = True, lock_timeout: float = 30.0, connections: int = 5
) -> Engine:
    """An engine for ``url``, set up for durability (SQLite) or for many workers (PostgreSQL).

    ``durable=False`` (SQLite) commits without fsync, and ``lock_timeout=0`` makes a writer that
    finds the database locked fail at once instead of waiting: both are for the simulation,
    where durability is modelled rather than measured, and where a wait must be a retry on the
    virtual clock (a blocked thread would stop the whole simulated world). ``connections`` is
    how many PostgreSQL connections the pool keeps open (five more may be opened for a moment).
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
        return create_engine(parsed, pool_pre_ping=False, pool_size=connections, max_overflow=5)
    raise StoreError(
        f"Store URL {masked_url(url)!r} uses backend {backend!r}; chaosflow supports 'sqlite' and "
        "'postgresql'."
    )

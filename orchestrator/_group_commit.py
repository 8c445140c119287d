"""Group commit: the transactions of several threads of one process share one durable commit.

Every step's outcome is one transaction, and on a durable store each commit waits for the disk
(SQLite's WAL fsync, PostgreSQL's WAL flush). With several runs in flight in one process, their
workers would each pay for a flush of their own, and on SQLite queue for the database's single
write lock. A :class:`GroupCommitter` instead runs their transaction bodies one after another
on one connection, each in a savepoint of a shared transaction, and commits that transaction
once for all of them: when no other body is waiting to run, or when the batch is full. A body
that raises rolls back its own savepoint only. Nobody returns before the commit that holds
their writes has succeeded; when that commit fails, every body of the batch sees the error (and
``db_retry`` retries its own transaction), so a step acknowledged is on disk, as without it.

Threads only: the simulation's cooperative tasks must never block on a lock, and it does not
measure durability, so its stores commit one transaction at a time.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection, Engine
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from ._errors import StoreError

# The most bodies one commit carries: a bound on how long the first of them waits.
MAX_BATCH = 64


def shares_commits(url: str, concurrency: int) -> bool:
    """Whether ``concurrency`` workers of one process on ``url`` should share commits.

    On SQLite, yes when there are several: they would otherwise queue for its one write lock,
    a flush each. On PostgreSQL, no: the server already lets concurrent commits share a WAL
    flush, and one shared connection would serialise every statement's round trip (measured
    1.2-1.7x slower for 8 runs at once, ``docs/performance.md``).
    """
    try:
        backend = make_url(url).get_backend_name()
    except ArgumentError:
        return False  # the store refuses the URL itself, with a better message
    return concurrency > 1 and backend == "sqlite"


class _Batch:
    """One shared transaction: its members, and how its commit ended."""

    def __init__(self) -> None:
        self.members = 0
        self.wakes = False
        self.done = False
        self.error: BaseException | None = None


class GroupCommitter:
    """Runs transaction bodies of many threads on one connection; one commit per batch."""

    def __init__(self, engine: Engine, make_tx: Callable[[Connection], Any]) -> None:
        self._engine = engine
        self._make_tx = make_tx
        self._cond = threading.Condition()
        self._busy = False  # a body (or a commit) is using the connection
        self._queued = 0  # threads waiting to run a body
        self._conn: Connection | None = None
        self._batch: _Batch | None = None
        self._owner: int | None = None
        self.commits = 0
        self.bodies = 0

    @contextmanager
    def transaction(self, on_wake: Callable[[], None]) -> Iterator[Any]:
        """A transaction body's block: durable once the block has returned."""
        me = threading.get_ident()
        with self._cond:
            if self._owner == me:
                raise StoreError(
                    "A store transaction was opened inside another on the same thread, which "
                    "group commit cannot serve (the inner one would wait for the outer). Do the "
                    "work in the outer transaction."
                )
            self._queued += 1
            self._cond.wait_for(lambda: not self._busy)
            self._queued -= 1
            self._busy, self._owner = True, me
            batch = self._open()
        assert self._conn is not None
        conn = self._conn
        try:
            savepoint = conn.begin_nested()
            tx = self._make_tx(conn)
            try:
                yield tx
                tx.flush_events()
            except BaseException:
                savepoint.rollback()
                raise
            savepoint.commit()
        except BaseException:
            with self._cond:
                self._owner = None
                if self._queued:
                    self._release()  # the next body carries the batch on
                else:
                    # Nobody follows: commit what the others wrote (they wait for it), or, when
                    # this was the only body, end the empty transaction.
                    self._close(batch, commit=batch.members > 0)
            raise
        with self._cond:
            batch.members += 1
            batch.wakes |= bool(getattr(tx, "wakes", False))
            self.bodies += 1
            self._owner = None
            if self._queued == 0 or batch.members >= MAX_BATCH:
                self._close(batch, commit=True)
            else:
                self._release()
                self._cond.wait_for(lambda: batch.done)
        if batch.error is not None:
            raise batch.error
        if batch.wakes:
            on_wake()

    def _open(self) -> _Batch:
        """The open batch, or a new one on a connection of its own (called with the lock)."""
        if self._batch is None:
            if self._conn is None:
                self._conn = self._engine.connect()
            self._conn.begin()
            self._batch = _Batch()
        return self._batch

    def _release(self) -> None:
        self._busy = False
        self._cond.notify_all()

    def _close(self, batch: _Batch, *, commit: bool) -> None:
        """Commit (or roll back) the shared transaction; wakes every member (with the lock).

        The commit is made while the lock is held: no body can run meanwhile anyway (the
        connection is busy), and the bodies that queue during the flush form the next batch.
        """
        assert self._conn is not None
        try:
            if commit:
                self._conn.commit()
                self.commits += 1
            else:
                self._conn.rollback()
        except BaseException as error:
            batch.error = error
            # The connection may be broken: throw it away, the next batch takes a fresh one.
            try:
                self._conn.invalidate()
                self._conn.close()
            except Exception:  # already broken; nothing more to lose
                pass
            self._conn = None
        batch.done = True
        self._batch = None
        self._release()

    def dispose(self) -> None:
        """Close the shared connection (no batch may be open)."""
        with self._cond:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

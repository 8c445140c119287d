"""The effect ledger: every effect a service applied, as the service recorded it.

Two ledgers with one interface: :class:`EffectLedger`, a SQLite file of its own (independent of
the orchestrator's store) that every process of a real run writes, safe across SIGKILLs; and
:class:`MemoryLedger`, for the simulation, where effects carry virtual times and nothing needs
a disk. Checkers judge the orchestrator from these records, as Jepsen judges from a history.
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

LEDGER_ENV = "CHAOSFLOW_LEDGER"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS effects (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    service TEXT NOT NULL,
    kind TEXT NOT NULL,            -- 'apply' or 'compensate'
    key TEXT NOT NULL,             -- the idempotency key the service was given
    run_id TEXT NOT NULL,
    step TEXT NOT NULL,
    at REAL NOT NULL,
    pid INTEGER NOT NULL,
    payload TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS voided (   -- undone before it was applied: a late apply is refused
    service TEXT NOT NULL,
    run_id TEXT NOT NULL,
    step TEXT NOT NULL,
    PRIMARY KEY (service, run_id, step)
)
"""


@dataclass(frozen=True)
class Effect:
    """One effect a service applied, as the service recorded it.

    ``at`` is the service's clock (virtual in a simulation); ``pid`` the process that recorded
    it (0 in a simulation, where processes are logical).
    """

    seq: int
    service: str
    kind: str
    key: str
    run_id: str
    step: str
    at: float
    pid: int
    payload: dict[str, Any]


class Ledger(Protocol):
    """What a recording service needs of a ledger: atomic look-ups and inserts."""

    def atomically(self) -> Any:
        """A context in which a look-up and an insert are one step (no other service between)."""
        ...

    def find(
        self,
        service: str,
        kind: str,
        *,
        key: str | None = None,
        run_id: str | None = None,
        step: str | None = None,
    ) -> int | None:
        """The seq of an effect of ``service`` and ``kind`` matching the given fields, or None."""
        ...

    def insert(
        self, service: str, kind: str, key: str, run_id: str, step: str, payload: Mapping[str, Any]
    ) -> int:
        """Record an effect; returns its seq."""
        ...

    def void(self, service: str, run_id: str, step: str) -> None:
        """Remember that (run, step) was undone before anything was applied for it."""
        ...

    def voided(self, service: str, run_id: str, step: str) -> bool:
        """Whether :meth:`void` was called for (run, step)."""
        ...

    def effects(self) -> list[Effect]:
        """Every recorded effect, in the order the services applied them."""
        ...


class EffectLedger:
    """A SQLite file that records every applied effect, shared by all processes of a run."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._conn: sqlite3.Connection | None = None
        with self._connect() as conn:
            conn.executescript(_SCHEMA)

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        # One connection per use: cheap, and safe across threads and forked processes.
        conn = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=FULL")
            yield conn
        finally:
            conn.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """A write transaction, taken at once so two services never interleave check and write."""
        with self._connect() as conn:
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    @contextmanager
    def atomically(self) -> Iterator[None]:
        """One write transaction around the look-ups and inserts inside it."""
        with self.transaction() as conn:
            self._conn = conn
            try:
                yield
            finally:
                self._conn = None

    def _require(self) -> sqlite3.Connection:
        if self._conn is None:
            raise RuntimeError("EffectLedger.find/insert must run inside ledger.atomically().")
        return self._conn

    def find(
        self,
        service: str,
        kind: str,
        *,
        key: str | None = None,
        run_id: str | None = None,
        step: str | None = None,
    ) -> int | None:
        """The seq of a matching effect, or None (inside :meth:`atomically`)."""
        where, values = ["service=?", "kind=?"], [service, kind]
        for column, value in (("key", key), ("run_id", run_id), ("step", step)):
            if value is not None:
                where.append(f"{column}=?")
                values.append(value)
        row = (
            self._require()
            .execute(f"SELECT seq FROM effects WHERE {' AND '.join(where)} LIMIT 1", values)
            .fetchone()
        )
        return None if row is None else int(row[0])

    def insert(
        self,
        service: str,
        kind: str,
        key: str,
        run_id: str,
        step: str,
        payload: Mapping[str, Any],
    ) -> int:
        """Record an effect at the wall clock's time (inside :meth:`atomically`)."""
        cursor = self._require().execute(
            "INSERT INTO effects (service, kind, key, run_id, step, at, pid, payload) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                service,
                kind,
                key,
                run_id,
                step,
                time.time(),
                os.getpid(),
                json.dumps(dict(payload), sort_keys=True),
            ),
        )
        return int(cursor.lastrowid or 0)

    def void(self, service: str, run_id: str, step: str) -> None:
        """Remember an undo that found nothing (inside :meth:`atomically`)."""
        self._require().execute(
            "INSERT OR IGNORE INTO voided (service, run_id, step) VALUES (?, ?, ?)",
            (service, run_id, step),
        )

    def voided(self, service: str, run_id: str, step: str) -> bool:
        """Whether (run, step) was undone before it was applied (inside :meth:`atomically`)."""
        row = (
            self._require()
            .execute(
                "SELECT 1 FROM voided WHERE service=? AND run_id=? AND step=?",
                (service, run_id, step),
            )
            .fetchone()
        )
        return row is not None

    def effects(self) -> list[Effect]:
        """Every recorded effect, in the order the services applied them."""
        with self._connect() as conn:
            rows = conn.execute(
                "SELECT seq, service, kind, key, run_id, step, at, pid, payload FROM effects "
                "ORDER BY seq"
            ).fetchall()
        return [
            Effect(
                row[0], row[1], row[2], row[3], row[4], row[5], row[6], row[7], json.loads(row[8])
            )
            for row in rows
        ]


class MemoryLedger:
    """The simulation's ledger: effects in memory, stamped with the world's virtual time.

    A simulation runs one task at a time, so a look-up and an insert with no wait between them
    are atomic already; :meth:`atomically` is there for the interface.
    """

    def __init__(self, now: Callable[[], float]) -> None:
        self._now = now
        self._effects: list[Effect] = []
        self._voided: set[tuple[str, str, str]] = set()

    @contextmanager
    def atomically(self) -> Iterator[None]:
        """Nothing to take: no other task runs until this one waits."""
        yield

    def find(
        self,
        service: str,
        kind: str,
        *,
        key: str | None = None,
        run_id: str | None = None,
        step: str | None = None,
    ) -> int | None:
        """The seq of a matching effect, or None."""
        for effect in self._effects:
            if (
                effect.service == service
                and effect.kind == kind
                and (key is None or effect.key == key)
                and (run_id is None or effect.run_id == run_id)
                and (step is None or effect.step == step)
            ):
                return effect.seq
        return None

    def insert(
        self,
        service: str,
        kind: str,
        key: str,
        run_id: str,
        step: str,
        payload: Mapping[str, Any],
    ) -> int:
        """Record an effect at the virtual time."""
        seq = len(self._effects) + 1
        # A copy through JSON, as the file ledger stores it: no shared mutable payloads.
        data = json.loads(json.dumps(dict(payload), sort_keys=True))
        self._effects.append(Effect(seq, service, kind, key, run_id, step, self._now(), 0, data))
        return seq

    def void(self, service: str, run_id: str, step: str) -> None:
        """Remember an undo that found nothing."""
        self._voided.add((service, run_id, step))

    def voided(self, service: str, run_id: str, step: str) -> bool:
        """Whether (run, step) was undone before it was applied."""
        return (service, run_id, step) in self._voided

    def effects(self) -> list[Effect]:
        """Every recorded effect, in order."""
        return list(self._effects)

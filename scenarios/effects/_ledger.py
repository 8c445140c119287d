"""The receiving side: a recording test double of the services a workflow calls.

Every effect a service applies is written to an :class:`EffectLedger`, a SQLite file of its own,
independent of the orchestrator's store, so checkers can judge the orchestrator from what the
outside world saw, as Jepsen does. The ledger is process-safe: worker processes that are SIGKILLed
leave behind exactly the effects that were committed.
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from .._errors import LedgerError

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
)
"""


class CallContext(Protocol):
    """What a service reads of the caller's step context."""

    @property
    def run_id(self) -> str: ...
    @property
    def step(self) -> str: ...
    @property
    def idempotency_key(self) -> str: ...


@dataclass(frozen=True)
class Effect:
    """One effect a service applied, as the service recorded it."""

    seq: int
    service: str
    kind: str
    key: str
    run_id: str
    step: str
    at: float
    pid: int
    payload: dict[str, Any]


class EffectLedger:
    """A SQLite file that records every applied effect, shared by all processes of a run."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        with self._connect() as conn:
            conn.execute(_SCHEMA)

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


_ledgers: dict[str, EffectLedger] = {}


def ledger_from_env() -> EffectLedger:
    """The ledger named by the CHAOSFLOW_LEDGER environment variable (set by the runner)."""
    path = os.environ.get(LEDGER_ENV)
    if not path:
        raise LedgerError(
            f"No effect ledger configured: set {LEDGER_ENV} to a file path, or give the "
            "RecordingService a ledger. The scenario runner sets it for you."
        )
    if path not in _ledgers:
        _ledgers[path] = EffectLedger(path)
    return _ledgers[path]


class RecordingService:
    """A stand-in for an external service that records every effect it applies.

    With ``honour_keys=True`` it applies each idempotency key once, as a well-behaved payment API
    does; with ``honour_keys=False`` it applies every call, to show what a non-idempotent service
    does to a workflow under retries and crashes. With ``verify_undo=False`` it undoes without
    looking for the effect, as a refund API that credits the card whether or not it was charged.
    """

    def __init__(
        self,
        name: str,
        ledger: EffectLedger | None = None,
        *,
        honour_keys: bool = True,
        verify_undo: bool = True,
    ) -> None:
        self.name = name
        self._ledger = ledger
        self.honour_keys = honour_keys
        self.verify_undo = verify_undo

    @property
    def ledger(self) -> EffectLedger:
        """The ledger this service writes to."""
        return self._ledger or ledger_from_env()

    def apply(self, ctx: CallContext, **payload: Any) -> dict[str, Any]:
        """Apply the effect keyed by ``ctx.idempotency_key``; returns the service's receipt."""
        return self._record("apply", ctx, payload, ctx.idempotency_key)

    def compensate(self, ctx: CallContext, **payload: Any) -> dict[str, Any] | None:
        """Undo the effect this service applied for ``ctx``'s run and step.

        Returns None when nothing was applied (nothing to undo), as a real refund API that finds
        no charge would.
        """
        with self.ledger.transaction() as conn:
            applied = conn.execute(
                "SELECT 1 FROM effects WHERE service=? AND kind='apply' AND run_id=? AND step=?",
                (self.name, ctx.run_id, ctx.step),
            ).fetchone()
            if applied is None and self.verify_undo:
                return None
            return self._insert(conn, "compensate", ctx, payload, ctx.idempotency_key)

    def _record(
        self, kind: str, ctx: CallContext, payload: dict[str, Any], key: str
    ) -> dict[str, Any]:
        with self.ledger.transaction() as conn:
            return self._insert(conn, kind, ctx, payload, key)

    def _insert(
        self,
        conn: sqlite3.Connection,
        kind: str,
        ctx: CallContext,
        payload: dict[str, Any],
        key: str,
    ) -> dict[str, Any]:
        if self.honour_keys:
            seen = conn.execute(
                "SELECT seq FROM effects WHERE service=? AND kind=? AND key=?",
                (self.name, kind, key),
            ).fetchone()
            if seen is not None:
                return {"service": self.name, "effect": seen[0], "replayed": True}
        cursor = conn.execute(
            "INSERT INTO effects (service, kind, key, run_id, step, at, pid, payload) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                self.name,
                kind,
                key,
                ctx.run_id,
                ctx.step,
                time.time(),
                os.getpid(),
                json.dumps(payload, sort_keys=True),
            ),
        )
        return {"service": self.name, "effect": cursor.lastrowid, "replayed": False}

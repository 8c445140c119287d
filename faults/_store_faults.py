"""Store faults on a SQLAlchemy engine, through its event hooks (no patching).

| action | what the orchestrator sees |
|---|---|
| connection_loss | a statement fails with a lost connection; the transaction rolls back |
| commit_fail | the commit fails before it reaches disk; nothing is written |
| ack_lost | the commit reaches disk, then the caller gets an error: it cannot tell |
| latency | every statement takes ``seconds`` longer |

Each is applied with ``probability`` per statement or commit, from a seeded generator.
"""

from __future__ import annotations

import os
import random
import threading
import time
from collections.abc import Callable
from typing import Any

from sqlalchemy import Engine, event
from sqlalchemy.exc import OperationalError


class InjectedStoreError(Exception):
    """The DBAPI-level error a store fault raises (wrapped by SQLAlchemy as it would a real one)."""


class StoreFaultInjector:
    """Carries out ``store`` faults on ``engine``; remove() detaches every listener."""

    def __init__(
        self, engine: Engine, *, seed: int = 0, sleep: Callable[[float], None] = time.sleep
    ) -> None:
        # ``sleep`` is how latency waits: the simulation gives its virtual one.
        self.engine = engine
        self._sleep = sleep
        self._active: list[Any] = []
        self._rng = random.Random(seed)
        self._lock = threading.Lock()
        self.injected: list[str] = []  # what actually struck, in order
        event.listen(engine, "commit", self._on_commit)
        event.listen(engine, "do_execute", self._on_execute)

    def remove(self) -> None:
        """Detach from the engine."""
        event.remove(self.engine, "commit", self._on_commit)
        event.remove(self.engine, "do_execute", self._on_execute)

    def inject(self, fault: Any) -> str:
        """Switch a store fault on."""
        with self._lock:
            self._active.append(fault)
        # The backend and the database's name, not its folder: a simulation's temp folder
        # must not make two runs of one seed differ.
        url = self.engine.url
        return f"on the {url.get_backend_name()} store {os.path.basename(url.database or '')!r}"

    def heal(self, fault: Any) -> None:
        """Switch it off."""
        with self._lock:
            if fault in self._active:
                self._active.remove(fault)

    def _striking(self, *actions: str) -> list[Any]:
        with self._lock:
            return [
                f
                for f in self._active
                if f.params["action"] in actions
                and self._rng.random() < float(f.params.get("probability", 1.0))
            ]

    def _dbapi_error(self, message: str) -> Exception:
        # The driver's own OperationalError, so SQLAlchemy wraps and classifies it as real.
        dbapi = self.engine.dialect.loaded_dbapi
        return dbapi.OperationalError(message)

    def _on_commit(self, conn: Any) -> None:
        for fault in self._striking("commit_fail", "ack_lost"):
            action = fault.params["action"]
            self.injected.append(action)
            if action == "ack_lost":
                # Commit for real first: the row is on disk, and then the answer is lost.
                conn.connection.dbapi_connection.commit()
            # The commit event runs outside SQLAlchemy's DBAPI error wrapping: wrap it as
            # SQLAlchemy does for a failed COMMIT, so callers see the usual OperationalError.
            orig = self._dbapi_error(f"injected store fault: {action}")
            raise OperationalError("COMMIT", None, orig)

    def _on_execute(self, cursor: Any, statement: str, parameters: Any, context: Any) -> None:
        for fault in self._striking("latency", "connection_loss"):
            action = fault.params["action"]
            self.injected.append(action)
            if action == "latency":
                self._sleep(float(fault.params.get("seconds", 0.05)))
            else:
                raise self._dbapi_error("injected store fault: connection_loss")

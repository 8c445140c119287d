"""One heartbeat per worker process: every lease its workers hold, extended in one statement.

A worker holds a step's lease from its claim until the outcome's fenced write. While it holds
it, :class:`Heartbeats` pushes the lease's expiry out every ``interval``; all the leases of
the workers that share one :class:`Heartbeats` (the loops of one process) go in one
``UPDATE`` per beat, not one transaction per step and beat.

The beat runs as a *service task* of the worker's :class:`~orchestrator.Runtime`: a daemon
thread for real, a task of the simulated process in a simulation, whose waits are in virtual
time, so a paused process (SIGSTOP) stops beating and a killed one dies with its beat, exactly
as a real one does. The task starts with the first lease held and ends at the first beat that
finds none, so an idle worker keeps no task waiting.

Nothing here decides whether a lease is still ours: every update is fenced by the lease's
token, so beating a lease another worker took over changes nothing, and the step's own
outcome write, fenced the same way, is what finds out (and makes the worker reload).
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from sqlalchemy import bindparam, tuple_, update

from ._clock import Clock
from ._runtime import Runtime, Task
from ._schema import steps
from ._store import Store

log = logging.getLogger("chaosflow.orchestrator")

# (run_id, step, lease token): the lease as the store fences it.
Lease = tuple[str, str, str]

# One UPDATE for every held lease: a row-value IN over the primary key and the token, which
# SQLite (3.15+) and PostgreSQL both answer from the primary key's index.
EXTEND_LEASES = (
    update(steps)
    .where(
        tuple_(steps.c.run_id, steps.c.step, steps.c.lease_token).in_(
            bindparam("b_leases", expanding=True)
        )
    )
    .values(lease_expires_at=bindparam("b_expires"))
)


class Heartbeats:
    """Keeps the leases held by one process's workers alive, in one statement per beat."""

    def __init__(
        self,
        store: Store,
        clock: Clock,
        runtime: Runtime,
        *,
        lease_seconds: float,
        interval: float,
    ) -> None:
        if not 0 < interval < lease_seconds:
            raise ValueError(
                f"interval={interval!r} must be positive and shorter than "
                f"lease_seconds={lease_seconds!r}, or a lease expires between beats."
            )
        self.store = store
        self.clock = clock
        self.runtime = runtime
        self.lease_seconds = lease_seconds
        self.interval = interval
        self.beats = 0  # statements issued (for tests and the bench)
        self._held: dict[Lease, int] = {}  # a lease and how many holders it has
        self._lock = threading.Lock()  # never held across a wait: safe for cooperative tasks
        self._task: Task | None = None
        self._bell: Any = None  # the runtime's doorbell, made with the task

    def hold(self, lease: Lease) -> None:
        """Keep ``lease`` alive until :meth:`release`; starts the beat if none runs."""
        with self._lock:
            self._held[lease] = self._held.get(lease, 0) + 1
            if self._task is None:
                self._bell = self.runtime.doorbell()
                # Spawned from the holder, so in a simulation the beat belongs to its process.
                self._task = self.runtime.spawn_service(self._beat_loop, name="heartbeat")

    def release(self, lease: Lease) -> None:
        """Stop keeping ``lease`` alive (its outcome is written, or its holder gave up)."""
        with self._lock:
            count = self._held.pop(lease, 0) - 1
            if count > 0:
                self._held[lease] = count

    def held(self) -> list[Lease]:
        """The leases being kept alive now."""
        with self._lock:
            return list(self._held)

    @property
    def beating(self) -> bool:
        """Whether a beat task runs now."""
        with self._lock:
            return self._task is not None

    def close(self) -> None:
        """Wake the beat so that it ends now if no lease is held (a stopping worker)."""
        with self._lock:
            bell = self._bell if self._task is not None else None
        if bell is not None:
            bell.ring()

    def beat(self) -> int:
        """Extend every held lease now, in one statement; how many rows it extended.

        A lease taken over meanwhile is not extended (its token no longer matches). A store
        that fails the beat only risks the leases: the next beat tries again.
        """
        leases = self.held()
        if not leases:
            return 0
        try:
            with self.store.transaction() as tx:
                self.beats += 1
                params = {"b_leases": leases, "b_expires": self.clock.now() + self.lease_seconds}
                return int(tx.conn.execute(EXTEND_LEASES, params).rowcount)
        except Exception as error:  # a lost beat only risks the leases, retried next beat
            log.warning("heartbeat of %d leases failed: %s", len(leases), error)
            return 0

    def _beat_loop(self) -> None:
        try:
            while True:
                bell = self._bell
                assert bell is not None
                bell.wait(self.interval)
                with self._lock:
                    if not self._held:
                        # Nothing to keep: end here; the next hold starts a new beat.
                        self._task = None
                        return
                self.beat()
        except BaseException:
            # A beat that dies (its simulated process killed, say) must not look alive: the
            # next hold starts another.
            with self._lock:
                self._task = None
            raise

"""Several worker loops in one process: the runs they hold share commits, a heartbeat, a bell.

``chaosflow worker --concurrency N`` and ``chaosflow serve --workers N`` run N workers in threads
of one process. They share one :class:`~orchestrator.ThreadRuntime` (action threads are
reused), one doorbell that the store's commits ring (an idle worker wakes when another made a
step claimable, instead of at its next poll), one :class:`~orchestrator.Heartbeats` (one
``UPDATE`` per beat for every lease of the process) and, on a group-committing store (what
``Orchestrator(url, concurrency=N)`` opens on SQLite for N > 1), one durable commit for the
transitions of every run in flight at that moment. On PostgreSQL each worker keeps a connection
of its own instead: the server shares WAL flushes between concurrent commits by itself.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from typing import Any

from ._heartbeats import Heartbeats
from ._orchestrator import Orchestrator
from ._runtime import ThreadRuntime
from ._worker import Worker

# The most worker loops one process runs: each is a thread, and a batch of group commit holds
# at most one transaction per thread, so more would only queue.
MAX_CONCURRENCY = 64


def check_concurrency(concurrency: int) -> None:
    """Raise ValueError naming ``concurrency`` when it is not 1..MAX_CONCURRENCY."""
    if type(concurrency) is not int or not 1 <= concurrency <= MAX_CONCURRENCY:
        raise ValueError(
            f"concurrency={concurrency!r} must be a whole number from 1 to {MAX_CONCURRENCY} "
            "(worker loops in this process)."
        )


class WorkerPool:
    """``concurrency`` workers of one orchestrator, run together in threads of this process."""

    def __init__(
        self,
        orchestrator: Orchestrator,
        concurrency: int,
        *,
        worker_id: str | None = None,
        lease_seconds: float = 30.0,
        heartbeat_seconds: float | None = None,
        **settings: Any,
    ) -> None:
        check_concurrency(concurrency)
        self.orchestrator = orchestrator
        self.runtime = ThreadRuntime()
        self.doorbell = self.runtime.doorbell()
        orchestrator.store.on_work(self.doorbell.ring)
        interval = lease_seconds / 3 if heartbeat_seconds is None else heartbeat_seconds
        self.heartbeats = Heartbeats(
            orchestrator.store,
            orchestrator.clock,
            self.runtime,
            lease_seconds=lease_seconds,
            interval=interval,
        )
        base = worker_id or f"worker-{uuid.uuid4().hex[:8]}"
        self.worker_id = base  # the workers' ids: this one, or ``ID-0``, ``ID-1``, ...
        self.workers: list[Worker] = [
            orchestrator.worker(
                worker_id=base if concurrency == 1 else f"{base}-{n}",
                lease_seconds=lease_seconds,
                heartbeat_seconds=interval,
                runtime=self.runtime,
                doorbell=self.doorbell,
                heartbeats=self.heartbeats,
                **settings,
            )
            for n in range(concurrency)
        ]

    def run(
        self,
        *,
        max_seconds: float,
        stop_when: Callable[[], bool] | None = None,
        stop_event: threading.Event | None = None,
    ) -> int:
        """Run every worker until ``stop_when()`` holds, ``stop_event`` is set or the time runs
        out; the steps they handled together.

        One worker runs in the calling thread, exactly as ``Worker.run``. With more, a worker
        that raises (a crash hook, a bug) stops the others and its error is raised here.
        """
        if len(self.workers) == 1:
            return self.workers[0].run(
                max_seconds=max_seconds, stop_when=stop_when, stop_event=stop_event
            )
        stop = stop_event or threading.Event()
        handled: list[int] = []
        failures: list[BaseException] = []
        lock = threading.Lock()

        def work(worker: Worker) -> None:
            try:
                count = worker.run(max_seconds=max_seconds, stop_when=stop_when, stop_event=stop)
            except BaseException as error:  # handed to the caller below
                with lock:
                    failures.append(error)
                stop.set()
                self.doorbell.ring()
                return
            with lock:
                handled.append(count)

        threads = [
            threading.Thread(target=work, args=(w,), name=f"chaosflow-{w.worker_id}", daemon=True)
            for w in self.workers
        ]
        for thread in threads:
            thread.start()
        try:
            for thread in threads:
                thread.join()
        except BaseException:  # interrupted (Ctrl-C): stop the loops, then let it unwind
            stop.set()
            self.doorbell.ring()
            raise
        if failures:
            raise failures[0]
        return sum(handled)

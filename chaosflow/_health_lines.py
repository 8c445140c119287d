"""``chaosflow worker --health-interval SECONDS``: the process's health as a JSON line per interval.

Each line is ``{"kind": "health", "worker_id": ..., "at": <unix time>, "status": "ok",
"workers": {...}, "limits": {...}}``, the same detail as the HTTP API's ``/health``, written
to standard output by a thread of its own while the worker runs, and once more as it stops.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, TextIO

from orchestrator import Orchestrator


def health_line(orchestrator: Orchestrator, worker_id: str) -> str:
    """One health line of ``orchestrator``'s process, as JSON."""
    record: dict[str, Any] = {
        "kind": "health",
        "worker_id": worker_id,
        "at": round(time.time(), 3),
        "status": "ok",
        **orchestrator.health(),
    }
    return json.dumps(record, sort_keys=True)


@contextmanager
def health_lines(
    orchestrator: Orchestrator,
    worker_id: str,
    interval: float | None,
    stream: TextIO | None = None,
) -> Iterator[None]:
    """While the body runs, write a health line every ``interval`` seconds (none without one)."""
    if interval is None:
        yield
        return
    out = stream or sys.stdout
    stop = threading.Event()
    lock = threading.Lock()  # a line is never cut by the worker's own output

    def write() -> None:
        with lock:
            out.write(health_line(orchestrator, worker_id) + "\n")
            out.flush()

    def beat() -> None:
        while not stop.wait(interval):
            write()

    thread = threading.Thread(target=beat, name="chaosflow-health", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(interval + 5.0)
        write()  # the last state, as the worker stops

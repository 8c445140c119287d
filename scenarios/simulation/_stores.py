"""The simulation's stores: one SQLite file per process, emptied between cases.

A scenario case needs an empty store, and making one (an engine, a pool, the schema, and
SQLAlchemy compiling every statement afresh for the new engine) costs more than the case
itself. So the cases of one process share one store, emptied between them, with its pool and
its compiled statements kept warm; event numbers restart at 1, so a case's history does not
depend on the cases before it. A case run in a folder of its own gets a store of its own.
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from orchestrator import Orchestrator, Store

_shared: tuple[Store, Store] | None = None
_in_use = False


def _fast_tmp() -> str | None:
    # A memory-backed folder where the machine has one: the store never needs a disk here.
    return "/dev/shm" if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK) else None


def _open(folder: Path) -> tuple[Store, Store]:
    url = f"sqlite:///{folder / 'store.db'}"
    # Without fsync (durability is modelled, not measured, here), and failing at once on a
    # locked database, so a wait is a retry in virtual time. The harness reads through a store
    # of its own: store faults strike the workers' engine only.
    workers = Store(url, durable=False, lock_timeout=0)
    Orchestrator(workers)  # creates the schema
    return workers, Store(url)


@contextmanager
def simulation_store(workdir: Path | None) -> Iterator[tuple[Store, Store]]:
    """An empty store for one case, and the harness's view of it: ``(workers', observer's)``."""
    global _shared, _in_use
    if workdir is not None or _in_use:  # a folder of its own, or a simulation inside one
        folder = workdir or Path(tempfile.mkdtemp(prefix="chaosflow-sim-", dir=_fast_tmp()))
        folder.mkdir(parents=True, exist_ok=True)
        workers, observer = _open(folder)
        try:
            yield workers, observer
        finally:
            workers.dispose()
            observer.dispose()
            if workdir is None:
                shutil.rmtree(folder, ignore_errors=True)
        return
    if _shared is None:
        folder = Path(tempfile.mkdtemp(prefix="chaosflow-sim-", dir=_fast_tmp()))
        _shared = _open(folder)
        atexit.register(shutil.rmtree, folder, ignore_errors=True)
    workers, observer = _shared
    workers.reset()
    _in_use = True
    try:
        yield workers, observer
    finally:
        _in_use = False
        workers.clear_work_listeners()

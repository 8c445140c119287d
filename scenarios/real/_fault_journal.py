"""The fault journal of a real-mode run, and the crash faults that strike inside workers.

Worker processes die by SIGKILL, taking their memory with them, so what struck inside them is
appended to a journal file (one JSON line per fault, on disk before the kill) that the runner
reads at the end. Crash triggers count across processes through a counter file under a lock.
"""

from __future__ import annotations

import fcntl
import json
import os
import random
import signal
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

from faults import Fault, HookEventLike, InjectedFault

# The kinds a worker process carries out itself; the runner does network, partition, process.
WORKER_KINDS = ("step", "store")


def append_journal(journal: Path, record: InjectedFault) -> None:
    """Append one fault record to the run's journal, on disk before anything else happens."""
    line = (json.dumps(asdict(record), sort_keys=True) + "\n").encode()
    fd = os.open(journal, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line)  # one small O_APPEND write: lines of several processes never mix
        os.fsync(fd)
    finally:
        os.close(fd)


class SharedCrash:
    """A crash fault whose trigger counts hook events across every worker process of a run."""

    def __init__(self, index: int, fault: Fault, folder: Path, journal: Path, seed: int) -> None:
        trigger = fault.trigger
        self.fault = fault
        self.counter = folder / f"crash-{index}.count"
        self.journal = journal
        # Every process draws the same number for this fault, so the roll is the run's, once.
        self.strikes = strikes_once(seed, index, trigger.probability)

    def __call__(self, event: HookEventLike) -> None:
        trigger = self.fault.trigger
        if str(event.point) != trigger.point or (
            trigger.step is not None and event.step != trigger.step
        ):
            return
        if self._count() == trigger.nth and self.strikes:
            where = f"{event.run_id}/{event.step}@{event.point}"
            detail = f"mode=sigkill; pid {os.getpid()} killed"
            # Stamped when the kill happens (after any aimed fault at the same point struck),
            # on the wall clock every process of the run shares.
            now = time.time()
            record = InjectedFault("crash", where, now, detail, healed_at=now)
            append_journal(self.journal, record)
            os.kill(os.getpid(), signal.SIGKILL)

    def _count(self) -> int:
        return shared_count(self.counter)


def shared_count(counter: Path) -> int:
    """Add one to the count in ``counter`` (a file all the run's processes share, under a lock)
    and return the new count."""
    with counter.open("a+") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)  # released when the file closes
        handle.seek(0)
        count = int(handle.read().strip() or 0) + 1
        handle.seek(0)
        handle.truncate()
        handle.write(str(count))
        handle.flush()
        os.fsync(handle.fileno())
    return count


def strikes_once(seed: int, index: int, probability: float) -> bool:
    """The run's one draw for fault ``index``: every process draws the same number."""
    return probability >= 1.0 or random.Random(f"{seed}:{index}").random() < probability


def journal_records(journal: Path) -> list[InjectedFault]:
    """The fault records the run's worker processes appended, in order."""
    if not journal.exists():
        return []
    records: list[InjectedFault] = []
    for line in journal.read_text().splitlines():
        if line.strip():
            data: dict[str, Any] = json.loads(line)
            records.append(InjectedFault(**data))
    return records

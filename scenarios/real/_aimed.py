"""Faults aimed at a hook point in real mode: the worker that reaches it tells the runner.

Network, partition and process faults are carried out by the runner (it owns Toxiproxy and the
processes), but "freeze the worker that claimed ``send_receipt``" or "restart the card service
right after the charge" must strike at that moment, not on a timer that a quiet machine beats
and a loaded one misses. So each worker process listens for the hook point of every such fault;
the one whose event is the ``nth`` match of the run (counted across processes in a shared file,
as crash triggers are) writes a request into the run's ``aimed/`` folder and waits, inside its
hook, until the runner has struck the fault and written it back as done. The step goes on only
with the fault in force, whatever the machine's load.

The handshake is files (a request written whole by rename, a done marker), because the worker
may be the fault's own target: a SIGSTOPped worker finds the done marker when it is woken, a
SIGKILLed one never needs it. A worker waits at most ``wait_seconds``, then goes on and says so
in its log: a runner that stopped answering must not hang a worker forever.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from faults import Fault, HookEventLike

from ._fault_journal import shared_count, strikes_once

# The kinds the runner carries out from the parent process.
RUNNER_KINDS = ("network", "partition", "process")
AIMED_FOLDER = "aimed"


def is_aimed(fault: Fault) -> bool:
    """Whether ``fault`` is struck by the runner at a hook point a worker reaches."""
    return fault.kind in RUNNER_KINDS and fault.trigger.point is not None


class AimedFault:
    """A worker's hook listener for one aimed fault: at the ``nth`` matching event of the run,
    ask the runner to strike it and wait until it is in force."""

    def __init__(
        self,
        index: int,
        fault: Fault,
        folder: Path,
        *,
        seed: int,
        slot: str,
        runs: Sequence[str],
        wait_seconds: float = 60.0,
    ) -> None:
        self.index, self.fault, self.slot = index, fault, slot
        self.box = folder / AIMED_FOLDER
        self.counter = self.box / f"{index}.count"
        self.runs = list(runs)
        self.wait_seconds = wait_seconds
        self.strikes = strikes_once(seed, index, fault.trigger.probability)

    def _matches(self, event: HookEventLike) -> bool:
        trigger = self.fault.trigger
        if str(event.point) != trigger.point:
            return False
        if trigger.step is not None and event.step != trigger.step:
            return False
        if trigger.run is None:
            return True
        run = trigger.run
        if isinstance(run, int):
            if run >= len(self.runs):
                return False
            run = self.runs[run]
        return event.run_id == run or event.run_id.startswith(run + ".")

    def __call__(self, event: HookEventLike) -> None:
        if not self._matches(event):
            return
        if shared_count(self.counter) != self.fault.trigger.nth or not self.strikes:
            return
        request = {
            "index": self.index,
            "where": f"{event.run_id}/{event.step}@{event.point}",
            "slot": self.slot,
            "pid": os.getpid(),
            "at": time.time(),
        }
        partial = self.box / f"{self.index}.request.part"
        partial.write_text(json.dumps(request))
        partial.rename(self.box / f"{self.index}.request")  # the runner never reads half of it
        done = self.box / f"{self.index}.done"
        deadline = time.monotonic() + self.wait_seconds
        while not done.exists():
            if time.monotonic() >= deadline:
                print(
                    f"chaosflow worker {self.slot}: the runner did not strike "
                    f"{self.fault.describe()!r} within {self.wait_seconds}s; going on without it",
                    file=sys.stderr,
                    flush=True,
                )
                return
            time.sleep(0.005)


class AimedMailbox:
    """The runner's side: the requests workers wrote, and the done markers it writes back."""

    def __init__(self, folder: Path) -> None:
        self.box = folder / AIMED_FOLDER
        self.box.mkdir(parents=True, exist_ok=True)
        self._seen: set[str] = set()

    def requests(self) -> list[dict[str, Any]]:
        """Requests not yet answered, oldest first."""
        found = []
        for path in sorted(self.box.glob("*.request")):
            if path.name not in self._seen:
                self._seen.add(path.name)
                found.append(json.loads(path.read_text()))
        return sorted(found, key=lambda r: float(r["at"]))

    def done(self, index: int) -> None:
        """Tell the waiting worker that fault ``index`` is in force."""
        (self.box / f"{index}.done").touch()

"""Crash points: kill a worker at an exact hook point, as death would.

An injector here is a plain callable that the composition root adds as a listener to the
orchestrator's hooks. It reads only the event's ``point``, ``step`` and ``run_id`` attributes, so
``faults`` never imports the orchestrator.
"""

from __future__ import annotations

import os
import signal
import threading
from dataclasses import dataclass, field
from typing import Protocol


class HookEventLike(Protocol):
    """What an injector reads of the orchestrator's hook events."""

    @property
    def point(self) -> str: ...
    @property
    def run_id(self) -> str: ...
    @property
    def step(self) -> str | None: ...
    @property
    def attempt(self) -> int: ...
    @property
    def at(self) -> float: ...
    @property
    def worker_id(self) -> str: ...


class SimulatedCrash(BaseException):
    """Unwinds a worker at a crash point, skipping all cleanup, as a SIGKILL would.

    A BaseException, so no ``except Exception`` in a step or in the worker swallows it.
    """


CRASH_MODES = ("raise", "sigkill")


@dataclass
class InjectedFault:
    """A record of one fault that fired: what, where, when it struck and when it healed.

    Times are on the orchestrator's clock.
    """

    kind: str
    target: str
    at: float
    detail: str = ""
    healed_at: float | None = None
    # For a step fault: whether it strikes the step's action or its compensation.
    purpose: str | None = None


@dataclass
class CrashAt:
    """Crash the worker at the ``nth`` hook event at ``point`` (of ``step``, if given).

    ``mode="raise"`` unwinds with :class:`SimulatedCrash` (in-process runs, the simulation);
    ``mode="sigkill"`` sends SIGKILL to the worker's own process (real runs).
    """

    point: str
    step: str | None = None
    nth: int = 1
    mode: str = "raise"
    fired: list[InjectedFault] = field(default_factory=list)
    _seen: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def __post_init__(self) -> None:
        from ._errors import FaultPlanError

        if self.mode not in CRASH_MODES:
            raise FaultPlanError(
                f"CrashAt mode={self.mode!r} is not one of {', '.join(map(repr, CRASH_MODES))}."
            )
        if self.nth < 1:
            raise FaultPlanError(f"CrashAt nth={self.nth!r} must be 1 or more (1 = the first).")

    def __call__(self, event: HookEventLike) -> None:
        if str(event.point) != self.point or (self.step is not None and event.step != self.step):
            return
        with self._lock:
            self._seen += 1
            if self._seen != self.nth:
                return
        target = f"{event.run_id}/{event.step}@{self.point}"
        # The event's own time, so faults line up with the runs on the orchestrator's clock.
        self.fired.append(InjectedFault("crash", target, event.at, f"mode={self.mode}"))
        if self.mode == "sigkill":
            os.kill(os.getpid(), signal.SIGKILL)
        raise SimulatedCrash(f"crash injected at {target} (attempt {event.attempt})")

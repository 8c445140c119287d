"""The nemesis: carries out a fault plan, striking each fault on its trigger and healing it.

It is a hook listener (for triggers on hook events, and for crashes, which strike inside the
worker) and it is ticked with the current time (for time triggers and heals). Each kind of fault
other than ``crash`` is carried out by an :class:`Injector` given for that kind: a real one
(Toxiproxy, signals, SQLAlchemy events) or an in-memory twin. Random choices come from the plan's
seed, so the same plan on the same schedule strikes the same faults.
"""

from __future__ import annotations

import os
import random
import signal
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

from ._crash import HookEventLike, InjectedFault, SimulatedCrash
from ._errors import FaultPlanError
from ._plan import Fault, FaultPlan


class Injector(Protocol):
    """Carries out one kind of fault: strike it, and later heal it."""

    def inject(self, fault: Fault) -> str:
        """Strike ``fault``; returns a short detail for the timeline."""
        ...

    def heal(self, fault: Fault) -> None:
        """Undo ``fault`` (a no-op for faults that cannot be undone, like a SIGKILL)."""
        ...


@dataclass
class _Active:
    index: int
    fault: Fault
    record: InjectedFault
    heal_at: float | None


class Nemesis:
    """Strikes and heals the faults of ``plan`` with ``injectors`` (one per fault kind)."""

    def __init__(
        self, plan: FaultPlan, injectors: Mapping[str, Injector], *, origin: float
    ) -> None:
        missing = {f.kind for f in plan.faults if f.kind != "crash"} - set(injectors)
        if missing:
            raise FaultPlanError(
                f"The fault plan has {sorted(missing)!r} faults but no injector was given for "
                f"them (have: {sorted(injectors)!r}). Run it where those components exist "
                "(e.g. --mode real for network faults), or remove those faults."
            )
        self.plan = plan
        self.injectors = injectors
        self.origin = origin
        self.timeline: list[InjectedFault] = []
        self._rng = random.Random(plan.seed)
        self._pending = list(enumerate(plan.faults))
        self._counts: dict[int, int] = {}
        self._active: list[_Active] = []
        self._lock = threading.RLock()

    # -- triggers -----------------------------------------------------------------------------

    def __call__(self, event: HookEventLike) -> None:
        """The hook listener: count matching events, strike faults whose trigger is reached."""
        due: list[tuple[int, Fault]] = []
        with self._lock:
            for index, fault in list(self._pending):
                trigger = fault.trigger
                if trigger.point != str(event.point):
                    continue
                if trigger.step is not None and trigger.step != event.step:
                    continue
                self._counts[index] = self._counts.get(index, 0) + 1
                if self._counts[index] == trigger.nth:
                    self._pending.remove((index, fault))
                    if self._roll(fault):
                        due.append((index, fault))
        for index, fault in due:
            where = f"{event.run_id}/{event.step}@{event.point}"
            if fault.kind == "crash":
                self._crash(fault, where, event.at)
            self._strike(index, fault, event.at, where)

    def tick(self, now: float) -> None:
        """Strike faults whose time has come and heal those whose duration has passed."""
        with self._lock:
            due = [
                (i, f)
                for i, f in self._pending
                if f.trigger.at is not None and self.origin + f.trigger.at <= now
            ]
            for item in due:
                self._pending.remove(item)
            due = [(i, f) for i, f in due if self._roll(f)]
        for index, fault in due:
            self._strike(index, fault, now, fault.target or "-")
        with self._lock:
            healing = [a for a in self._active if a.heal_at is not None and a.heal_at <= now]
        for active in healing:
            self._heal(active, now)

    def heal_all(self, now: float) -> None:
        """Heal every active fault (at the end of a run, so no fault outlives it)."""
        with self._lock:
            active = list(self._active)
        for item in active:
            self._heal(item, now)

    @property
    def pending_time(self) -> bool:
        """Whether a time-triggered fault has yet to strike (a run must wait for it)."""
        with self._lock:
            return any(f.trigger.at is not None for _, f in self._pending)

    @property
    def active(self) -> list[Fault]:
        """The faults in force now."""
        with self._lock:
            return [a.fault for a in self._active]

    # -- internals ----------------------------------------------------------------------------

    def _roll(self, fault: Fault) -> bool:
        # Always draw, so one fault's probability does not shift the others' draws.
        draw = self._rng.random()
        return fault.trigger.probability >= 1.0 or draw < fault.trigger.probability

    def _crash(self, fault: Fault, where: str, at: float) -> None:
        record = InjectedFault("crash", where, at, f"mode={fault.crash_mode}", healed_at=at)
        with self._lock:
            self.timeline.append(record)
        if fault.crash_mode == "sigkill":
            os.kill(os.getpid(), signal.SIGKILL)
        raise SimulatedCrash(f"crash injected at {where}")

    def _strike(self, index: int, fault: Fault, now: float, where: str) -> None:
        detail = self.injectors[fault.kind].inject(fault)
        record = InjectedFault(
            fault.kind,
            f"{fault.target or where}",
            now,
            f"{fault.describe()}; {detail}".rstrip("; "),
        )
        heal_at = None if fault.duration is None else now + fault.duration
        with self._lock:
            self.timeline.append(record)
            self._active.append(_Active(index, fault, record, heal_at))

    def _heal(self, active: _Active, now: float) -> None:
        with self._lock:
            if active not in self._active:
                return
            self._active.remove(active)
        self.injectors[active.fault.kind].heal(active.fault)
        active.record.healed_at = now

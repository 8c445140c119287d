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
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Protocol

from ._crash import HookEventLike, InjectedFault, SimulatedCrash
from ._errors import FaultPlanError
from ._plan import Fault, FaultPlan, Trigger


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
        self,
        plan: FaultPlan,
        injectors: Mapping[str, Injector],
        *,
        origin: float,
        runs: Sequence[str] = (),
        on_strike: Callable[[], None] | None = None,
    ) -> None:
        """``runs`` are the ids of the scenario's runs in submission order, so a trigger can
        name a run by its index; ``on_strike`` is called after each fault strikes (a
        simulation wakes its nemesis task with it, to heal the fault on time)."""
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
        self._counts: dict[tuple[int, str], int] = {}
        self._active: list[_Active] = []
        self._lock = threading.RLock()
        self.runs = list(runs)
        self.on_strike = on_strike
        # When the last lasting fault struck, and when the last fault healed: progress is
        # judged from the later of the two.
        self.lasting_since: float | None = None
        self.last_heal: float | None = None

    def _run_of(self, trigger: Trigger) -> str | None:
        if isinstance(trigger.run, int):
            return self.runs[trigger.run] if trigger.run < len(self.runs) else None
        return trigger.run

    def _matches(self, trigger: Trigger, event: HookEventLike) -> bool:
        if trigger.point != str(event.point):
            return False
        if trigger.step is not None and trigger.step != event.step:
            return False
        if trigger.run is None:
            return True
        run = self._run_of(trigger)
        # A run's sub-workflow runs are named after it (``run.step``) and count as the run.
        return run is not None and (event.run_id == run or event.run_id.startswith(run + "."))

    # -- triggers -----------------------------------------------------------------------------

    def __call__(self, event: HookEventLike) -> None:
        """The hook listener: count matching events, strike faults whose trigger is reached."""
        due: list[tuple[int, Fault]] = []
        with self._lock:
            for index, fault in list(self._pending):
                trigger = fault.trigger
                if not self._matches(trigger, event):
                    continue
                key = (index, event.run_id if trigger.each_run else "")
                self._counts[key] = self._counts.get(key, 0) + 1
                if self._counts[key] == trigger.nth:
                    if not trigger.each_run:
                        self._pending.remove((index, fault))
                    if self._roll(fault):
                        due.append((index, fault))
        for index, fault in due:
            where = f"{event.run_id}/{event.step}@{event.point}"
            if fault.kind == "crash":
                self._crash(fault, where, event.at)
            if fault.kind == "process" and not fault.target:
                fault = replace(fault, target=event.worker_id)  # the worker that reached it
            self._strike(index, fault, event.at, where)

    def strike_aimed(
        self, index: int, now: float, where: str, *, target: str | None = None
    ) -> bool:
        """Strike the pending fault ``index`` of the plan now, because its hook point was
        reached elsewhere (a worker process told the runner); ``target`` fills in a process
        fault aimed at "the worker that reached it". The caller has counted ``nth`` and drawn
        the probability. False if that fault has already struck."""
        with self._lock:
            pending = [(i, f) for i, f in self._pending if i == index]
            if not pending:
                return False
            self._pending.remove(pending[0])
        fault = pending[0][1]
        if fault.kind == "process" and not fault.target and target:
            fault = replace(fault, target=target)
        self._strike(index, fault, now, where)
        return True

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

    def heal_all(self, now: float, *, final: bool = False) -> None:
        """Heal every active fault but the lasting ones (``duration: forever``); with
        ``final`` (at the end of a run, so no fault outlives it) those too."""
        with self._lock:
            active = [a for a in self._active if final or not a.fault.lasting]
        for item in active:
            self._heal(item, now, final=final)

    def next_time(self) -> float | None:
        """The next time a time trigger strikes or an active fault heals; None if none."""
        with self._lock:
            times = [
                self.origin + f.trigger.at for _, f in self._pending if f.trigger.at is not None
            ]
            times += [a.heal_at for a in self._active if a.heal_at is not None]
        return min(times) if times else None

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
        # Recorded before it is carried out: a fault may end its caller (a SIGKILL of the
        # very process whose hook triggered it), and it struck all the same.
        record = InjectedFault(fault.kind, f"{fault.target or where}", now, fault.describe())
        if fault.kind == "step":
            record.purpose = str(fault.params.get("purpose", "action"))
        heal_at = None
        if isinstance(fault.duration, int | float):
            heal_at = now + fault.duration
        with self._lock:
            self.timeline.append(record)
            self._active.append(_Active(index, fault, record, heal_at))
            if fault.lasting:
                self.lasting_since = max(self.lasting_since or now, now)
        if self.on_strike is not None:
            self.on_strike()
        detail = self.injectors[fault.kind].inject(fault)
        record.detail = f"{fault.describe()}; {detail}".rstrip("; ")

    def _heal(self, active: _Active, now: float, *, final: bool = False) -> None:
        with self._lock:
            if active not in self._active:
                return
            self._active.remove(active)
            if not final:
                self.last_heal = max(self.last_heal or now, now)
        self.injectors[active.fault.kind].heal(active.fault)
        active.record.healed_at = now

"""The simulated world: virtual time, cooperative tasks and one seeded scheduler.

Everything that waits in a simulation waits here: a worker's idle wait and retry backoff, a
step's timeout and heartbeats, a hanging call, a network delay, the storage retry. Tasks are
greenlets; exactly one runs at a time, and it runs until it waits. When no task can run, the
clock jumps to the next deadline (trio's ``MockClock(autojump_threshold=0)``, Temporal's
time-skipping test server, FoundationDB's simulator). Which of several runnable tasks goes next
is drawn from the seed, so a seed fixes the interleaving and with it the whole history, and a
slow machine gives the same history as a fast one.

Tasks belong to a *group*, the simulated process they run in: a worker and the calls it made.
Pausing a group is SIGSTOP (time passes, its tasks do not run, their wake-ups wait for SIGCONT);
killing it is SIGKILL (its tasks end where they stand). Deliveries in flight on the simulated
network belong to a group of their own, so a request already sent still lands after its sender
died, as one does in a real network.
"""

from __future__ import annotations

import heapq
import itertools
import math
import random
from collections.abc import Callable
from typing import Any

from greenlet import greenlet

from .._errors import ScenarioError

WORLD_GROUP = "world"


class SimulationError(ScenarioError):
    """The simulation itself went wrong (a harness failure, never a verdict)."""


class TaskKilled(BaseException):
    """Unwinds a task whose simulated process was killed; caught by the task's own frame."""


class SimTask:
    """One cooperative task: a greenlet with a name and the group (process) it belongs to."""

    def __init__(
        self,
        world: World,
        target: Callable[[], None],
        name: str,
        group: str,
        on_exit: Callable[[BaseException | None], None] | None,
    ) -> None:
        self.world = world
        self.name = name
        self.group = group
        self.done = False
        self.killed = False
        self._target = target
        self._on_exit = on_exit
        self._joiners: list[tuple[SimTask, object]] = []
        self.token: object | None = None  # the wait this task is parked in, if any
        self.woken_by_event = False
        self.glet = greenlet(self._body, parent=world.hub)

    def _body(self) -> None:
        error: BaseException | None = None
        try:
            if not self.killed:
                self._target()
        except TaskKilled:
            pass
        except BaseException as raised:  # handed to on_exit; unexpected ones stop the world
            error = raised
        finally:
            self.done = True
            for joiner, token in self._joiners:
                self.world.wake(joiner, token, event=True)
            self._joiners.clear()
        if self._on_exit is not None:
            self._on_exit(error)
        elif error is not None:
            self.world.fail(error, self)

    # -- the orchestrator's Task protocol ---------------------------------------------------

    def join(self, timeout: float | None = None) -> None:
        """Wait (in virtual time) until this task ends or ``timeout`` passes."""
        if not self.done:
            self.world.wait_on(self._joiners, timeout)

    def is_alive(self) -> bool:
        """Whether the task has not ended."""
        return not self.done

    def __repr__(self) -> str:
        return f"<SimTask {self.name} of {self.group}{' done' if self.done else ''}>"


class SimDoorbell:
    """A doorbell in virtual time: a ring wakes every task waiting on it at that moment."""

    def __init__(self, world: World) -> None:
        self.world = world
        self._waiters: list[tuple[SimTask, object]] = []

    def ring(self) -> None:
        """Wake every waiter."""
        waiters, self._waiters = self._waiters, []
        for task, token in waiters:
            self.world.wake(task, token, event=True)

    def wait(self, timeout: float) -> bool:
        """Wait up to ``timeout`` virtual seconds for a ring; True when rung."""
        return self.world.wait_on(self._waiters, timeout)


class SimFuture:
    """A result that one task sets and another waits for (a call's answer on the network)."""

    _UNSET = object()

    def __init__(self, world: World) -> None:
        self.world = world
        self._value: Any = self._UNSET
        self._error: BaseException | None = None
        self._waiters: list[tuple[SimTask, object]] = []

    @property
    def settled(self) -> bool:
        """Whether a value or an error was set."""
        return self._value is not self._UNSET or self._error is not None

    def set_result(self, value: Any) -> None:
        """Settle with ``value`` and wake the waiters."""
        self._value = value
        self._wake()

    def set_exception(self, error: BaseException) -> None:
        """Settle with ``error`` and wake the waiters."""
        self._error = error
        self._wake()

    def _wake(self) -> None:
        waiters, self._waiters = self._waiters, []
        for task, token in waiters:
            self.world.wake(task, token, event=True)

    def result(self) -> Any:
        """Wait until settled; the value, or the error raised."""
        while not self.settled:
            self.world.wait_on(self._waiters, None)
        if self._error is not None:
            raise self._error
        return self._value


class VirtualClock:
    """The orchestrator's Clock over the world's time: ``sleep`` parks the calling task."""

    def __init__(self, world: World) -> None:
        self._world = world

    def now(self) -> float:
        """The virtual time."""
        return self._world.now

    def sleep(self, seconds: float) -> None:
        """Wait ``seconds`` of virtual time (other tasks run meanwhile)."""
        self._world.sleep(seconds)


class World:
    """Virtual time and the seeded scheduler of cooperative tasks.

    It is also the orchestrator's ``Runtime`` (``spawn``, ``doorbell``), so a worker's action
    tasks and idle waits live in the simulation too.
    """

    inline_actions = False  # a worker's action is a task of the world (see Runtime)

    def __init__(self, *, seed: int, start: float, max_switches: int = 2_000_000) -> None:
        self.now = start
        self.clock = VirtualClock(self)
        self.hub = greenlet.getcurrent()
        self.max_switches = max_switches
        self.switches = 0
        self._rng = random.Random(seed)
        self._seq = itertools.count()
        self._ready: list[SimTask] = []
        self._timers: list[tuple[float, int, SimTask, object]] = []
        self._paused: set[str] = set()
        self._frozen: list[SimTask] = []
        self._tasks: dict[str, list[SimTask]] = {}
        self._pending_kills: list[SimTask] = []
        self.current: SimTask | None = None
        self._failure: tuple[BaseException, SimTask] | None = None

    # -- tasks --------------------------------------------------------------------------------

    def spawn(
        self,
        target: Callable[[], None],
        *,
        name: str,
        group: str | None = None,
        on_exit: Callable[[BaseException | None], None] | None = None,
    ) -> SimTask:
        """Start ``target`` as a task of ``group`` (by default the caller's own group)."""
        if group is None:
            group = self.current.group if self.current is not None else WORLD_GROUP
        task = SimTask(self, target, name, group, on_exit)
        self._tasks.setdefault(group, []).append(task)
        self._make_ready(task)
        return task

    def spawn_service(self, target: Callable[[], None], *, name: str) -> SimTask:
        """Start a service task (a worker's heartbeat) in the caller's group."""
        return self.spawn(target, name=name)

    def doorbell(self) -> SimDoorbell:
        """A doorbell for tasks of this world."""
        return SimDoorbell(self)

    def future(self) -> SimFuture:
        """A result to be set later by another task."""
        return SimFuture(self)

    def alive(self, group: str) -> list[SimTask]:
        """The tasks of ``group`` that have not ended."""
        tasks = [t for t in self._tasks.get(group, []) if not t.done]
        self._tasks[group] = tasks
        return tasks

    # -- waiting ------------------------------------------------------------------------------

    def _task(self, what: str) -> SimTask:
        if self.current is None or greenlet.getcurrent() is not self.current.glet:
            raise SimulationError(
                f"{what} was called outside a simulated task; in a simulation every wait must "
                "happen inside a task of the world (World.spawn)."
            )
        return self.current

    def sleep(self, seconds: float) -> None:
        """Park the current task for ``seconds`` of virtual time (0: let others run first)."""
        self.wait_on(None, max(seconds, 0.0))

    def wait_on(self, waiters: list[tuple[SimTask, object]] | None, timeout: float | None) -> bool:
        """Park the current task in ``waiters`` until woken, or until ``timeout`` passes.

        Returns True when woken by an event, False when the time ran out.
        """
        task = self._task("a wait")
        token = object()
        task.token, task.woken_by_event = token, False
        if waiters is not None:
            waiters.append((task, token))
        if timeout is not None:
            if timeout <= 0 and waiters is None:
                self._make_ready(task)  # a yield: others that can run now go first
            else:
                at = self.now + max(timeout, 0.0)
                if timeout > 0 and at <= self.now:
                    # Too short to add to a time this large: the next representable instant,
                    # so a positive wait always lets time move on.
                    at = math.nextafter(self.now, math.inf)
                heapq.heappush(self._timers, (at, next(self._seq), task, token))
        self._park(task)
        return task.woken_by_event

    def wake(self, task: SimTask, token: object, *, event: bool) -> None:
        """Make ``task`` runnable if it is still parked in the wait ``token`` names."""
        if task.token is not token or task.done:
            return  # a stale wake-up: the task was woken otherwise, or died
        task.token, task.woken_by_event = None, event
        self._make_ready(task)

    def _make_ready(self, task: SimTask) -> None:
        if task.group in self._paused:
            self._frozen.append(task)
        else:
            self._ready.append(task)

    def _park(self, task: SimTask) -> None:
        self.hub.switch()
        if task.killed:
            raise TaskKilled

    # -- processes ----------------------------------------------------------------------------

    def pause(self, group: str) -> None:
        """SIGSTOP: no task of ``group`` runs until :meth:`resume`; a caller inside it parks."""
        self._paused.add(group)
        moved = [t for t in self._ready if t.group == group]
        self._ready = [t for t in self._ready if t.group != group]
        self._frozen.extend(moved)
        current = self.current
        if current is not None and current.group == group:
            current.token = object()  # parked without a wake-up: only resume() moves it
            self._frozen.append(current)
            self._park(current)

    def resume(self, group: str) -> None:
        """SIGCONT: the group's tasks run again; those whose waits ended meanwhile go first."""
        if group not in self._paused:
            return
        self._paused.discard(group)
        thawed = [t for t in self._frozen if t.group == group]
        self._frozen = [t for t in self._frozen if t.group != group]
        for task in thawed:
            task.token = None
            self._ready.append(task)

    def kill(self, group: str) -> None:
        """SIGKILL: every task of ``group`` ends where it stands (the caller's own included)."""
        self._paused.discard(group)
        victims = self.alive(group)
        for task in victims:
            task.killed = True
            task.token = None
        self._ready = [t for t in self._ready if not t.killed]
        self._frozen = [t for t in self._frozen if not t.killed]
        current = self.current
        self._pending_kills.extend(t for t in victims if t is not current)
        if current is None:
            self._reap()
        elif current.killed and greenlet.getcurrent() is current.glet:
            raise TaskKilled

    def paused(self, group: str) -> bool:
        """Whether ``group`` is stopped."""
        return group in self._paused

    # -- the scheduler ------------------------------------------------------------------------

    def fail(self, error: BaseException, task: SimTask) -> None:
        """Stop the world: a task raised what nothing expected (a harness failure)."""
        if self._failure is None:
            self._failure = (error, task)

    def _switch(self, task: SimTask) -> None:
        self.switches += 1
        previous, self.current = self.current, task
        try:
            task.glet.switch()
        finally:
            self.current = previous
        self._reap()

    def _reap(self) -> None:
        # Killed tasks unwind here, in the hub: a task that never started runs its body, which
        # sees it was killed and skips the target; a parked one gets TaskKilled at its wait.
        while self._pending_kills:
            task = self._pending_kills.pop(0)
            if task.done or task.glet.dead:
                continue
            previous, self.current = self.current, task
            try:
                if task.glet:
                    task.glet.throw(TaskKilled)
                else:
                    task.glet.switch()
            finally:
                self.current = previous

    def run(
        self,
        *,
        until: Callable[[], bool],
        deadline: Callable[[], float],
    ) -> str:
        """Run tasks until ``until()`` holds when none can run, or time passes ``deadline()``.

        Returns why it stopped: ``done``, ``deadline``, ``idle`` (nothing left to wait for) or
        ``bound`` (the switch bound, a harness limit). A task that raised unexpectedly is
        re-raised here as a :class:`SimulationError`.
        """
        while True:
            self._raise_failure()
            if self.switches >= self.max_switches:
                return "bound"
            if self._ready:
                self._switch(self._ready.pop(self._rng.randrange(len(self._ready))))
                continue
            if until():
                return "done"
            while self._timers and self._timers[0][2].token is not self._timers[0][3]:
                heapq.heappop(self._timers)  # stale: the task was woken otherwise
            if not self._timers:
                return "idle"
            at, end = self._timers[0][0], deadline()
            if at > end:
                self.now = max(self.now, end)
                return "deadline"
            self.now = max(self.now, at)
            while self._timers and self._timers[0][0] <= self.now:
                _, _, task, token = heapq.heappop(self._timers)
                self.wake(task, token, event=False)

    def _raise_failure(self) -> None:
        if self._failure is not None:
            error, task = self._failure
            raise SimulationError(
                f"Simulated task {task.name!r} raised {type(error).__name__}: {error}"
            ) from error

    def stop(self) -> None:
        """End every task still alive (at the end of a simulation), so none lingers."""
        for group in list(self._tasks):
            for task in self.alive(group):
                task.killed = True
                task.token = None
                self._pending_kills.append(task)
        self._ready.clear()
        self._frozen.clear()
        self._timers.clear()
        self._paused.clear()
        self._reap()

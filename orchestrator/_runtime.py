"""How the orchestrator runs work beside a worker's own loop, and how idle workers are woken.

A worker runs an action that has a timeout in a task of its own, so that it can decide the
timeout while the action runs (an action without one runs on the worker's own thread); a
*service* task per process keeps the leases alive (``_heartbeats``); idle workers wait on a
doorbell that a commit making work claimable rings. The :class:`Runtime` is the seam:
:class:`ThreadRuntime` uses threads and real waits; a simulation gives its own, whose tasks are
cooperative and whose waits are in virtual time, so nothing in it depends on the machine's
speed.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Protocol


class Task(Protocol):
    """Work started beside the caller: it can be waited for, but never killed."""

    def join(self, timeout: float | None = None) -> None:
        """Wait until the task ends or ``timeout`` seconds pass (of the runtime's time)."""
        ...

    def is_alive(self) -> bool:
        """Whether the task has not ended yet."""
        ...


class Doorbell(Protocol):
    """Wakes idle waiters when something may have become claimable."""

    def ring(self) -> None:
        """Wake every waiter now."""
        ...

    def wait(self, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds for a ring; True when rung."""
        ...


class Runtime(Protocol):
    """Starts tasks and makes doorbells: threads for real, cooperative tasks in a simulation.

    With ``inline_actions`` a worker runs an action without a timeout on its own thread instead
    of in a task (``_actions``). A simulation says False: it counts a worker's calls in flight
    by their tasks.
    """

    inline_actions: bool

    def spawn(self, target: Callable[[], None], *, name: str) -> Task:
        """Start ``target`` beside the caller (an action)."""
        ...

    def spawn_service(self, target: Callable[[], None], *, name: str) -> Task:
        """Start ``target`` beside the caller as a service of its process (the heartbeat): not
        an action, so a simulation does not wait for it to end."""
        ...

    def doorbell(self) -> Doorbell:
        """A new doorbell."""
        ...


class ThreadDoorbell:
    """A doorbell over a condition variable: a ring wakes every thread waiting at that moment."""

    def __init__(self) -> None:
        self._condition = threading.Condition()
        self._rings = 0

    def ring(self) -> None:
        """Wake every waiting thread."""
        with self._condition:
            self._rings += 1
            self._condition.notify_all()

    def wait(self, timeout: float) -> bool:
        """Block up to ``timeout`` seconds for the next ring."""
        with self._condition:
            seen = self._rings
            return self._condition.wait_for(lambda: self._rings != seen, max(timeout, 0.0))


class _PooledTask:
    """A call on a reused thread: done when its event is set."""

    def __init__(self) -> None:
        self._done = threading.Event()

    def join(self, timeout: float | None = None) -> None:
        """Wait until the call ends or ``timeout`` seconds pass."""
        self._done.wait(timeout)

    def is_alive(self) -> bool:
        """Whether the call has not ended yet."""
        return not self._done.is_set()


class ThreadRuntime:
    """Daemon threads and real waits: what a worker process uses.

    Threads are reused: starting one per step cost more than the step's own bookkeeping. A
    thread that finished its call waits for the next one; a call that hangs keeps its thread
    (a thread cannot be killed), and the next call gets another.
    """

    # An action without a timeout runs on the worker's own thread: nothing needs to watch it.
    inline_actions = True

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._idle: list[_Carrier] = []

    def spawn(self, target: Callable[[], None], *, name: str) -> Task:
        """Run ``target`` on an idle daemon thread of this runtime, or a new one."""
        task = _PooledTask()
        with self._lock:
            carrier = self._idle.pop() if self._idle else None
        if carrier is None:
            carrier = _Carrier(self)
        carrier.hand(target, task)
        return task

    def spawn_service(self, target: Callable[[], None], *, name: str) -> Task:
        """Run ``target`` on a daemon thread of its own (a service lives long: not pooled)."""
        task = _PooledTask()

        def serve() -> None:
            try:
                target()
            finally:
                task._done.set()

        threading.Thread(target=serve, name=f"chaosflow-{name}", daemon=True).start()
        return task

    def _rest(self, carrier: _Carrier) -> None:
        with self._lock:
            self._idle.append(carrier)

    def doorbell(self) -> Doorbell:
        """A doorbell for the threads of this process."""
        return ThreadDoorbell()


class _Carrier:
    """One reusable daemon thread: runs the calls handed to it, one at a time."""

    def __init__(self, runtime: ThreadRuntime) -> None:
        self._runtime = runtime
        self._work: list[tuple[Callable[[], None], _PooledTask]] = []
        self._ready = threading.Condition()
        threading.Thread(target=self._serve, name="chaosflow-action", daemon=True).start()

    def hand(self, target: Callable[[], None], task: _PooledTask) -> None:
        with self._ready:
            self._work.append((target, task))
            self._ready.notify()

    def _serve(self) -> None:
        while True:
            with self._ready:
                self._ready.wait_for(lambda: bool(self._work))
                target, task = self._work.pop()
            try:
                target()  # a worker's target catches everything and hands it back
            except BaseException:
                task._done.set()
                raise  # this thread ends, and is never handed work again
            task._done.set()
            self._runtime._rest(self)

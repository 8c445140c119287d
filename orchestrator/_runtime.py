"""How the orchestrator runs work beside a worker's own loop, and how idle workers are woken.

A worker runs each action in a task of its own, so that it can keep the lease alive and decide a
timeout while the action runs; idle workers wait on a doorbell that a commit making work
claimable rings. The :class:`Runtime` is the seam: :class:`ThreadRuntime` uses threads and real
waits; a simulation gives its own, whose tasks are cooperative and whose waits are in virtual
time, so nothing in it depends on the machine's speed.
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
    """Starts tasks and makes doorbells: threads for real, cooperative tasks in a simulation."""

    def spawn(self, target: Callable[[], None], *, name: str) -> Task:
        """Start ``target`` beside the caller."""
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


class ThreadRuntime:
    """Daemon threads and real waits: what a worker process uses."""

    def spawn(self, target: Callable[[], None], *, name: str) -> Task:
        """Start ``target`` on a daemon thread (a thread cannot be killed: a hung call stays)."""
        thread = threading.Thread(target=target, name=name, daemon=True)
        thread.start()
        return thread

    def doorbell(self) -> Doorbell:
        """A doorbell for the threads of this process."""
        return ThreadDoorbell()

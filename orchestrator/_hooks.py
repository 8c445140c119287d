"""Typed hook events fired at every durable boundary of the orchestrator.

Hooks are plain callables taking a :class:`HookEvent`. They run synchronously on the worker's
thread, and an exception raised by a hook propagates: that is how a fault injector crashes a worker
at an exact point (between an effect and its record, say). Hooks must therefore be quick.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any


class HookPoint(StrEnum):
    """The durable boundaries at which the orchestrator fires hooks."""

    RUN_SUBMITTED = "run_submitted"
    STEP_CLAIMED = "step_claimed"
    BEFORE_ACTION = "before_action"
    # The action returned (its effect is applied) but its completion is not yet recorded:
    # the crash point that separates at-least-once from exactly-once.
    AFTER_ACTION = "after_action"
    AFTER_COMMIT = "after_commit"
    COMPENSATION_CLAIMED = "compensation_claimed"
    BEFORE_COMPENSATION = "before_compensation"
    AFTER_COMPENSATION = "after_compensation"
    AFTER_COMPENSATION_COMMIT = "after_compensation_commit"
    LEASE_EXPIRED = "lease_expired"  # a worker found an expired lease and takes the step over
    RUN_FINISHED = "run_finished"


@dataclass(frozen=True)
class HookEvent:
    """What happened, where: the payload every hook receives."""

    point: HookPoint
    run_id: str
    workflow: str
    step: str | None
    attempt: int
    worker_id: str
    at: float
    correlation_id: str | None = None

    @property
    def trace_id(self) -> str:
        """A W3C-style 32-hex trace id shared by every event of the run."""
        return trace_id_for(self.run_id)


def trace_id_for(run_id: str) -> str:
    """The trace id of a run: derived from its id, so every process agrees without storing it."""
    return hashlib.blake2b(run_id.encode(), digest_size=16).hexdigest()


Hook = Callable[[HookEvent], None]

# Middleware around every action and compensation: it gets the step's context and a callable that
# runs the rest of the chain (ending in the action itself), and returns the output. Inside the
# step's timeout and error handling, so what it raises is a step failure, not a worker crash.
Interceptor = Callable[[Any, Callable[[], Any]], Any]


class Hooks:
    """A list of listeners, fired in the order they were added."""

    def __init__(self) -> None:
        self._listeners: list[Hook] = []
        self._interceptors: list[Interceptor] = []
        self._lock = threading.Lock()

    def add_listener(self, hook: Hook) -> Callable[[], None]:
        """Add ``hook``; returns a callable that removes it again."""
        with self._lock:
            self._listeners.append(hook)

        def remove() -> None:
            with self._lock:
                if hook in self._listeners:
                    self._listeners.remove(hook)

        return remove

    def add_interceptor(self, interceptor: Interceptor) -> Callable[[], None]:
        """Add middleware around actions and compensations; returns a callable removing it."""
        with self._lock:
            self._interceptors.append(interceptor)

        def remove() -> None:
            with self._lock:
                if interceptor in self._interceptors:
                    self._interceptors.remove(interceptor)

        return remove

    def intercept(self, context: Any, call: Callable[[], Any]) -> Any:
        """Run ``call`` through every interceptor, the first added outermost."""
        with self._lock:
            chain = list(self._interceptors)
        for interceptor in reversed(chain):
            call = _bind(interceptor, context, call)
        return call()

    def fire(self, event: HookEvent) -> None:
        """Call every listener with ``event``; an exception from a listener propagates."""
        with self._lock:
            listeners = list(self._listeners)
        for hook in listeners:
            hook(event)


def _bind(interceptor: Interceptor, context: Any, call: Callable[[], Any]) -> Callable[[], Any]:
    return lambda: interceptor(context, call)

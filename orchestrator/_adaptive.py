"""Adaptive concurrency: a limit on a dependency's calls in flight that shrinks when its latency
or errors rise and grows back when they fall (AIMD), and a process's saturation for ``/health``.

A step that names a :class:`Concurrency` takes a slot of its dependency's limit before each call
of its action, and gives it back when the call ends, with the call as a sample:

- **multiplicative decrease**: a call slower than ``latency_target``, or one that failed other
  than by a refusal (a timeout, a lost connection, any error but a ``BusinessError`` or a
  declared definite error), multiplies the limit by ``backoff`` (at least ``min``);
- **additive increase**: any other call adds ``1 / limit`` (one slot per limit's worth of good
  calls, as TCP's congestion avoidance does), up to ``max``.

The arithmetic is the pure function :func:`next_limit`. A step that finds no free slot is
deferred (its attempt unspent) for :func:`slot_wait`: about the time one call in flight takes
to free a slot.

The limit lives in the process, in a :class:`Saturation` shared by every worker an
:class:`Orchestrator` makes (the threads of ``chaosflow serve``, a test's threads, every
logical worker of the simulation). It is **not** shared through the store: each process adapts
to what it sees of the dependency, so N processes together have at most N times the limit in
flight. A worker that crashes gives its slot back as its stack unwinds (a killed process takes
its whole limiter with it).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from ._errors import BusinessError, DefinitionError

NAME_LENGTH = 128
MAX_SLOTS = 10_000
# Weight of the newest sample in the recent latency and error rate shown by ``/health``.
_EWMA = 0.2
# Bounds of a deferral for want of a slot (seconds): soon enough to use a freed slot, late enough
# not to spin on the store.
MIN_SLOT_WAIT, MAX_SLOT_WAIT = 0.01, 1.0


@dataclass(frozen=True)
class Concurrency:
    """At most ``limit`` calls in flight to the dependency ``name`` per process, the limit moving
    between ``min`` and ``max`` as the calls' latency (against ``latency_target`` seconds) and
    errors say."""

    name: str
    max: int = 16
    min: int = 1
    latency_target: float = 1.0
    backoff: float = 0.5
    # The limit a process starts with (``max`` by default: no throttling until the dependency
    # shows trouble).
    initial: int | None = None

    def __post_init__(self) -> None:
        where = f"Concurrency {self.name!r}"
        if not isinstance(self.name, str) or not self.name or len(self.name) > NAME_LENGTH:
            raise DefinitionError(
                f"Concurrency name={self.name!r} must be 1 to {NAME_LENGTH} characters naming "
                "the dependency, e.g. Concurrency('payment-api', max=8)."
            )
        for label, value in (("max", self.max), ("min", self.min)):
            if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_SLOTS:
                raise DefinitionError(
                    f"{where}: {label}={value!r} must be a whole number from 1 to {MAX_SLOTS}."
                )
        if self.min > self.max:
            raise DefinitionError(f"{where}: min={self.min!r} must be <= max={self.max!r}.")
        initial = self.max if self.initial is None else self.initial
        if (
            isinstance(initial, bool)
            or not isinstance(initial, int)
            or not (self.min <= initial <= self.max)
        ):
            raise DefinitionError(
                f"{where}: initial={self.initial!r} must be a whole number from min={self.min} "
                f"to max={self.max}, or None for max."
            )
        if not _number(self.latency_target) or not 0 < self.latency_target < float("inf"):
            raise DefinitionError(
                f"{where}: latency_target={self.latency_target!r} must be a positive number of "
                "seconds (a call slower than this lowers the limit)."
            )
        if not _number(self.backoff) or not 0 < self.backoff < 1:
            raise DefinitionError(
                f"{where}: backoff={self.backoff!r} must be a number between 0 and 1 (what the "
                "limit is multiplied by when the dependency is slow or failing, e.g. 0.5)."
            )

    @property
    def start(self) -> int:
        """The limit a process starts with."""
        return self.max if self.initial is None else self.initial

    def to_dict(self) -> dict[str, Any]:
        """The policy as plain data."""
        return {
            "name": self.name,
            "max": self.max,
            "min": self.min,
            "latency_target": self.latency_target,
            "backoff": self.backoff,
            "initial": self.initial,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Concurrency:
        """The policy written as plain data (the inverse of :meth:`to_dict`)."""
        if not isinstance(data, Mapping) or "name" not in data:
            raise DefinitionError(
                f"A concurrency limit must be a mapping like {{'name': 'payment-api', 'max': 8, "
                f"'latency_target': 0.5}}, not {data!r}."
            )
        known = ("max", "min", "latency_target", "backoff", "initial")
        return cls(str(data["name"]), **{k: data[k] for k in known if k in data})


def _number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


# -- the pure decisions -------------------------------------------------------------------------


def next_limit(policy: Concurrency, limit: float, latency: float, failed: bool) -> float:
    """The limit after one call that took ``latency`` seconds and ``failed`` or not (AIMD)."""
    if failed or latency > policy.latency_target:
        return max(float(policy.min), limit * policy.backoff)
    return min(float(policy.max), limit + 1.0 / limit)


def slot_wait(policy: Concurrency, recent_latency: float | None, limit: float) -> float:
    """How long a step that found no free slot waits: one call's time shared among the slots
    (Little's law: with ``limit`` calls each taking L seconds, one ends every L / limit)."""
    latency = policy.latency_target if recent_latency is None else recent_latency
    return min(max(latency / max(limit, 1.0), MIN_SLOT_WAIT), MAX_SLOT_WAIT)


def counts_as_failure(error: BaseException, definite: tuple[type[BaseException], ...]) -> bool:
    """Whether a call's error says the dependency is in trouble: a refusal (a
    ``BusinessError`` or a declared definite error) is an answer, not congestion."""
    return not isinstance(error, (BusinessError, *definite))


# -- a process's state --------------------------------------------------------------------------


@dataclass
class _Limit:
    policy: Concurrency
    limit: float
    in_flight: int = 0
    latency: float | None = None  # recent latency (seconds), an exponential moving average
    error_rate: float = 0.0
    samples: int = 0
    decreases: int = 0
    increases: int = 0
    lowest: float = field(default=0.0)

    def to_dict(self) -> dict[str, Any]:
        return {
            "limit": int(self.limit),
            "limit_exact": round(self.limit, 4),
            "max": self.policy.max,
            "min": self.policy.min,
            "in_flight": self.in_flight,
            "saturated": self.in_flight >= int(self.limit),
            "recent_latency_ms": None if self.latency is None else round(self.latency * 1e3, 3),
            "recent_error_rate": round(self.error_rate, 4),
            "samples": self.samples,
            "decreases": self.decreases,
            "increases": self.increases,
            "lowest_limit": int(self.lowest),
        }


class Saturation:
    """A process's workers (how many, how many busy, steps handled) and its adaptive limits per
    dependency: what ``/health`` and ``chaosflow worker --health-interval`` report."""

    def __init__(self) -> None:
        # Held only for a few arithmetic steps, never across a call: cooperative tasks of the
        # simulation can share it too.
        self._lock = threading.Lock()
        self._limits: dict[str, _Limit] = {}
        self._workers: set[str] = set()
        self._busy: set[str] = set()
        self._handled = 0

    def _state(self, policy: Concurrency) -> _Limit:
        state = self._limits.get(policy.name)
        if state is None:
            state = self._limits[policy.name] = _Limit(policy, float(policy.start))
            state.lowest = state.limit
        return state

    def attach(self, worker_id: str) -> None:
        """Count a worker of this process."""
        with self._lock:
            self._workers.add(worker_id)

    @contextmanager
    def working(self, worker_id: str) -> Iterator[None]:
        """Mark ``worker_id`` busy with one step for the duration."""
        with self._lock:
            self._busy.add(worker_id)
        try:
            yield
        finally:
            with self._lock:
                self._busy.discard(worker_id)
                self._handled += 1

    def try_acquire(self, policy: Concurrency) -> bool:
        """Take a slot of ``policy``'s limit if one is free."""
        with self._lock:
            state = self._state(policy)
            if state.in_flight >= int(state.limit):
                return False
            state.in_flight += 1
            return True

    def release(self, policy: Concurrency, latency: float | None, failed: bool = False) -> None:
        """Give a slot back; with a ``latency``, the call is a sample that moves the limit (a
        call cut short by a crash gives its slot back without one)."""
        with self._lock:
            state = self._state(policy)
            state.in_flight = max(state.in_flight - 1, 0)
            if latency is None:
                return
            before = state.limit
            state.limit = next_limit(policy, state.limit, latency, failed)
            state.decreases += state.limit < before
            state.increases += int(state.limit) > int(before)
            state.lowest = min(state.lowest, state.limit)
            state.samples += 1
            state.latency = (
                latency if state.latency is None else (1 - _EWMA) * state.latency + _EWMA * latency
            )
            state.error_rate = (1 - _EWMA) * state.error_rate + _EWMA * float(failed)

    def wait_hint(self, policy: Concurrency) -> float:
        """How long a step that found no slot of ``policy`` waits (:func:`slot_wait`)."""
        with self._lock:
            state = self._state(policy)
            return slot_wait(policy, state.latency, state.limit)

    def limit(self, name: str) -> int | None:
        """The current whole limit of dependency ``name`` (None before its first use)."""
        with self._lock:
            state = self._limits.get(name)
            return None if state is None else int(state.limit)

    def health(self) -> dict[str, Any]:
        """The process's saturation as JSON-ready data."""
        with self._lock:
            return {
                "workers": {
                    "count": len(self._workers),
                    "busy": len(self._busy),
                    "idle": len(self._workers - self._busy),
                    "steps_handled": self._handled,
                },
                "limits": {name: s.to_dict() for name, s in sorted(self._limits.items())},
            }


class WorkerSlots:
    """One worker's hold on a slot: taken before the action, given back when it ends (with the
    call as a sample), or when the step is left any other way (without one)."""

    def __init__(self, saturation: Saturation, worker_id: str) -> None:
        self.saturation = saturation
        self.worker_id = worker_id
        self._held: tuple[Concurrency, tuple[type[BaseException], ...]] | None = None
        saturation.attach(worker_id)

    def acquire(self, policy: Concurrency, definite: tuple[type[BaseException], ...]) -> bool:
        """Take a slot for the next call; False when the limit is reached."""
        if not self.saturation.try_acquire(policy):
            return False
        self._held = (policy, definite)
        return True

    def timed(self, clock_now: Any, call: Any) -> Any:
        """Run ``call``; if a slot is held, give it back when the call ends, with the call's
        latency (by ``clock_now``) and whether it failed."""
        if self._held is None:
            return call()
        policy, definite = self._held
        started = clock_now()
        try:
            result = call()
        except Exception as error:
            self._held = None
            self.saturation.release(
                policy, clock_now() - started, counts_as_failure(error, definite)
            )
            raise
        self._held = None
        self.saturation.release(policy, clock_now() - started, False)
        return result

    @contextmanager
    def step(self) -> Iterator[None]:
        """While one step is handled: the worker is busy, and a slot it still holds on the way
        out (a failed precondition, a crash at a hook) is given back without a sample."""
        try:
            with self.saturation.working(self.worker_id):
                yield
        finally:
            held, self._held = self._held, None
            if held is not None:
                self.saturation.release(held[0], None)

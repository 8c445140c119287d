"""Circuit breakers per named resource, their state shared by every worker through the store.

A step that names a breaker runs only while the breaker admits it. After ``failure_threshold``
consecutive failures the breaker opens and steps on that resource are deferred (not failed, and
their attempt is not spent) until ``reset_timeout`` has passed; then one probe is let through
(half-open): its success closes the breaker, its failure opens it again.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING

from ._errors import DefinitionError
from ._states import move

if TYPE_CHECKING:
    from ._store import StoreTransaction


class BreakerState(StrEnum):
    """Where a circuit breaker stands."""

    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


B = BreakerState
BREAKER_TRANSITIONS: Mapping[tuple[BreakerState, str], BreakerState] = {
    (B.CLOSED, "threshold_reached"): B.OPEN,
    (B.OPEN, "reset_timeout_passed"): B.HALF_OPEN,
    (B.HALF_OPEN, "probe_succeeded"): B.CLOSED,
    (B.HALF_OPEN, "probe_failed"): B.OPEN,
    # The probe's worker died: after another reset_timeout a new probe goes through.
    (B.HALF_OPEN, "probe_lost"): B.HALF_OPEN,
}


def next_breaker_state(state: BreakerState | str, event: str) -> BreakerState:
    """The breaker state after ``event``; raises IllegalTransition when there is no such row."""
    return BreakerState(move(BREAKER_TRANSITIONS, "breaker", BreakerState(state), event))


@dataclass(frozen=True)
class CircuitBreaker:
    """A breaker guarding a named shared resource (a payment API, say)."""

    resource: str
    failure_threshold: int = 5
    reset_timeout: float = 30.0

    def __post_init__(self) -> None:
        if not self.resource:
            raise DefinitionError("CircuitBreaker needs a resource name, e.g. 'payment-api'.")
        if self.failure_threshold < 1:
            raise DefinitionError(
                f"CircuitBreaker {self.resource!r}: failure_threshold={self.failure_threshold!r} "
                "must be at least 1."
            )
        if self.reset_timeout <= 0:
            raise DefinitionError(
                f"CircuitBreaker {self.resource!r}: reset_timeout={self.reset_timeout!r} must be "
                "a positive number of seconds."
            )


@dataclass(frozen=True)
class Admission:
    """Whether a breaker lets a step through now; if not, when to try again."""

    admitted: bool
    retry_at: float | None = None
    event: str | None = None  # a breaker move to log, e.g. "breaker_half_open"


def admit(tx: StoreTransaction, breaker: CircuitBreaker, now: float) -> Admission:
    """Decide, inside the claim's transaction, whether the breaker lets a step run now."""
    row = tx.breaker(breaker.resource)
    state, opened_at = BreakerState(row["state"]), row["opened_at"] or 0.0
    if state == B.CLOSED:
        return Admission(True)
    reopen_at = opened_at + breaker.reset_timeout
    if now < reopen_at:
        return Admission(False, retry_at=reopen_at)
    event = "reset_timeout_passed" if state == B.OPEN else "probe_lost"
    # Let one probe through; opened_at moves on so that others wait for this probe.
    tx.set_breaker(breaker.resource, state=str(next_breaker_state(state, event)), opened_at=now)
    return Admission(True, event="breaker_half_open")


def record(
    tx: StoreTransaction, breaker: CircuitBreaker, now: float, *, success: bool
) -> str | None:
    """Record a guarded step's outcome; returns a breaker move to log, if any."""
    row = tx.breaker(breaker.resource)
    state, failures = BreakerState(row["state"]), int(row["failures"])
    if success:
        if state == B.HALF_OPEN:
            tx.set_breaker(
                breaker.resource,
                state=str(next_breaker_state(state, "probe_succeeded")),
                failures=0,
                opened_at=None,
            )
            return "breaker_closed"
        if failures:
            tx.set_breaker(breaker.resource, failures=0)
        return None
    failures += 1
    if state == B.HALF_OPEN:
        tx.set_breaker(
            breaker.resource,
            state=str(next_breaker_state(state, "probe_failed")),
            failures=failures,
            opened_at=now,
        )
        return "breaker_opened"
    if state == B.CLOSED and failures >= breaker.failure_threshold:
        tx.set_breaker(
            breaker.resource,
            state=str(next_breaker_state(state, "threshold_reached")),
            failures=failures,
            opened_at=now,
        )
        return "breaker_opened"
    tx.set_breaker(breaker.resource, failures=failures)
    return None

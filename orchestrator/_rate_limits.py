"""Rate limits on shared resources: a token bucket per named limit, shared through the store.

A step that names a :class:`RateLimit` takes one token from the limit's bucket before each call
of its action. Every worker of a store takes from the same bucket (one row in
``cf_rate_limits``, read and written under a row lock in one transaction), so all runs together
call the resource at most ``burst`` times at once and ``rate`` times a second on average. A step
that finds no token is deferred to the time the next token is due, its attempt not spent: the
limit slows a retry storm down, it never fails a run.

The bucket's arithmetic is a pure function (:func:`take_token`) of the row, the limit and the
time, so every worker computes the same answer and tests need no database.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ._errors import DefinitionError

if TYPE_CHECKING:
    from ._store import StoreTransaction

NAME_LENGTH = 128  # what cf_rate_limits.name holds


@dataclass(frozen=True)
class RateLimit:
    """At most ``rate`` calls a second on average, ``burst`` at once, to the resource ``name``.

    Steps naming the same limit share its bucket: give each shared resource one name (the
    payment API) and the same rate and burst wherever it is declared.
    """

    name: str
    rate: float
    burst: int = 1

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name or len(self.name) > NAME_LENGTH:
            raise DefinitionError(
                f"RateLimit name={self.name!r} must be 1 to {NAME_LENGTH} characters naming the "
                "shared resource, e.g. RateLimit('payment-api', rate=10)."
            )
        rate_ok = isinstance(self.rate, int | float) and not isinstance(self.rate, bool)
        if not rate_ok or not 0 < self.rate < float("inf"):
            raise DefinitionError(
                f"RateLimit {self.name!r}: rate={self.rate!r} must be a positive number of calls "
                "per second (0.5 is one call every two seconds)."
            )
        if isinstance(self.burst, bool) or not isinstance(self.burst, int) or self.burst < 1:
            raise DefinitionError(
                f"RateLimit {self.name!r}: burst={self.burst!r} must be a whole number >= 1 (how "
                "many calls may go at once after a quiet spell)."
            )

    def to_dict(self) -> dict[str, Any]:
        """The limit as plain data."""
        return {"name": self.name, "rate": self.rate, "burst": self.burst}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RateLimit:
        """The limit written as plain data (the inverse of :meth:`to_dict`)."""
        if not isinstance(data, Mapping) or not {"name", "rate"} <= set(data):
            raise DefinitionError(
                f"A rate limit must be a mapping like {{'name': 'payment-api', 'rate': 10, "
                f"'burst': 2}}, not {data!r}."
            )
        return cls(str(data["name"]), data["rate"], data.get("burst", 1))


@dataclass(frozen=True)
class TokenDecision:
    """What the bucket says: granted or not, the bucket's new level, and when to come back."""

    granted: bool
    tokens: float
    retry_at: float | None = None


def take_token(limit: RateLimit, tokens: float, updated_at: float, now: float) -> TokenDecision:
    """Refill the bucket for the time since ``updated_at``, then take one token if there is one.

    A clock that went backwards refills nothing (the bucket never grows from skew). Without a
    whole token, ``retry_at`` is when the next one is due.
    """
    elapsed = max(now - updated_at, 0.0)
    level = min(float(limit.burst), tokens + elapsed * limit.rate)
    if level >= 1.0:
        return TokenDecision(True, level - 1.0)
    return TokenDecision(False, level, now + (1.0 - level) / limit.rate)


def acquire(tx: StoreTransaction, limit: RateLimit, now: float) -> TokenDecision:
    """Take a token from the limit's shared bucket inside ``tx`` (the row stays locked until
    ``tx`` commits, so two workers cannot spend the same token)."""
    tokens, updated_at = tx.rate_limit_bucket(limit.name, float(limit.burst), now)
    decision = take_token(limit, tokens, updated_at, now)
    # The refilled level is written even when no token was taken, stamped with ``now``:
    # refilling from ``updated_at`` again later gives the same level either way.
    tx.set_rate_limit_bucket(limit.name, decision.tokens, max(now, updated_at))
    return decision

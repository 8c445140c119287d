"""The one retry at the storage boundary: a lost connection is waited out, not turned into a loss.

Retrying a whole transaction is safe here because every transaction that ends a lease is fenced
on the lease token: if the first try committed and only its acknowledgement was lost, the retry
finds the token gone and changes nothing.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import Any, Concatenate, ParamSpec, TypeVar

from sqlalchemy.exc import DBAPIError, OperationalError

log = logging.getLogger("chaosflow.orchestrator")

P = ParamSpec("P")
T = TypeVar("T")
S = TypeVar("S")

DB_RETRY_SECONDS = 60.0  # how long a worker waits out an unreachable database per write


def _retryable(error: BaseException) -> bool:
    if isinstance(error, OperationalError):
        return True
    return isinstance(error, DBAPIError) and error.connection_invalidated


def db_retry(
    max_seconds: float = DB_RETRY_SECONDS, initial: float = 0.05, cap: float = 2.0
) -> Callable[[Callable[Concatenate[S, P], T]], Callable[Concatenate[S, P], T]]:
    """Retry a store method on connection errors with capped exponential backoff.

    For methods of objects with a ``clock`` (workers, the orchestrator): the backoff sleeps and
    the deadline are on that clock, so an outage waited out in a simulation costs virtual time
    and heals when the fault plan says, and in a real process it is the wall clock.
    """

    def decorate(fn: Callable[Concatenate[S, P], T]) -> Callable[Concatenate[S, P], T]:
        @functools.wraps(fn)
        def wrapper(self: S, *args: P.args, **kwargs: P.kwargs) -> T:
            clock: Any = getattr(self, "clock")  # noqa: B009 - the contract is the attribute
            deadline = clock.now() + max_seconds
            delay = initial
            while True:
                try:
                    return fn(self, *args, **kwargs)
                except DBAPIError as error:
                    if not _retryable(error) or clock.now() + delay > deadline:
                        raise
                    log.warning(
                        "store unavailable in %s, retrying in %.2fs: %s",
                        fn.__qualname__,
                        delay,
                        error.orig,
                    )
                    clock.sleep(delay)
                    delay = min(delay * 2, cap)

        return wrapper

    return decorate

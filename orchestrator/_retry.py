"""The one retry at the storage boundary: a lost connection is waited out, not turned into a loss.

Retrying a whole transaction is safe here because every transaction that ends a lease is fenced
on the lease token: if the first try committed and only its acknowledgement was lost, the retry
finds the token gone and changes nothing.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable
from typing import ParamSpec, TypeVar

from sqlalchemy.exc import DBAPIError, OperationalError

log = logging.getLogger("chaosflow.orchestrator")

P = ParamSpec("P")
T = TypeVar("T")

DB_RETRY_SECONDS = 60.0  # how long a worker waits out an unreachable database per write


def _retryable(error: BaseException) -> bool:
    if isinstance(error, OperationalError):
        return True
    return isinstance(error, DBAPIError) and error.connection_invalidated


def db_retry(
    max_seconds: float = DB_RETRY_SECONDS, initial: float = 0.05, cap: float = 2.0
) -> Callable[[Callable[P, T]], Callable[P, T]]:
    """Retry a store call on connection errors with capped exponential backoff.

    Real time on purpose: an outage of the database is real even under a virtual clock.
    """

    def decorate(fn: Callable[P, T]) -> Callable[P, T]:
        @functools.wraps(fn)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> T:
            deadline = time.monotonic() + max_seconds
            delay = initial
            while True:
                try:
                    return fn(*args, **kwargs)
                except DBAPIError as error:
                    if not _retryable(error) or time.monotonic() + delay > deadline:
                        raise
                    log.warning(
                        "store unavailable in %s, retrying in %.2fs: %s",
                        fn.__qualname__,
                        delay,
                        error.orig,
                    )
                    time.sleep(delay)
                    delay = min(delay * 2, cap)

        return wrapper

    return decorate

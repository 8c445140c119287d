"""The storage-boundary retry: connection errors are waited out, everything else propagates.

The waits are on the object's clock: a ManualClock makes them instant and lets the test see
exactly how long the retry waited.
"""

from __future__ import annotations

import pytest
from sqlalchemy.exc import IntegrityError, OperationalError

from orchestrator import ManualClock
from orchestrator._retry import db_retry


class Flaky:
    def __init__(self, failures: int, error: Exception) -> None:
        self.clock = ManualClock(0.0)
        self.failures = failures
        self.error = error
        self.calls = 0

    @db_retry(max_seconds=5, initial=0.5, cap=1.0)
    def write(self) -> str:
        self.calls += 1
        if self.calls <= self.failures:
            raise self.error
        return "committed"


def test_connection_errors_are_retried_until_the_store_answers() -> None:
    lost = OperationalError("COMMIT", {}, Exception("server closed the connection"))
    flaky = Flaky(3, lost)
    assert flaky.write() == "committed"
    assert flaky.calls == 4
    # Backoff 0.5, 1.0, 1.0 (capped) on the object's clock, and no real wait.
    assert flaky.clock.now() == 2.5


def test_other_database_errors_are_not_retried() -> None:
    duplicate = IntegrityError("INSERT", {}, Exception("duplicate key"))
    flaky = Flaky(1, duplicate)
    with pytest.raises(IntegrityError):
        flaky.write()
    assert flaky.calls == 1
    assert flaky.clock.now() == 0.0


def test_the_retry_gives_up_after_its_time() -> None:
    lost = OperationalError("SELECT", {}, Exception("connection refused"))
    flaky = Flaky(10**6, lost)
    with pytest.raises(OperationalError, match="connection refused"):
        flaky.write()
    # It stopped before a wait that would pass its 5 seconds.
    assert 4.0 <= flaky.clock.now() <= 5.0

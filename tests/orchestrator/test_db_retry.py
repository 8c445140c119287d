"""The storage-boundary retry: connection errors are waited out, everything else propagates."""

from __future__ import annotations

import pytest
from sqlalchemy.exc import IntegrityError, OperationalError

from orchestrator._retry import db_retry


def flaky(failures: int, error: Exception) -> tuple[list[int], object]:
    calls: list[int] = []

    @db_retry(max_seconds=5, initial=0.001)
    def write() -> str:
        calls.append(1)
        if len(calls) <= failures:
            raise error
        return "committed"

    return calls, write


def test_connection_errors_are_retried_until_the_store_answers() -> None:
    lost = OperationalError("COMMIT", {}, Exception("server closed the connection"))
    calls, write = flaky(3, lost)
    assert write() == "committed"  # type: ignore[operator]
    assert len(calls) == 4


def test_other_database_errors_are_not_retried() -> None:
    duplicate = IntegrityError("INSERT", {}, Exception("duplicate key"))
    calls, write = flaky(1, duplicate)
    with pytest.raises(IntegrityError):
        write()  # type: ignore[operator]
    assert len(calls) == 1


def test_the_retry_gives_up_after_its_time() -> None:
    lost = OperationalError("SELECT", {}, Exception("connection refused"))

    @db_retry(max_seconds=0.05, initial=0.01, cap=0.01)
    def never() -> None:
        raise lost

    with pytest.raises(OperationalError, match="connection refused"):
        never()

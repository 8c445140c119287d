"""A worker started before its store: it waits with capped backoff, bounded, then gives up."""

from __future__ import annotations

from pathlib import Path

import pytest

from orchestrator import (
    STORE_WAIT_SECONDS,
    ManualClock,
    Orchestrator,
    StoreError,
    StoreNotFound,
    StoreUnavailable,
    store_wait_delays,
)


def test_the_backoff_doubles_from_half_a_second_to_five_and_stays_within_the_wait() -> None:
    assert store_wait_delays(STORE_WAIT_SECONDS) == [0.5, 1.0, 2.0, 4.0] + [5.0] * 10
    assert sum(store_wait_delays(STORE_WAIT_SECONDS)) <= STORE_WAIT_SECONDS
    assert store_wait_delays(0) == []
    assert store_wait_delays(3.4) == [0.5, 1.0]


class AppearingFolder(ManualClock):
    """A clock whose sleeps pass virtually, and whose ``at``-th sleep creates the store's folder
    (the database coming up while the worker waits)."""

    def __init__(self, folder: Path, at: int) -> None:
        super().__init__(0.0)
        self.folder, self.at, self.sleeps = folder, at, []  # type: ignore[var-annotated]

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        super().sleep(seconds)
        if len(self.sleeps) == self.at:
            self.folder.mkdir()


def test_opening_waits_until_the_store_is_reachable(tmp_path: Path) -> None:
    clock = AppearingFolder(tmp_path / "later", at=3)
    orch = Orchestrator.open_waiting(f"sqlite:///{tmp_path / 'later' / 's.db'}", clock=clock)
    assert clock.sleeps == [0.5, 1.0, 2.0]
    assert orch.unfinished_runs() == 0
    orch.store.dispose()


def test_opening_gives_up_after_the_wait(tmp_path: Path) -> None:
    clock = AppearingFolder(tmp_path / "never", at=10**6)
    with pytest.raises(StoreUnavailable, match="Cannot reach the store"):
        Orchestrator.open_waiting(
            f"sqlite:///{tmp_path / 'never' / 's.db'}", wait_seconds=10, clock=clock
        )
    assert clock.sleeps == [0.5, 1.0, 2.0, 4.0]
    assert clock.now() <= 10


def test_what_waiting_cannot_cure_is_raised_at_once(tmp_path: Path) -> None:
    clock = AppearingFolder(tmp_path / "x", at=10**6)
    with pytest.raises(StoreError, match="backend 'mysql'") as raised:
        Orchestrator.open_waiting("mysql://u@h/db", clock=clock)
    assert not isinstance(raised.value, StoreUnavailable)
    assert clock.sleeps == []


def test_a_reading_open_refuses_a_store_that_does_not_exist(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'absent.db'}"
    with pytest.raises(StoreNotFound, match=r"the file .*absent\.db' does not exist"):
        Orchestrator(url, must_exist=True)
    assert not (tmp_path / "absent.db").exists()  # and nothing was created
    Orchestrator(url).store.dispose()
    Orchestrator(url, must_exist=True).store.dispose()  # once it exists, it opens


@pytest.mark.postgres
def test_a_reading_open_refuses_a_database_without_a_store(fresh_postgres_url: str) -> None:
    with pytest.raises(StoreNotFound, match="holds no chaosflow store"):
        Orchestrator(fresh_postgres_url, must_exist=True)
    Orchestrator(fresh_postgres_url).store.dispose()
    Orchestrator(fresh_postgres_url, must_exist=True).store.dispose()

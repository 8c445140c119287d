"""Every orchestrator semantics test runs twice: on SQLite and on the throwaway PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from orchestrator import ManualClock, Orchestrator

OrchestratorFactory = Callable[..., Orchestrator]


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh store: a SQLite file, or a new database on the session's PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'store.db'}"
    return str(request.getfixturevalue("fresh_postgres_url"))


@pytest.fixture
def make_orchestrator(store_url: str) -> Iterator[OrchestratorFactory]:
    """Orchestrators on the test's store (virtual clock by default), disposed afterwards."""
    made: list[Orchestrator] = []

    def make(clock: Any = "virtual", **kwargs: Any) -> Orchestrator:
        chosen = ManualClock(1000.0) if clock == "virtual" else clock
        orchestrator = Orchestrator(store_url, clock=chosen, **kwargs)
        made.append(orchestrator)
        return orchestrator

    yield make
    for orchestrator in made:
        orchestrator.store.dispose()

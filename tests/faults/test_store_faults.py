"""Store faults through SQLAlchemy's event hooks, on a real SQLite file."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from faults import Fault, StoreFaultInjector, Trigger
from orchestrator import Store


def store_fault(action: str, **params: float) -> Fault:
    return Fault("store", Trigger(at=0.0), params={"action": action, **params})


@pytest.fixture
def store(tmp_path: Path) -> Store:
    s = Store(f"sqlite:///{tmp_path / 's.db'}")
    with s.engine.begin() as conn:
        conn.execute(text("CREATE TABLE t (v INTEGER)"))
    return s


def rows(store: Store) -> list[int]:
    with store.engine.connect() as conn:
        return [r[0] for r in conn.execute(text("SELECT v FROM t ORDER BY v"))]


def test_a_lost_commit_acknowledgement_leaves_the_row_on_disk(store: Store) -> None:
    injector = StoreFaultInjector(store.engine)
    fault = store_fault("ack_lost")
    injector.inject(fault)
    with (
        pytest.raises(OperationalError, match="injected store fault: ack_lost"),
        store.engine.begin() as conn,
    ):
        conn.execute(text("INSERT INTO t VALUES (1)"))
    injector.heal(fault)
    assert rows(store) == [1]  # the caller saw an error, yet the write is durable
    injector.remove()


def test_a_failed_commit_writes_nothing(store: Store) -> None:
    injector = StoreFaultInjector(store.engine)
    fault = store_fault("commit_fail")
    injector.inject(fault)
    with pytest.raises(OperationalError, match="commit_fail"), store.engine.begin() as conn:
        conn.execute(text("INSERT INTO t VALUES (2)"))
    injector.heal(fault)
    assert rows(store) == []
    with store.engine.begin() as conn:  # healed: writes go through again
        conn.execute(text("INSERT INTO t VALUES (3)"))
    assert rows(store) == [3]
    assert injector.injected == ["commit_fail"]


def test_connection_loss_fails_statements_as_operational_errors(store: Store) -> None:
    injector = StoreFaultInjector(store.engine)
    injector.inject(store_fault("connection_loss"))
    with pytest.raises(OperationalError, match="connection_loss"), store.engine.connect() as conn:
        conn.execute(text("SELECT 1"))
    injector.remove()
    assert rows(store) == []


def test_probability_is_seeded_per_statement(store: Store) -> None:
    def pattern(seed: int) -> list[bool]:
        injector = StoreFaultInjector(store.engine, seed=seed)
        injector.inject(store_fault("connection_loss", probability=0.5))
        out = []
        for _ in range(30):
            try:
                with store.engine.connect() as conn:
                    conn.execute(text("SELECT 1"))
                out.append(False)
            except OperationalError:
                out.append(True)
        injector.remove()
        return out

    assert pattern(5) == pattern(5)
    assert 3 < sum(pattern(5)) < 27

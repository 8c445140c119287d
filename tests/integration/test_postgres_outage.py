"""PostgreSQL restarts under a running worker process: it backs off, goes on, and loses nothing."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest

from examples.order_saga import order_saga
from orchestrator import Orchestrator, RunState
from scenarios import EffectLedger, History, check
from tests._servers import subprocess_env, worker_command

ROOT = Path(__file__).resolve().parents[2]

pytestmark = [pytest.mark.postgres, pytest.mark.slow]


def test_worker_survives_a_database_restart(
    postgres_cluster: object, fresh_postgres_url: str, tmp_path: Path
) -> None:
    ledger = EffectLedger(tmp_path / "effects.db")
    orch = Orchestrator(fresh_postgres_url)
    orch.register(order_saga)
    orders = [{"sku": f"s{i}", "qty": 1, "amount": 100 + i, "address": "here"} for i in range(40)]
    run_ids = [orch.submit("order", order, run_id=f"outage-{i}") for i, order in enumerate(orders)]
    orch.store.dispose()
    env = subprocess_env(ledger.path)
    worker = subprocess.Popen(
        worker_command(
            fresh_postgres_url,
            "examples.order_saga:order_saga",
            "--max-seconds",
            "120",
            "--lease-seconds",
            "5",
        ),
        env=env,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        # Restart once the worker is under way, but before it could have finished.
        deadline = time.monotonic() + 60
        while len(ledger.effects()) < 10 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(ledger.effects()) >= 10, "the worker made no progress before the restart"
        postgres_cluster.restart()  # type: ignore[attr-defined]
        _, err = worker.communicate(timeout=150)
    finally:
        if worker.poll() is None:
            worker.kill()
    assert worker.returncode == 0, err
    assert "store unavailable" in err  # it did meet the outage, and waited it out
    orch = Orchestrator(fresh_postgres_url)
    orch.register(order_saga)
    assert all(orch.status(r).state == RunState.COMPLETED for r in run_ids)
    history = History.observe(orch, ledger.effects(), run_ids)
    assert check(history).verdict == "valid"
    orch.store.dispose()

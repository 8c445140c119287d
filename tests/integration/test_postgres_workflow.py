"""The order saga on the throwaway PostgreSQL server: real worker processes, SKIP LOCKED claims."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from examples.order_saga import DEMO_ORDERS, order_saga
from orchestrator import Orchestrator, RunState
from scenarios import EffectLedger, History, check
from tests._servers import subprocess_env, worker_command

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.postgres


def test_order_saga_runs_on_postgres_with_two_worker_processes(
    fresh_postgres_url: str, tmp_path: Path
) -> None:
    ledger = EffectLedger(tmp_path / "effects.db")
    orch = Orchestrator(fresh_postgres_url)
    orch.register(order_saga)
    prefix = tmp_path.name
    run_ids = [
        orch.submit("order", order, run_id=f"{prefix}-{i}")
        for i, order in enumerate(DEMO_ORDERS * 3)
    ]
    env = subprocess_env(ledger.path)
    command = worker_command(
        fresh_postgres_url, "examples.order_saga:order_saga", "--max-seconds", "90"
    )
    workers = [
        subprocess.Popen(
            [*command, "--worker-id", f"pg-{n}"],
            env=env,
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for n in range(2)
    ]
    for process in workers:
        _, err = process.communicate(timeout=120)
        assert process.returncode == 0, err
    states = [orch.status(run_id).state for run_id in run_ids]
    assert states.count(RunState.COMPLETED) == 9
    assert states.count(RunState.ROLLED_BACK) == 3
    events = [e for e in orch.events() if e.run_id in run_ids]
    claims = [(e.run_id, e.step, e.attempt) for e in events if e.kind == "step_claimed"]
    assert len(claims) == len(set(claims))  # no step attempt claimed twice
    assert check(History.observe(orch, ledger.effects(), run_ids)).verdict == "valid"
    orch.store.dispose()

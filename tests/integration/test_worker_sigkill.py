"""A real worker is SIGKILLed between the payment's effect and its record; another resumes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
from pathlib import Path

import pytest

from orchestrator import Orchestrator, RunState
from scenarios import EffectLedger, check
from tests._servers import subprocess_env, worker_command

ROOT = Path(__file__).resolve().parents[2]
WORKFLOW = "examples.order_saga:order_saga"


def worker(db: str, ledger: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    env = subprocess_env(ledger)
    return subprocess.run(
        worker_command(db, WORKFLOW, "--lease-seconds", "1", "--max-seconds", "300", *extra),
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,  # generous: --until-idle ends it as soon as every run has
    )


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'store.db'}"
    return str(request.getfixturevalue("fresh_postgres_url"))


def test_sigkilled_worker_is_recovered_and_the_charge_applies_once(
    tmp_path: Path, store_url: str
) -> None:
    db = store_url
    ledger = EffectLedger(tmp_path / "effects.db")
    orch = Orchestrator(db)
    from examples.order_saga import order_saga

    orch.register(order_saga)
    run_id = orch.submit("order", {"sku": "a", "qty": 1, "amount": 500, "address": "x"})

    doomed = worker(
        db,
        ledger.path,
        "--crash-at",
        "after_action:charge_payment",
        "--crash-mode",
        "sigkill",
        "--worker-id",
        "doomed",
    )
    assert doomed.returncode == -signal.SIGKILL, doomed.stderr
    assert orch.status(run_id).steps["charge_payment"] == "running"  # effect applied, unrecorded
    charges = [e for e in ledger.effects() if e.service == "payment"]
    assert len(charges) == 1 and charges[0].pid != os.getpid()

    rescuer = worker(db, ledger.path, "--worker-id", "rescuer")
    assert rescuer.returncode == 0, rescuer.stderr
    assert json.loads(rescuer.stdout.strip().splitlines()[-1])["steps_handled"] == 2

    status = orch.status(run_id)
    assert status.state == RunState.COMPLETED
    effects = ledger.effects()
    assert [(e.service, e.kind) for e in effects] == [
        ("stock", "apply"),
        ("payment", "apply"),
        ("shipping", "apply"),
    ]
    claims = [
        e for e in orch.events(run_id) if e.step == "charge_payment" and e.kind == "step_claimed"
    ]
    assert [(c.worker_id, c.detail["reclaimed"]) for c in claims] == [
        ("doomed", False),
        ("rescuer", True),
    ]
    from scenarios import History

    judgement = check(History.observe(orch, effects, [run_id]))
    assert judgement.verdict == "valid"
    orch.store.dispose()

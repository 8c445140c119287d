"""Steps call real HTTP services through the real Toxiproxy: a lost answer, with or without keys."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest

from faults import ToxiproxyClient
from orchestrator import Orchestrator, RunState
from scenarios import EffectLedger, History, check
from tests._servers import start_service, subprocess_env, worker_command

ROOT = Path(__file__).resolve().parents[2]
pytestmark = [pytest.mark.toxiproxy, pytest.mark.slow]


@pytest.mark.parametrize(("careful", "verdict"), [(True, "valid"), (False, "invalid")])
def test_a_cut_answer_is_retried_and_only_idempotency_keys_prevent_a_double_charge(
    toxiproxy: ToxiproxyClient, tmp_path: Path, careful: bool, verdict: str
) -> None:
    ledger_path = tmp_path / "payment.db"
    service, url = start_service("payment", ledger_path, *(() if careful else ("--ignore-keys",)))
    try:
        port = int(url.rsplit(":", 1)[1])
        proxy = toxiproxy.create_proxy("payment", f"127.0.0.1:{port}")
        db = f"sqlite:///{tmp_path / 'store.db'}"
        from tests.integration._workflows import patient_payment

        orch = Orchestrator(db)
        orch.register(patient_payment)
        run_id = orch.submit("patient", {"amount": 42})
        env = subprocess_env(CHAOSFLOW_SERVICE_PAYMENT_URL=f"http://127.0.0.1:{proxy.listen_port}")
        ledger = EffectLedger(ledger_path)
        # The request reaches the service and the charge applies; its answer is cut after a byte.
        proxy.add_toxic("limit_data", bytes=1, name="cut")
        worker = subprocess.Popen(
            worker_command(
                db, "tests.integration._workflows:patient_payment", "--max-seconds", "300"
            ),
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        # Generous: the worker's start alone can take tens of seconds on a loaded machine.
        deadline = time.monotonic() + 180
        while not ledger.effects() and time.monotonic() < deadline:
            time.sleep(0.02)
        retried = lambda: any(e.kind == "step_retry_scheduled" for e in orch.events(run_id))  # noqa: E731
        while not retried() and time.monotonic() < deadline:
            time.sleep(0.02)
        proxy.remove_toxic("cut")
        assert worker.wait(300) == 0
    finally:
        service.terminate()
        service.wait(10)
    assert orch.status(run_id).state == RunState.COMPLETED
    charges = [e for e in ledger.effects() if e.kind == "apply"]
    if careful:
        assert len(charges) == 1  # retried, yet the service applied its key once
    else:
        assert len(charges) >= 2  # every retry charged again
    judgement = check(History.observe(orch, ledger.effects(), [run_id]))
    assert judgement.verdict == verdict
    if not careful:
        assert {a.kind for a in judgement.anomalies} == {"duplicate_effect"}
    orch.store.dispose()

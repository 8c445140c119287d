"""SIGSTOP a real worker mid-step: its lease is taken over, its late write fenced off."""

from __future__ import annotations

import signal
import subprocess
import time
from pathlib import Path

from faults import Fault, ProcessFaultInjector, Trigger
from orchestrator import Orchestrator, RunState
from scenarios import EffectLedger
from tests._servers import subprocess_env, worker_command

ROOT = Path(__file__).resolve().parents[2]
WORKFLOW = "tests.integration._workflows:slow_saga"


def start_worker(db: str, ledger: Path, name: str) -> subprocess.Popen[bytes]:
    env = subprocess_env(ledger)
    return subprocess.Popen(
        worker_command(
            db, WORKFLOW, "--lease-seconds", "1", "--max-seconds", "300", "--worker-id", name
        ),
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def wait_for(condition, timeout: float = 180.0) -> None:  # type: ignore[no-untyped-def]
    # Generous: a worker's start alone can take tens of seconds on a loaded machine; the wait
    # ends as soon as the condition holds.
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.05)


def test_a_paused_worker_is_taken_over_and_its_late_write_rejected(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'store.db'}"
    ledger = EffectLedger(tmp_path / "effects.db")
    from tests.integration._workflows import slow_saga

    orch = Orchestrator(db)
    orch.register(slow_saga)
    run_id = orch.submit("slow", {"amount": 5})
    workers = {"paused": start_worker(db, ledger.path, "paused")}
    injector = ProcessFaultInjector(lambda name: workers[name].pid)
    pause = Fault("process", Trigger(at=0.0), "paused", 5.0, {"action": "sigstop"})
    try:
        wait_for(lambda: any(e.kind == "step_claimed" for e in orch.events(run_id)))
        injector.inject(pause)  # frozen in the middle of its two-second charge
        workers["rescuer"] = start_worker(db, ledger.path, "rescuer")
        wait_for(lambda: orch.status(run_id).state == RunState.COMPLETED)
        injector.heal(pause)  # SIGCONT: it finishes its charge and tries to record it
        for process in workers.values():
            assert process.wait(300) == 0
    finally:
        for process in workers.values():
            if process.poll() is None:
                process.send_signal(signal.SIGCONT)
                process.kill()
                process.wait(10)
    events = [(e.kind, e.worker_id) for e in orch.events(run_id)]
    assert ("step_completed", "rescuer") in events
    assert ("late_write_rejected", "paused") in events
    assert [k for k, _ in events].count("step_completed") == 1
    claims = [e for e in orch.events(run_id) if e.kind == "step_claimed"]
    assert [(c.worker_id, c.detail["reclaimed"]) for c in claims] == [
        ("paused", False),
        ("rescuer", True),
    ]
    # Both ran the charge; the service saw one key and applied it once.
    assert len(ledger.effects()) == 1
    orch.store.dispose()

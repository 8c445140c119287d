"""Scenario files in real mode: worker processes, the example services over HTTP behind a real
Toxiproxy, a real SIGKILL, SQLite on disk or PostgreSQL, judged from the services' ledger."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from scenarios import (
    ScenarioDefinitionError,
    ScenarioOutcome,
    decode_replay_token,
    load_scenario_file,
)
from scenarios.real import RealSettings, run_real
from tests._servers import subprocess_env

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "scenarios" / "order_saga_real.yaml"
pytestmark = [pytest.mark.toxiproxy, pytest.mark.slow]

# The order saga against a payment service that ignores idempotency keys, under a crash after
# the charge and before its record: the worker that takes the step over charges again.
CARELESS = """\
name: careless-payment
workflow: examples.order_saga:order_saga
mode: real
inputs: [{sku: book-1, qty: 1, amount: 1200, address: 1 Main St}]
faults: [{kind: crash, trigger: {point: after_action, step: charge_payment}}]
invariants: [duplicate_effect, missing_compensation, stuck_workflow]
workers: 2
lease_seconds: 1
heal_after: 5
progress_bound: 30
services: {stock: {}, payment: {ignore_keys: true}, shipping: {}}
"""

# One patient charge (30 attempts, 0.2 s apart) while the payment proxy is down for 1.5 s.
PARTITION = """\
name: payment-partition
workflow: tests.integration._workflows:patient_payment
mode: real
inputs: [{amount: 42}, {amount: 7}]
faults: [{kind: partition, target: payment, trigger: {at: 0}, duration: 1.5}]
invariants: [duplicate_effect, missing_compensation, stuck_workflow]
workers: 2
lease_seconds: 2
heal_after: 10
progress_bound: 30
services: [payment]
"""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def _pid(worker_id: str | None) -> int:
    match = re.fullmatch(r"worker-\d+\.\d+@pid(\d+)", worker_id or "")
    assert match, f"not a real-mode worker id: {worker_id!r}"
    return int(match.group(1))


def _chaosflow(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "chaosflow", *args],
        cwd=ROOT,
        env=subprocess_env(),
        capture_output=True,
        text=True,
        timeout=600,  # generous: a real run on a loaded machine
    )


def _careless(tmp_path: Path, **settings: str) -> ScenarioOutcome:
    path = tmp_path / "careless.yaml"
    path.write_text(CARELESS)
    spec = load_scenario_file(path)
    real = RealSettings(spec.real.services, settings.get("db_url"))
    return run_real(
        spec.base_scenario(), tmp_path / "run", workflow_spec=spec.workflow_spec, settings=real
    )


def test_the_example_survives_a_real_sigkill_and_another_worker_takes_over(
    tmp_path: Path,
) -> None:
    spec = load_scenario_file(EXAMPLE)
    assert spec.mode == "real"
    outcome = run_real(
        spec.base_scenario(), tmp_path, workflow_spec=spec.workflow_spec, settings=spec.real
    )
    assert outcome.mode == "real"
    assert outcome.verdict == "valid", [(r.checker, r.note) for r in outcome.judgement.results]
    assert {str(run.state) for run in outcome.runs} == {"completed", "rolled_back"}

    # A real SIGKILL struck the worker that had just charged, and that process is gone.
    crashes = [f for f in outcome.faults if f.kind == "crash"]
    assert len(crashes) == 1 and crashes[0].target.endswith("/charge_payment@after_action")
    killed = int(re.search(r"pid (\d+) killed", crashes[0].detail).group(1))  # type: ignore[union-attr]
    exits = outcome.history.meta["worker_exits"]
    assert [e["returncode"] for e in exits if e["pid"] == killed] == [-9]
    assert not _alive(killed)
    assert outcome.history.meta["respawns"] >= 1  # a fresh process took the dead one's slot

    # The charge the dead worker applied was taken over by another process, through its lease.
    run_id = crashes[0].target.split("/")[0]
    claims = [
        e
        for e in outcome.history.events
        if e.run_id == run_id and e.step == "charge_payment" and e.kind == "step_claimed"
    ]
    assert _pid(claims[0].worker_id) == killed
    assert _pid(claims[-1].worker_id) != killed and claims[-1].detail["reclaimed"] is True

    # The services' effects were caused by more than one worker process, none of them the runner.
    applying = {
        _pid(e.worker_id)
        for e in outcome.history.events
        if e.kind == "step_claimed"
        and any(x.run_id == e.run_id and x.step == e.step for x in outcome.history.effects)
    }
    assert len(applying) >= 2 and os.getpid() not in applying
    charges = [e for e in outcome.history.effects if e.service == "payment" and e.kind == "apply"]
    assert len(charges) == 2  # one per order: the key kept the retaken charge single

    # Every child process is gone: the services the runner started, and every worker.
    services = outcome.history.meta["services"]
    assert set(services) == {"stock", "payment", "shipping"}
    assert {e.pid for e in outcome.history.effects} <= {s["pid"] for s in services.values()}
    assert not any(_alive(s["pid"]) for s in services.values())
    assert not any(_alive(e["pid"]) for e in exits)


@pytest.mark.postgres
def test_a_careless_payment_service_double_charges_on_postgres(
    tmp_path: Path, fresh_postgres_url: str
) -> None:
    outcome = _careless(tmp_path, db_url=fresh_postgres_url)
    assert outcome.history.meta["store"].startswith("postgresql")
    assert any(f.kind == "crash" and "sigkill" in f.detail for f in outcome.faults)
    assert outcome.verdict == "invalid"
    assert {a.kind for a in outcome.judgement.anomalies} == {"duplicate_effect"}
    charges = [e for e in outcome.history.effects if e.service == "payment" and e.kind == "apply"]
    assert len(charges) == 2 and charges[0].key == charges[1].key
    token = outcome.judgement.anomalies[0].replay_token
    assert decode_replay_token(token)["mode"] == "real"


def test_the_command_line_exits_1_for_a_careless_service_and_replays_in_real_mode(
    tmp_path: Path,
) -> None:
    path = tmp_path / "careless.yaml"
    path.write_text(CARELESS)
    done = _chaosflow("run", str(path))
    assert done.returncode == 1, done.stdout + done.stderr
    assert "duplicate_effect" in done.stdout and "verdict: invalid" in done.stdout
    token = re.search(r"replay: chaosflow replay (\S+)", done.stdout).group(1)  # type: ignore[union-attr]
    assert decode_replay_token(token)["mode"] == "real"
    # The file is not under the folder the replay runs in (the repository): named with
    # --scenario, as the refusal says to.
    again = _chaosflow("replay", token, "--scenario", str(path))
    assert again.returncode == 1, again.stdout + again.stderr
    assert "(mode real)" in again.stdout and "duplicate_effect" in again.stdout


def test_a_partition_through_toxiproxy_heals_and_the_command_line_exits_0(
    tmp_path: Path,
) -> None:
    path = tmp_path / "partition.yaml"
    path.write_text(PARTITION)
    done = _chaosflow("run", str(path), "--report", str(tmp_path / "report"))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "verdict: valid" in done.stdout
    document = json.loads((tmp_path / "report" / "result.json").read_text())
    assert document["mode"] == "real"
    (partition,) = document["faults"]
    assert partition["kind"] == "partition" and "disabled" in partition["detail"]
    assert partition["shape"] == "window"
    assert partition["end_s"] is not None and partition["end_s"] >= 1.5
    # The calls made while the proxy was down failed and were retried: more claims than runs.
    assert sum(run["attempts"] for run in document["runs"]) > len(document["runs"])
    assert {run["state"] for run in document["runs"]} == {"completed"}


# The order saga on PostgreSQL while the workers' road to the store is cut for 2 s mid-run.
STORE_PARTITION = """\
name: store-partition
workflow: examples.order_saga:order_saga
mode: real
inputs:
  - {sku: book-1, qty: 1, amount: 1200, address: 1 Main St}
  - {sku: desk-2, qty: 1, amount: 23000, address: undeliverable}
faults: [{kind: partition, target: store, trigger: {at: 0}, duration: 2.0}]
invariants: [duplicate_effect, missing_compensation, stuck_workflow, lost_workflow]
workers: 2
lease_seconds: 2
heal_after: 10
progress_bound: 60
"""


@pytest.mark.postgres
def test_workers_reach_postgres_through_toxiproxy_and_survive_a_store_partition(
    tmp_path: Path, fresh_postgres_url: str
) -> None:
    path = tmp_path / "store.yaml"
    path.write_text(STORE_PARTITION + f"store: {{url: '{fresh_postgres_url}'}}\n")
    spec = load_scenario_file(path)
    outcome = run_real(
        spec.base_scenario(), tmp_path / "run", workflow_spec=spec.workflow_spec, settings=spec.real
    )
    assert outcome.verdict == "valid", [a.detail for a in outcome.judgement.anomalies]
    (partition,) = [f for f in outcome.faults if f.kind == "partition"]
    assert partition.target == "store" and partition.healed_at is not None
    assert sorted(str(r.state) for r in outcome.runs) == ["completed", "rolled_back"]
    # The workers reach the store only through the proxy: nothing moved while it was cut.
    # Judged against when the partition really struck and healed, not against the plan's
    # "at 0 for 2 s": on a loaded machine the runner's timer may strike late.
    assert partition.healed_at - partition.at >= 2.0
    moved = [e.at for e in outcome.history.events if e.kind == "step_claimed"]
    assert moved and not [at for at in moved if partition.at < at < partition.healed_at]
    assert max(moved) >= partition.healed_at


def test_a_store_fault_on_sqlite_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "store.yaml"
    path.write_text(STORE_PARTITION)
    with pytest.raises(ScenarioDefinitionError, match=r"target='store' is not a proxy of this run"):
        load_scenario_file(path)

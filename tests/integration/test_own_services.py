"""Real mode with a service of the user's own (``examples.card_service``: plain stdlib HTTP, none of
chaosflow's service helpers): started from its command line behind a real Toxiproxy proxy,
restarted, SIGSTOPped, observed through an SQL probe, an HTTP probe or the recording client.

The faults here are aimed at hook points (the worker that reaches the point asks the runner and
waits until the fault is in force), so the verdicts do not depend on the machine's speed: the
same scenarios run again under two busy-loop processes and give the same verdict.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import yaml

from scenarios import HarnessError, ScenarioOutcome, decode_replay_token, load_scenario_file
from scenarios.real import run_real
from tests._servers import subprocess_env

ROOT = Path(__file__).resolve().parents[2]
pytestmark = [pytest.mark.toxiproxy, pytest.mark.slow]

SQL_PROBE = {
    "sql": "SELECT kind, key, run_id, step, at FROM ledger",
    "url": "sqlite:///{folder}/card.db",
}
RESTART_THEN_CRASH = [
    # Right after the charge reached the card service and came back: restart the service, and
    # once it is up again kill the worker, so another worker charges again with the same key.
    {
        "kind": "process",
        "target": "card",
        "params": {"action": "restart"},
        "trigger": {"point": "after_action", "step": "charge"},
    },
    {"kind": "crash", "trigger": {"point": "after_action", "step": "charge"}},
]


def card(*flags: str, probe: dict[str, Any] | None = None) -> dict[str, Any]:
    command = [sys.executable, "-m", "examples.card_service", "--port", "{port}"]
    entry: dict[str, Any] = {
        "command": [*command, "--db", "{folder}/card.db", *flags],
        "cwd": str(ROOT),
        "env": {"PYTHONPATH": str(ROOT)},
        "health": "/health",
        "start_timeout": 60,
    }
    if probe is not None:
        entry["probe"] = probe
    return entry


def scenario_file(
    tmp_path: Path, name: str, faults: list[Any], service: dict[str, Any], **more: Any
) -> Path:
    data = {
        "name": name,
        "workflow": "examples.card_order:card_order",
        "mode": "real",
        "inputs": more.pop("inputs", [{"amount": 5}]),
        "faults": faults,
        "invariants": more.pop(
            "invariants", ["duplicate_effect", "missing_compensation", "stuck_workflow"]
        ),
        "workers": 2,
        "lease_seconds": 1,
        "heal_after": 20,
        "progress_bound": 40,
        "services": {"card": service},
        "settle": more.pop("settle", {"quiet": 0.3, "max": 5}),
        **more,
    }
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def run(path: Path, folder: Path, logs: Path | None = None) -> ScenarioOutcome:
    spec = load_scenario_file(path)
    settings = (
        spec.real
        if logs is None
        else type(spec.real)(spec.real.services, spec.real.db_url, spec.real.settle, str(logs))
    )
    return run_real(
        spec.base_scenario(), folder, workflow_spec=spec.workflow_spec, settings=settings
    )


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@contextmanager
def busy_machine() -> Iterator[list[subprocess.Popen[bytes]]]:
    """Two processes that burn CPU (bounded to three minutes each), stopped on exit."""
    loop = "import time\nend = time.monotonic() + 180\nwhile time.monotonic() < end:\n    pass\n"
    burners = [subprocess.Popen([sys.executable, "-c", loop]) for _ in range(2)]
    try:
        yield burners
    finally:
        for burner in burners:
            burner.kill()
            burner.wait(10)


def charges(outcome: ScenarioOutcome) -> list[Any]:
    return [e for e in outcome.history.effects if e.kind == "apply" and e.step == "charge"]


def check_restart_case(outcome: ScenarioOutcome, keys: str) -> None:
    verdicts = {r.checker: str(r.verdict) for r in outcome.judgement.results}
    notes = [(r.checker, r.note) for r in outcome.judgement.results]
    # The restart struck at the charge's after_action, and before the crash at the same point.
    (restart,) = [f for f in outcome.faults if f.kind == "process"]
    (crash,) = [f for f in outcome.faults if f.kind == "crash"]
    assert restart.target == "card" and "restart pid" in restart.detail
    assert crash.target.endswith("/charge@after_action") and restart.at <= crash.at
    card_meta = outcome.history.meta["services"]["card"]
    assert card_meta["starts"] == 2 and len(set(card_meta["pids"])) == 2
    assert not any(alive(pid) for pid in card_meta["pids"])  # every generation is gone
    if keys == "memory":
        # The restarted service forgot the key: the retaken charge was applied again.
        assert outcome.verdict == "invalid", notes
        assert verdicts["duplicate_effect"] == "invalid"
        assert len(charges(outcome)) == 2
        # The anomaly's replay token carries the service fault, and says real.
        (anomaly,) = [a for r in outcome.judgement.results for a in r.anomalies]
        token = decode_replay_token(anomaly.replay_token or "")
        assert token["mode"] == "real"
        assert {"kind": "process", "target": "card"}.items() <= token["plan"]["faults"][0].items()
    else:
        assert outcome.verdict == "valid", notes
        assert len(charges(outcome)) == 1
    assert {str(r.state) for r in outcome.runs} == {"completed"}


@pytest.mark.parametrize("keys", ["memory", "durable"])
def test_keys_held_in_memory_are_caught_after_a_service_restart_aimed_at_the_charge(
    tmp_path: Path, keys: str
) -> None:
    path = scenario_file(
        tmp_path, f"card-{keys}", RESTART_THEN_CRASH, card("--keys", keys, probe=SQL_PROBE)
    )
    outcome = run(path, tmp_path / "run", logs=tmp_path / "kept")
    check_restart_case(outcome, keys)
    # The service's log was kept (both starts of it), with the workers'.
    (kept,) = (tmp_path / "kept").iterdir()
    log = (kept / "service-card.log").read_text()
    assert "start 1 of card" in log and "start 2 of card" in log
    assert "card service (" + keys + " keys)" in log
    assert any(p.name.startswith("worker-0.") for p in kept.iterdir())


@pytest.mark.parametrize("keys", ["memory", "durable"])
def test_the_same_verdict_on_a_busy_machine(tmp_path: Path, keys: str) -> None:
    path = scenario_file(
        tmp_path, f"card-{keys}", RESTART_THEN_CRASH, card("--keys", keys, probe=SQL_PROBE)
    )
    with busy_machine() as burners:
        outcome = run(path, tmp_path / "run")
        assert all(b.poll() is None for b in burners)  # the load lasted the whole run
    check_restart_case(outcome, keys)


def test_a_worker_frozen_when_it_claims_the_charge_seen_through_the_recording_client(
    tmp_path: Path,
) -> None:
    freeze = {
        "kind": "process",
        "params": {"action": "sigstop"},
        "trigger": {"point": "step_claimed", "step": "charge"},
        "duration": 3,
    }
    path = scenario_file(tmp_path, "card-freeze", [freeze], card("--keys", "durable", "--record"))
    outcome = run(path, tmp_path / "run")
    assert outcome.verdict == "valid", [(r.checker, r.note) for r in outcome.judgement.results]
    (stop,) = [f for f in outcome.faults if f.kind == "process"]
    # No target in the file: the worker that claimed the step was the one frozen, by its slot.
    assert stop.target in ("worker-0", "worker-1") and "sigstop pid" in stop.detail
    # Woken when every run had ended (before its 3 s), so the settle saw what it did then.
    assert stop.healed_at is not None and stop.healed_at > stop.at
    claims = [e for e in outcome.history.events if e.kind == "step_claimed" and e.step == "charge"]
    assert len({e.worker_id for e in claims}) >= 2  # taken over while its first worker slept
    # The service recorded its charge itself (no probe): one, whatever the frozen worker did.
    assert outcome.history.meta["services"]["card"]["probe"] is False
    (charge,) = charges(outcome)
    assert charge.service == "card" and charge.payload == {"amount": 5}
    assert charge.pid in outcome.history.meta["services"]["card"]["pids"]


def test_a_charge_applied_after_its_refund_is_seen_by_waiting_and_judged_by_service_times(
    tmp_path: Path,
) -> None:
    # The card service answers 202 and charges a second later; the order is declined at once,
    # so the refund finds nothing, and the charge lands after the saga has rolled back.
    path = scenario_file(
        tmp_path,
        "card-late",
        [],
        card("--keys", "durable", "--apply-delay", "1.0", probe={"http": "/effects"}),
        inputs=[{"amount": 9, "decline": True}],
        invariants=["effect_after_compensation", "missing_compensation", "stuck_workflow"],
        settle={"quiet": 1.5, "max": 15},
    )
    outcome = run(path, tmp_path / "run")
    assert {str(r.state) for r in outcome.runs} == {"rolled_back"}
    (charge,) = charges(outcome)
    finished = max(e.at for e in outcome.history.events if e.kind == "run_rolled_back")
    assert charge.at > finished  # only the settle saw it: every run had ended before
    settle = outcome.history.meta["settle"]
    assert settle["quiet_reached"] and settle["waited_s"] >= 1.5
    results = {r.checker: r for r in outcome.judgement.results}
    assert str(results["effect_after_compensation"].verdict) == "invalid"
    (anomaly,) = results["effect_after_compensation"].anomalies
    assert "after the compensation ended" in anomaly.detail


def test_a_service_that_will_not_start_is_a_harness_error_exit_4(tmp_path: Path) -> None:
    broken = {"command": [sys.executable, "-c", "print('no card today'); raise SystemExit(3)"]}
    path = scenario_file(tmp_path, "card-broken", [], broken)
    result = subprocess.run(
        [sys.executable, "-m", "chaosflow", "run", str(path), "--report", str(tmp_path / "out")],
        cwd=ROOT,
        env=subprocess_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 4, result.stderr
    assert "verdict: error" in result.stdout
    assert "Service 'card' exited at start with code 3" in result.stderr
    assert "no card today" in result.stderr  # the end of its log, in the message
    document = json.loads((tmp_path / "out" / "result.json").read_text())
    assert (document["verdict"], document["error"]["kind"]) == ("error", "HarnessError")
    kept = list((tmp_path / "out" / "logs").iterdir())
    assert [p.name for p in kept[0].iterdir()] == ["service-card.log"]

    # A service that never answers its health URL: a harness error too, after start_timeout.
    silent = {"command": [sys.executable, "-c", "import time; time.sleep(60)"], "start_timeout": 1}
    spec = load_scenario_file(scenario_file(tmp_path, "card-silent", [], silent))
    with pytest.raises(HarnessError, match=r"did not answer 2xx on http://127.0.0.1:\d+/health"):
        run_real(
            spec.base_scenario(),
            tmp_path / "silent",
            workflow_spec=spec.workflow_spec,
            settings=spec.real,
        )


def test_the_readme_example_exits_1_and_keeps_the_services_log(tmp_path: Path) -> None:
    example = ROOT / "examples" / "scenarios" / "card_restart_real.yaml"
    report = tmp_path / "card-report"
    result = subprocess.run(
        [sys.executable, "-m", "chaosflow", "run", str(example), "--report", str(report)],
        cwd=tmp_path,  # the file's cwd: is relative to the file, not to where it is run
        env=subprocess_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 1, result.stdout + result.stderr
    assert "duplicate_effect run=card-restart-real-0-0000 steps=['charge']" in result.stdout
    assert "service 'card' applied the apply effect of step 'charge' 2 times" in result.stdout
    (kept,) = (report / "logs").iterdir()
    assert "start 2 of card" in (kept / "service-card.log").read_text()
    document = json.loads((report / "result.json").read_text())
    assert document["verdict"] == "invalid"
    # The case's token in the report reruns it for real, as the printed one does.
    assert decode_replay_token(document["cases"][0]["replay_token"])["mode"] == "real"
    assert any(f["kind"] == "process" and f["target"] == "card" for f in document["faults"])


def test_a_service_frozen_as_the_charge_goes_out_answers_once_it_is_woken(tmp_path: Path) -> None:
    freeze = {
        "kind": "process",
        "target": "card",
        "params": {"action": "sigstop"},
        "trigger": {"point": "before_action", "step": "charge"},
        "duration": 1.5,
    }
    path = scenario_file(
        tmp_path, "card-paused", [freeze], card("--keys", "durable", probe=SQL_PROBE)
    )
    outcome = run(path, tmp_path / "run")
    assert outcome.verdict == "valid", [(r.checker, r.note) for r in outcome.judgement.results]
    (stop,) = [f for f in outcome.faults if f.kind == "process"]
    assert stop.target == "card" and "sigstop pid" in stop.detail
    assert stop.healed_at is not None
    # The request went out while the whole service was stopped; it was applied only after the
    # SIGCONT (the service's own time), and once.
    (charge,) = charges(outcome)
    assert charge.at >= stop.healed_at
    assert outcome.history.meta["services"]["card"]["starts"] == 1


def test_the_card_proxy_cut_as_the_charge_goes_out_is_retried_until_it_heals(
    tmp_path: Path,
) -> None:
    cut = {
        "kind": "partition",
        "target": "card",
        "trigger": {"point": "before_action", "step": "charge"},
        "duration": 1.0,
    }
    path = scenario_file(tmp_path, "card-cut", [cut], card("--keys", "durable", probe=SQL_PROBE))
    outcome = run(path, tmp_path / "run")
    assert outcome.verdict == "valid", [(r.checker, r.note) for r in outcome.judgement.results]
    (partition,) = [f for f in outcome.faults if f.kind == "partition"]
    assert partition.target == "card" and partition.healed_at is not None
    # The first attempt met the cut proxy (it was in force before the action ran) and was
    # retried; the charge went through only after the heal, once.
    retries = [
        e for e in outcome.history.events if e.kind == "step_retry_scheduled" and e.step == "charge"
    ]
    assert retries and retries[0].at >= partition.at
    (charge,) = charges(outcome)
    assert charge.at >= partition.healed_at

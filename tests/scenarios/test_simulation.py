"""The simulation as a world of its own: virtual time only, a seed fixes the history byte for
byte, late answers and zombie effects, faults that last, every store fault handled, faults by
the service they hit, and compensations judged fairly under faults."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from faults import FOREVER, STORE_ACTIONS, Fault, FaultPlan, Trigger
from orchestrator import RetryPolicy, Step, StepContext, Workflow
from scenarios import (
    ANOMALY_KINDS,
    RecordingService,
    Scenario,
    ScenarioOutcome,
    Verdict,
    generated_scenarios,
    run_in_process,
    workflow_specs,
)
from tests.scenarios._sim_sagas import (
    determinism_case,
    history_bytes,
    run,
    saga,
    strict_refunds,
)

ROOT = Path(__file__).resolve().parents[2]


def kinds(outcome: ScenarioOutcome) -> set[str]:
    return {a.kind for a in outcome.judgement.anomalies}


# -- one virtual world ----------------------------------------------------------------------


def test_nothing_in_a_simulation_waits_on_the_machine(monkeypatch: pytest.MonkeyPatch) -> None:
    real_sleeps: list[float] = []
    threads: list[str] = []
    monkeypatch.setattr(time, "sleep", lambda seconds: real_sleeps.append(seconds))
    start = threading.Thread.start
    monkeypatch.setattr(
        threading.Thread, "start", lambda self: (threads.append(self.name), start(self))
    )

    def hangs_then_sleeps(ctx: StepContext) -> Any:
        time.sleep(5)  # a step written with time.sleep still waits in virtual time
        return {"ok": True}

    workflow = Workflow(
        "slow",
        [Step("nap", hangs_then_sleeps, timeout=30), Step("after", lambda ctx: 1, after=("nap",))],
    )
    outcome = run(
        workflow,
        Fault.step_fault("hang", "nap", seconds=10**6),  # past the timeout, for good
        Fault("store", Trigger(at=0.0), None, 40.0, {"action": "latency", "seconds": 2.0}),
        Fault("store", Trigger(at=50.0), None, 20.0, {"action": "connection_loss"}),
        heal_after=100,
        progress_bound=100,
    )
    assert real_sleeps == [] and threads == []
    # The hang cost virtual time, and the step's timeout cut it at 30 virtual seconds.
    assert outcome.history.meta["virtual_seconds"] > 30
    failed = [
        e for e in outcome.history.events if e.kind in ("step_retry_scheduled", "step_failed")
    ]
    assert failed and "StepTimeout" in failed[0].detail["error"]


def test_a_seed_fixes_the_history_byte_for_byte_across_processes() -> None:
    first = history_bytes(determinism_case(7))
    assert first == history_bytes(determinism_case(7))
    assert first != history_bytes(determinism_case(8))
    # Another interpreter, with another hash seed: the same bytes.
    script = (
        "import sys; sys.path.insert(0, sys.argv[1]);"
        "from tests.scenarios._sim_sagas import replay_in_child; replay_in_child()"
    )
    child = subprocess.run(
        [sys.executable, "-c", script, str(ROOT)],
        capture_output=True,
        check=True,
        env={**os.environ, "PYTHONHASHSEED": "12345"},
        timeout=300,
    )
    assert child.stdout == first


@settings(max_examples=10, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    case=generated_scenarios(
        workflow_specs(max_steps=4), max_faults=2, invariants=ANOMALY_KINDS, lease_seconds=2
    ),
    store_fault=st.sampled_from(STORE_ACTIONS),
    timeout=st.sampled_from([0.2, 1.0]),
)
def test_generated_scenarios_with_timeouts_and_store_faults_replay_exactly(
    case: Scenario, store_fault: str, timeout: float
) -> None:
    # Every step of the generated workflow gets a timeout, and a latency toxic runs past it.
    steps = [
        Step(
            s.name,
            s.action,
            s.compensation,
            after=tuple(case.workflow.dependencies(n)),
            retry=s.retry,
            timeout=timeout,
            when=s.when,
        )
        for n, s in case.workflow.steps.items()
    ]
    timed = Workflow(case.workflow.name, steps)
    plan = FaultPlan(
        (
            *case.plan.faults,
            Fault("store", Trigger(at=0.0), None, 3.0, {"action": store_fault, "probability": 0.3}),
            Fault.toxic("payment", "latency", at=0.0, duration=2.0, latency=int(timeout * 1500)),
        ),
        case.seed,
    )
    scenario = Scenario(
        case.name, timed, case.inputs, plan, case.invariants, case.seed, lease_seconds=2
    )
    assert history_bytes(run_in_process(scenario)) == history_bytes(run_in_process(scenario))


# -- every store fault, handled ---------------------------------------------------------------


@pytest.mark.parametrize("action", STORE_ACTIONS)
def test_each_store_fault_strikes_the_workers_and_the_run_survives_it(action: str) -> None:
    params: dict[str, Any] = {"action": action, "probability": 0.5}
    if action == "latency":
        params["seconds"] = 0.5
    outcome = run(
        saga(RecordingService("payment"), timeout=None),
        Fault("store", Trigger(at=0.0), None, 10.0, params),
        inputs=[{"amount": 100}, {"amount": 200, "declined": True}],
    )
    assert outcome.history.meta["store_faults_struck"].get(action, 0) > 0
    assert outcome.verdict == Verdict.VALID, outcome.judgement.anomalies
    assert all(r.terminal for r in outcome.runs)
    assert len(outcome.runs) == 2


def test_a_store_down_at_submit_delays_the_acknowledgement_and_loses_nothing() -> None:
    outcome = run(
        saga(RecordingService("payment"), timeout=None),
        Fault("store", Trigger(at=0.0), None, 3.0, {"action": "connection_loss"}),
    )
    # The client's retry waited the outage out: nothing could be claimed before the submission
    # committed, after the store came back.
    first_claim = next(e for e in outcome.history.events if e.kind == "step_claimed")
    assert first_claim.at - outcome.origin >= 3.0
    assert outcome.verdict == Verdict.VALID
    assert [str(r.state) for r in outcome.runs] == ["completed"]


def test_a_store_that_never_comes_back_refuses_the_submission_rather_than_losing_it() -> None:
    outcome = run(
        saga(RecordingService("payment")),
        Fault("store", Trigger(at=0.0), None, FOREVER, {"action": "commit_fail"}),
        progress_bound=90,
    )
    assert outcome.runs == []  # no commit ever reached the store
    refused = outcome.history.meta["submissions_refused"]
    assert len(refused) == 1 and "OperationalError" in refused[0]
    assert "lost_workflow" not in kinds(outcome)  # never acknowledged: nothing was lost


# -- late answers and zombie effects ----------------------------------------------------------


def test_a_late_answer_lands_the_effect_before_the_timeout_and_the_retry_replays_it() -> None:
    # Downstream latency (the default stream) for the first second: the charge is applied at
    # once, its answer comes two seconds later, after the one-second timeout.
    outcome = run(
        saga(RecordingService("payment"), timeout=1.0),
        Fault.toxic("payment", "latency", at=0.0, duration=1.0, latency=2000),
    )
    charges = [e for e in outcome.history.effects if e.step == "charge" and e.kind == "apply"]
    (timed_out,) = [
        e
        for e in outcome.history.events
        if e.kind == "step_retry_scheduled" and "StepTimeout" in e.detail["error"]
    ]
    assert len(charges) == 1 and charges[0].at < timed_out.at
    assert outcome.verdict == Verdict.VALID  # the retry carried the same key: no second charge
    assert [str(r.state) for r in outcome.runs] == ["completed"]


def late_request(service: RecordingService) -> ScenarioOutcome:
    # A second of upstream latency on the payment proxy delays the charge's request by five:
    # past the one-second timeout (one attempt), the run rolls back, the refund (sent after the
    # blip) finds nothing, and only then does the charge reach the service.
    return run(
        saga(service, timeout=1.0, retry=RetryPolicy(max_attempts=1)),
        Fault.toxic("payment", "latency", at=0.0, duration=1.0, stream="upstream", latency=5000),
    )


def test_a_late_request_applies_the_effect_after_its_compensation() -> None:
    outcome = late_request(RecordingService("payment"))
    assert {"effect_after_compensation", "missing_compensation"} <= kinds(outcome)
    (zombie,) = [e for e in outcome.history.effects if e.step == "charge"]
    end = outcome.history.terminal_event(outcome.runs[0].run_id)
    assert end is not None and zombie.at > end.at  # landed after the run had ended...
    assert outcome.history.meta["calls_in_flight_at_end"] == 0  # ...and the world waited for it


def test_a_service_that_remembers_the_undo_refuses_the_late_request() -> None:
    outcome = late_request(RecordingService("payment", refuse_after_undo=True))
    assert outcome.verdict == Verdict.VALID, outcome.judgement.anomalies
    assert not [e for e in outcome.history.effects if e.step == "charge"]


# -- faults that last ---------------------------------------------------------------------------


LASTING_OUTAGE = Fault("partition", Trigger(at=0.0), "shipping", FOREVER)


def test_a_workflow_that_gives_up_under_a_lasting_outage_rolls_back_and_passes() -> None:
    outcome = run(saga(RecordingService("payment"), timeout=1.0), LASTING_OUTAGE)
    assert outcome.verdict == Verdict.VALID
    assert [str(r.state) for r in outcome.runs] == ["rolled_back"]
    (outage,) = outcome.faults
    assert outage.healed_at is not None and outage.healed_at >= outcome.history.events[-1].at


def test_a_workflow_that_retries_forever_under_a_lasting_outage_is_stuck() -> None:
    forever = RetryPolicy(max_attempts=10**9, initial_interval=1.0, max_interval=5.0)
    outcome = run(saga(RecordingService("payment"), ship_retry=forever), LASTING_OUTAGE)
    assert kinds(outcome) == {"stuck_workflow"}
    assert outcome.history.meta["stopped"] == "deadline"


def test_a_retry_storm_with_no_backoff_spends_virtual_time_and_is_caught() -> None:
    storm = RetryPolicy(max_attempts=10**9, initial_interval=0.0, max_interval=0.0)
    outcome = run(saga(RecordingService("payment"), ship_retry=storm), LASTING_OUTAGE)
    assert kinds(outcome) == {"stuck_workflow"}
    attempts = [e for e in outcome.history.events if e.kind == "step_claimed" and e.step == "ship"]
    assert len(attempts) > 100  # it really stormed, and the world still moved


def test_progress_is_judged_from_when_the_last_lasting_fault_started() -> None:
    # The runs end at once; the outage that starts at 20 s and lasts moves the bound to 20 + 30.
    late = Fault("partition", Trigger(at=20.0), "stock", FOREVER)
    outcome = run(saga(RecordingService("payment")), late, heal_after=10, progress_bound=30)
    assert outcome.history.progress_deadline == outcome.origin + 20.0 + 30


# -- faults by what they hit ------------------------------------------------------------------


def test_a_fault_on_a_service_hits_every_call_to_it_and_no_other() -> None:
    # No routes: a recording service's calls go through the proxy of its name.
    down = Fault("partition", Trigger(at=0.0), "payment", 30.0)
    outcome = run(
        saga(RecordingService("payment"), timeout=None, retry=RetryPolicy(max_attempts=20)),
        down,
        inputs=[{"amount": 100, "declined": True}],
    )
    calls = outcome.history.meta["proxies_called"]
    assert calls["payment"] >= 2 and calls["stock"] >= 2
    retries = [e.step for e in outcome.history.events if e.kind == "step_retry_scheduled"]
    assert set(retries) == {"charge"}  # the stock calls were never cut
    assert outcome.verdict == Verdict.VALID
    assert outcome.history.meta["faults_without_calls"] == []


def test_a_fault_on_a_proxy_nothing_calls_is_reported() -> None:
    outcome = run(
        saga(RecordingService("payment")), Fault("partition", Trigger(at=0.0), "paymnet", 5.0)
    )
    assert outcome.history.meta["faults_without_calls"] == ["paymnet"]


# -- judged fairly under faults ---------------------------------------------------------------


def test_a_compensation_that_fails_during_an_outage_is_not_a_broken_contract() -> None:
    payment = RecordingService("payment")
    # The refund meets a payment service that is down for good: it fails, but the outage, not
    # the refund's contract, is why.
    outage = Fault(
        "partition", Trigger(point="before_compensation", step="charge"), "payment", FOREVER
    )
    outcome = run(strict_refunds(payment), outage)
    assert "contract_violation" not in kinds(outcome)
    (contracts,) = [r for r in outcome.judgement.results if r.checker == "contract_violation"]
    assert "failed while a fault was in force not judged" in contracts.note


def test_a_compensation_that_fails_on_nothing_to_undo_with_no_fault_still_is() -> None:
    payment = RecordingService("payment")
    # A fault on the charge's action (nothing is ever charged) cannot excuse the refund.
    never_charged = Fault.step_fault("permanent", "charge")
    outcome = run(strict_refunds(payment), never_charged)
    assert "contract_violation" in kinds(outcome)

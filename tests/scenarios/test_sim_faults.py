"""Every fault kind in the simulation, through the nemesis and the in-memory twins."""

from __future__ import annotations

from pathlib import Path

from examples import order_saga as saga
from faults import Fault, FaultPlan, Trigger
from orchestrator import RetryPolicy, Step, Workflow
from scenarios import RecordingService, Scenario, Verdict, run_in_process
from tests.scenarios._catalogue import saga_charging

ROUTES = {"payment": ["charge_payment", "refund_payment"]}


RESET_AFTER_CHARGE = FaultPlan(
    (Fault.toxic("payment", "reset_peer", at=0.0, duration=1.0, timeout=0),)
)


def test_a_lost_answer_duplicates_the_charge_at_a_careless_service(tmp_path: Path) -> None:
    careless = saga_charging(RecordingService("payment", honour_keys=False))
    outcome = run_in_process(
        Scenario("reset", careless, saga.DEMO_ORDERS[:2], RESET_AFTER_CHARGE, routes=ROUTES),
        tmp_path,
    )
    assert outcome.verdict == Verdict.INVALID
    assert {a.kind for a in outcome.judgement.anomalies} == {"duplicate_effect"}
    assert [f.kind for f in outcome.faults] == ["network"]
    assert outcome.faults[0].healed_at is not None


def test_the_same_lost_answer_is_harmless_with_idempotency_keys(tmp_path: Path) -> None:
    careful = saga_charging(RecordingService("payment"))
    outcome = run_in_process(
        Scenario("reset-ok", careful, saga.DEMO_ORDERS[:2], RESET_AFTER_CHARGE, routes=ROUTES),
        tmp_path,
    )
    assert outcome.verdict == Verdict.VALID
    retries = [e for e in outcome.history.events if e.kind == "step_retry_scheduled"]
    assert retries and all(e.step == "charge_payment" for e in retries)


def test_a_partition_stops_progress_and_its_heal_restores_it(tmp_path: Path) -> None:
    plan = FaultPlan((Fault("partition", Trigger(at=0.0), "payment", 30.0),))
    patient = Workflow(
        "order",
        [
            Step("reserve_stock", saga.reserve_stock, saga.release_stock),
            Step(
                "charge_payment",
                saga.charge_payment,
                saga.refund_payment,
                after=("reserve_stock",),
                retry=RetryPolicy(max_attempts=20, initial_interval=1, max_interval=8),
            ),
        ],
    )
    outcome = run_in_process(
        Scenario("partition", patient, saga.DEMO_ORDERS[:1], plan, routes=ROUTES), tmp_path
    )
    assert outcome.verdict == Verdict.VALID
    assert [str(r.state) for r in outcome.runs] == ["completed"]
    (partition,) = outcome.faults
    charge_done = next(
        e
        for e in outcome.history.events
        if e.kind == "step_completed" and e.step == "charge_payment"
    )
    assert partition.healed_at is not None and charge_done.at >= partition.healed_at


def test_a_paused_worker_loses_its_lease_and_its_late_write_is_rejected(tmp_path: Path) -> None:
    def slow_reserve(ctx):  # type: ignore[no-untyped-def]
        ctx.clock.sleep(1.0)  # long enough for the pause to land mid-step
        return saga.reserve_stock(ctx)

    wf = Workflow("order", [Step("reserve_stock", slow_reserve, saga.release_stock)])
    # No target: the fault freezes whichever worker reached the hook point.
    plan = FaultPlan(
        (
            Fault(
                "process",
                Trigger(point="before_action", step="reserve_stock"),
                None,
                30.0,
                {"action": "sigstop"},
            ),
        )
    )
    outcome = run_in_process(
        Scenario("pause", wf, saga.DEMO_ORDERS[:1], plan, workers=2, lease_seconds=5), tmp_path
    )
    assert outcome.verdict == Verdict.VALID
    events = [(e.kind, e.worker_id) for e in outcome.history.events]
    (paused,) = {w for k, w in events if k == "step_claimed"} - {
        w for k, w in events if k == "step_completed"
    }
    (pause,) = outcome.faults
    assert pause.target == paused  # the worker that reached before_action was the one frozen
    # The other worker took over the expired lease and completed; the paused one woke after
    # 30 virtual seconds and was fenced off.
    (completed,) = [w for k, w in events if k == "step_completed"]
    assert completed != paused
    assert ("late_write_rejected", paused) in events
    assert pause.healed_at is not None and pause.healed_at - pause.at == 30.0


def test_every_fault_kind_runs_in_the_simulation(tmp_path: Path) -> None:
    plan = FaultPlan(
        (
            Fault.crash("after_action", "charge_payment"),
            Fault.step_fault("transient", "reserve_stock", attempts=1),
            Fault.toxic("payment", "latency", at=0.0, duration=5.0, latency=300),
            Fault("partition", Trigger(at=10.0), "payment", 5.0),
            Fault("process", Trigger(at=1.0), "worker-1", 3.0, {"action": "sigstop"}),
            Fault("clock", Trigger(at=0.0), "worker-0", 20.0, {"action": "skew", "seconds": 2}),
            Fault("store", Trigger(at=0.0), None, 2.0, {"action": "latency", "seconds": 0.001}),
        ),
        seed=4,
    )
    outcome = run_in_process(
        Scenario("all", saga.order_saga, saga.DEMO_ORDERS, plan, routes=ROUTES, seed=4), tmp_path
    )
    assert outcome.verdict == Verdict.VALID
    assert sorted({f.kind for f in outcome.faults}) == [
        "clock",
        "crash",
        "network",
        "partition",
        "process",
        "step",
        "store",
    ]

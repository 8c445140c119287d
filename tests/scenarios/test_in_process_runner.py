"""The thin slice end to end: the order saga under a crash, judged from the services' side."""

from __future__ import annotations

from pathlib import Path

import pytest

from examples import order_saga as saga
from faults import Fault, FaultPlan
from scenarios import (
    RecordingService,
    Scenario,
    ScenarioDefinitionError,
    Verdict,
    decode_replay_token,
    run_in_process,
)
from tests.scenarios._catalogue import saga_charging

CRASH_AFTER_CHARGE = FaultPlan((Fault.crash("after_action", "charge_payment", 1),), seed=3)


def test_the_order_saga_survives_a_crash_after_the_charge(tmp_path: Path) -> None:
    outcome = run_in_process(
        Scenario("saga", saga.order_saga, saga.DEMO_ORDERS, CRASH_AFTER_CHARGE, seed=3), tmp_path
    )
    assert outcome.verdict == Verdict.VALID
    assert [f.kind for f in outcome.faults] == ["crash"]
    states = sorted(str(r.state) for r in outcome.runs)
    assert states == ["completed", "completed", "completed", "rolled_back"]
    charges = [e for e in outcome.history.effects if e.service == "payment" and e.kind == "apply"]
    assert len(charges) == 4  # one per order, though one charge ran twice
    claims = [
        e for e in outcome.history.events if e.kind == "step_claimed" and e.step == "charge_payment"
    ]
    assert len(claims) == 5


def test_a_service_that_ignores_idempotency_keys_is_caught(tmp_path: Path) -> None:
    careless = saga_charging(RecordingService("payment", honour_keys=False))
    outcome = run_in_process(
        Scenario("careless", careless, saga.DEMO_ORDERS[:1], CRASH_AFTER_CHARGE), tmp_path
    )
    assert outcome.verdict == Verdict.INVALID
    (anomaly,) = outcome.judgement.anomalies
    assert anomaly.kind == "duplicate_effect"
    assert anomaly.steps == ("charge_payment",)
    assert decode_replay_token(anomaly.replay_token or "")["seed"] == 0


def test_without_the_crash_the_careless_service_goes_unnoticed(tmp_path: Path) -> None:
    careless = saga_charging(RecordingService("payment", honour_keys=False))
    outcome = run_in_process(Scenario("calm", careless, saga.DEMO_ORDERS[:1]), tmp_path)
    assert outcome.verdict == Verdict.VALID


def test_a_missing_refund_is_caught(tmp_path: Path) -> None:
    no_refund = saga_charging(RecordingService("payment"), refund=False)
    undeliverable = [o for o in saga.DEMO_ORDERS if o["address"] == "undeliverable"]
    outcome = run_in_process(Scenario("norefund", no_refund, undeliverable), tmp_path)
    assert outcome.verdict == Verdict.INVALID
    assert [(a.kind, a.steps) for a in outcome.judgement.anomalies] == [
        ("missing_compensation", ("charge_payment",))
    ]


def test_same_seed_same_history(tmp_path: Path) -> None:
    def history(folder: str) -> list[tuple[str, str | None, str, int, str | None]]:
        outcome = run_in_process(
            Scenario("det", saga.order_saga, saga.DEMO_ORDERS, CRASH_AFTER_CHARGE, seed=11),
            tmp_path / folder,
        )
        return [(e.run_id, e.step, e.kind, e.attempt, e.worker_id) for e in outcome.history.events]

    assert history("one") == history("two")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"invariants": ()}, "checks no invariant"),
        ({"invariants": ("no_bugs",)}, r"unknown invariant\(s\) \['no_bugs'\]"),
        ({"inputs": ()}, "submits no run"),
    ],
)
def test_bad_scenarios_fail_when_defined(kwargs: dict[str, object], message: str) -> None:
    base: dict[str, object] = {
        "name": "bad",
        "workflow": saga.order_saga,
        "inputs": saga.DEMO_ORDERS,
    }
    with pytest.raises(ScenarioDefinitionError, match=message):
        Scenario(**{**base, **kwargs})  # type: ignore[arg-type]

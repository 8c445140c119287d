"""Crash points, the fault plan format and the nemesis that carries a plan out."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pytest

from faults import (
    CRASH_POINTS,
    HOOK_POINTS,
    CrashAt,
    Fault,
    FaultPlan,
    FaultPlanError,
    Nemesis,
    SimulatedCrash,
    Trigger,
)
from orchestrator import HookPoint


@dataclass
class Event:
    point: str
    step: str | None
    run_id: str = "r1"
    attempt: int = 1
    at: float = 12.5


class Recording:
    """A stand-in injector that records what it was told."""

    def __init__(self) -> None:
        self.log: list[str] = []

    def inject(self, fault: Fault) -> str:
        self.log.append(f"inject {fault.describe()}")
        return "ok"

    def heal(self, fault: Fault) -> None:
        self.log.append(f"heal {fault.describe()}")


def test_crash_fires_on_the_nth_matching_event_only() -> None:
    crash = CrashAt("after_action", step="charge", nth=2)
    crash(Event("after_action", "reserve"))
    crash(Event("before_action", "charge"))
    crash(Event("after_action", "charge"))  # first match: no crash
    with pytest.raises(SimulatedCrash, match=r"r1/charge@after_action"):
        crash(Event("after_action", "charge"))
    crash(Event("after_action", "charge"))  # fired once, never again
    assert [f.target for f in crash.fired] == ["r1/charge@after_action"]
    assert crash.fired[0].at == 12.5


def test_simulated_crash_is_not_an_exception() -> None:
    # So `except Exception` in a step or a worker cannot swallow a death.
    assert not issubclass(SimulatedCrash, Exception)


def test_hook_points_are_the_orchestrators() -> None:
    assert set(HOOK_POINTS) == {str(p) for p in HookPoint}
    assert set(CRASH_POINTS) < set(HOOK_POINTS)


EVERY_KIND = FaultPlan(
    (
        Fault.crash("after_action", "charge", nth=2),
        Fault.step_fault("transient", "charge", attempts=2),
        Fault.toxic("payment", "latency", at=1.0, duration=2.0, latency=200, jitter=20),
        Fault("partition", Trigger(point="after_commit", step="reserve"), "db", 3.0),
        Fault("process", Trigger(at=2.0), "worker-1", 4.0, {"action": "sigstop"}),
        Fault("clock", Trigger(at=0.0), "worker-0", None, {"action": "skew", "seconds": 45}),
        Fault(
            "store",
            Trigger(at=0.5, probability=0.5),
            None,
            1.0,
            {"action": "ack_lost", "probability": 0.2},
        ),
    ),
    seed=7,
)


def test_a_plan_round_trips_through_yaml_and_json() -> None:
    text = EVERY_KIND.to_yaml()
    assert FaultPlan.from_yaml(text) == EVERY_KIND
    assert FaultPlan.from_dict(json.loads(json.dumps(EVERY_KIND.to_dict()))) == EVERY_KIND
    assert EVERY_KIND.faults[0].describe() == "crash (raise) at after_action #2 of charge"
    assert "toxic latency on payment at 1.0s for 2.0s" in EVERY_KIND.describe()


@pytest.mark.parametrize(
    ("fault", "message"),
    [
        ({"kind": "meteor"}, r"faults\[0\].kind='meteor' is not known; use one of 'crash', 'step'"),
        (
            {"kind": "crash", "trigger": {"point": "lunch"}},
            r"trigger.point='lunch': must be 'run_submitted', 'step_claimed'",
        ),
        ({"kind": "crash", "trigger": {"point": "run_finished"}}, r"is not a crash point"),
        (
            {"kind": "crash", "trigger": {"point": "after_action", "nth": 0}},
            r"trigger.nth=0: must be greater than or equal to 1",
        ),
        (
            {"kind": "crash", "trigger": {"point": "after_action"}, "params": {"mode": "gently"}},
            r"params.mode='gently': must be 'raise' or 'sigkill'",
        ),
        (
            {
                "kind": "network",
                "target": "db",
                "params": {"toxic": "latency", "attributes": {"delay": 5}},
            },
            r"network fault: Toxic 'latency' has no attribute 'delay'; it has latency, jitter",
        ),
        (
            {"kind": "network", "target": "db", "params": {"toxic": "lag"}},
            r"params.toxic='lag': must be 'latency', 'bandwidth'",
        ),
        (
            {"kind": "network", "target": "db", "params": {"toxic": "timeout", "stream": "up"}},
            r"params.stream='up': must be 'upstream' or 'downstream'",
        ),
        (
            {"kind": "network", "target": "db", "params": {"toxic": "timeout", "toxicity": 2}},
            r"params.toxicity=2: must be less than or equal to 1",
        ),
        ({"kind": "partition"}, r"partition fault needs a target \(a proxy name\)"),
        (
            {"kind": "partition", "target": "db", "duration": -1},
            r"duration=-1: must be greater than or equal to 0; or must be 'forever'",
        ),
        (
            {"kind": "process", "target": "w", "params": {"action": "nap"}},
            r"params.action='nap': must be 'sigkill', 'sigstop' or 'restart'",
        ),
        (
            {"kind": "clock", "target": "w", "params": {"action": "skew"}},
            r"faults\[0\].params.seconds is missing; add it",
        ),
        (
            {"kind": "store", "params": {"action": "melt"}},
            r"params.action='melt': must be 'connection_loss'",
        ),
        (
            {"kind": "step", "params": {"fault": "transient", "colour": 1}},
            r"params.colour=1 is not a field here.*allowed: attempts, fault",
        ),
        (
            {"kind": "partition", "target": "db", "trigger": {"at": 1, "point": "after_action"}},
            r"trigger needs exactly one of at=<seconds> or point=<hook point>",
        ),
        (
            {"kind": "partition", "target": "db", "trigger": {"at": 1, "probability": 1.5}},
            r"trigger.probability=1.5: must be less than or equal to 1",
        ),
        (
            {"kind": "partition", "target": "db", "when": 3},
            r"faults\[0\].when=3 is not a field here.*allowed: duration, kind",
        ),
    ],
)
def test_invalid_plans_name_the_field_and_value(fault: dict[str, Any], message: str) -> None:
    with pytest.raises(FaultPlanError, match=message):
        FaultPlan.from_dict({"faults": [fault]})


def test_unknown_step_is_rejected_when_steps_are_given() -> None:
    data = {"faults": [{"kind": "crash", "trigger": {"point": "after_action", "step": "chrage"}}]}
    with pytest.raises(FaultPlanError, match=r"step='chrage' is not a step of the workflow; its"):
        FaultPlan.from_dict(data, steps=["a", "b"])


def test_bad_yaml_and_top_level_mistakes() -> None:
    with pytest.raises(FaultPlanError, match="not valid YAML"):
        FaultPlan.from_yaml("faults: [")
    with pytest.raises(
        FaultPlanError, match=r"fautls=\[\] is not a field here.*allowed: faults, seed"
    ):
        FaultPlan.from_dict({"fautls": []})
    with pytest.raises(FaultPlanError, match=r"seed='x': must be a valid integer"):
        FaultPlan.from_dict({"seed": "x"})


def test_nemesis_refuses_a_plan_it_has_no_injector_for() -> None:
    with pytest.raises(FaultPlanError, match=r"\['network'\] faults but no injector"):
        Nemesis(FaultPlan((Fault.toxic("db", "latency", latency=5),)), {}, origin=0.0)


def test_nemesis_strikes_and_heals_on_time_and_on_events() -> None:
    recording = Recording()
    plan = FaultPlan(
        (
            Fault("partition", Trigger(at=1.0), "db", 2.0),
            Fault("partition", Trigger(point="after_commit", step="b", nth=2), "api", None),
        )
    )
    nemesis = Nemesis(plan, {"partition": recording}, origin=100.0)
    nemesis.tick(100.5)
    assert recording.log == []
    nemesis.tick(101.0)
    nemesis(Event("after_commit", "b", at=101.5))
    nemesis(Event("after_commit", "a", at=101.6))
    nemesis(Event("after_commit", "b", at=101.7))
    nemesis.tick(103.0)
    assert recording.log == [
        "inject partition on db at 1.0s for 2.0s",
        "inject partition on api at after_commit #2 of b",
        "heal partition on db at 1.0s for 2.0s",
    ]
    nemesis.heal_all(104.0)
    assert [(f.at, f.healed_at) for f in nemesis.timeline] == [(101.0, 103.0), (101.7, 104.0)]


def test_the_same_seed_strikes_the_same_faults() -> None:
    def struck(seed: int) -> list[float]:
        plan = FaultPlan(
            tuple(
                Fault("partition", Trigger(at=float(i), probability=0.5), "db", 0.5)
                for i in range(40)
            ),
            seed=seed,
        )
        nemesis = Nemesis(plan, {"partition": Recording()}, origin=0.0)
        for now in range(41):
            nemesis.tick(float(now))
        return [f.at for f in nemesis.timeline]

    assert struck(1) == struck(1)
    assert struck(1) != struck(2)
    assert 5 < len(struck(1)) < 35


def test_a_crash_in_the_plan_unwinds_the_worker() -> None:
    nemesis = Nemesis(FaultPlan((Fault.crash("after_action", "charge"),)), {}, origin=0.0)
    nemesis(Event("after_action", "reserve"))
    with pytest.raises(SimulatedCrash):
        nemesis(Event("after_action", "charge"))
    assert [f.kind for f in nemesis.timeline] == ["crash"]

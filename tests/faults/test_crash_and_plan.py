"""Crash points and the fault plan format."""

from __future__ import annotations

import json
from dataclasses import dataclass

import pytest

from faults import CRASH_POINTS, CrashAt, Fault, FaultPlan, FaultPlanError, SimulatedCrash
from orchestrator import HookPoint


@dataclass
class Event:
    point: str
    step: str | None
    run_id: str = "r1"
    attempt: int = 1
    at: float = 12.5


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


def test_crash_points_are_orchestrator_hook_points() -> None:
    assert set(CRASH_POINTS) <= {str(p) for p in HookPoint}


def test_plan_round_trips_through_json() -> None:
    plan = FaultPlan(
        (Fault("crash", "after_action", "charge", 2), Fault("crash", "after_commit")), seed=7
    )
    again = FaultPlan.from_dict(json.loads(json.dumps(plan.to_dict())))
    assert again == plan
    assert again.faults[0].describe() == "crash at after_action of charge (occurrence 2, raise)"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (
            {"faults": [{"kind": "meteor", "point": "after_action"}]},
            r"faults\[0\]\.kind='meteor' is not a known fault kind",
        ),
        (
            {"faults": [{"kind": "crash", "point": "lunch"}]},
            r"faults\[0\]\.point='lunch' is not a crash point",
        ),
        (
            {"faults": [{"kind": "crash", "point": "after_action", "nth": 0}]},
            r"faults\[0\]\.nth=0 must be an integer >= 1",
        ),
        (
            {"faults": [{"kind": "crash", "point": "after_action", "mode": "gently"}]},
            r"faults\[0\]\.mode='gently'",
        ),
        (
            {"faults": [{"kind": "crash", "point": "after_action", "colour": 1}]},
            r"unknown field\(s\) \['colour'\]",
        ),
        ({"fautls": []}, r"unknown key\(s\) \['fautls'\]"),
        ({"seed": "x"}, r"seed='x' must be an integer"),
    ],
)
def test_invalid_plans_name_the_field_and_value(data: dict[str, object], message: str) -> None:
    with pytest.raises(FaultPlanError, match=message):
        FaultPlan.from_dict(data)


def test_unknown_step_is_rejected_when_steps_are_given() -> None:
    data = {"faults": [{"kind": "crash", "point": "after_action", "step": "chrage"}]}
    with pytest.raises(
        FaultPlanError, match=r"step='chrage' is not a step of the workflow; its steps are a, b"
    ):
        FaultPlan.from_dict(data, steps=["a", "b"])

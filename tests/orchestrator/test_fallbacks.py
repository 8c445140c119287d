"""Fallback routes: declared on the step, checked when defined, taken by every worker the same way.

The real fault (a partitioned carrier behind Toxiproxy) is in
``tests/integration/test_fallback_routes.py``; here the route itself, on both stores.
"""

from __future__ import annotations

from typing import Any

import pytest

from orchestrator import (
    BusinessError,
    DefinitionError,
    Fallback,
    RetryPolicy,
    RunState,
    Step,
    StepContext,
    StepState,
    Workflow,
    rebuild_from_events,
)
from tests.orchestrator.conftest import OrchestratorFactory

ONCE = RetryPolicy(max_attempts=1)


class CarrierDown(BusinessError):
    """The first carrier refuses the parcel: definite, nothing was booked."""


def noop(ctx: StepContext) -> str:
    return ctx.step


# -- the declaration -------------------------------------------------------------------------


def test_a_fallback_is_plain_data_and_loads_back() -> None:
    fallback = Fallback("ship_b", on=("definite", "timeout"))
    assert fallback.to_dict() == {"step": "ship_b", "on": ["definite", "timeout"]}
    assert Fallback.from_dict(fallback.to_dict()) == fallback
    assert Fallback("ship_b", on="timeout").on == ("timeout",)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"step": ""}, "must name a step"),
        ({"step": "b", "on": ("sometimes",)}, "on=.*sometimes.*definite, indeterminate, timeout"),
        ({"step": "b", "on": ()}, "must name one or more"),
    ],
)
def test_a_bad_fallback_is_refused_when_defined(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(DefinitionError, match=message):
        Fallback(**kwargs)


def _workflow(*steps: Step) -> Workflow:
    return Workflow("ship", list(steps))


@pytest.mark.parametrize(
    ("steps", "message"),
    [
        ([Step("a", noop, fallback=Fallback("a"))], "names itself"),
        ([Step("a", noop, fallback=Fallback("z"))], "falls back to 'z', which is not defined"),
        (
            [
                Step("r", noop),
                Step("a", noop, after=("r",), fallback=Fallback("b")),
                Step("b", noop),
            ],
            r"fallback 'b' has after=\[\], but its primary 'a' has after=\['r'\]",
        ),
        (
            [
                Step("a", noop, fallback=Fallback("c")),
                Step("b", noop, fallback=Fallback("c")),
                Step("c", noop),
            ],
            "'c' is the fallback of both 'a' and 'b'",
        ),
        (
            [
                Step("a", noop, fallback=Fallback("b")),
                Step("b", noop),
                Step("d", noop, after=("b",)),
            ],
            "step 'd' depends on fallback 'b'. Depend on its primary 'a'",
        ),
        (
            [
                Step("a", noop, fallback=Fallback("b")),
                Step("b", noop, fallback=Fallback("c")),
                Step("c", noop),
            ],
            "fallback 'b' has a fallback of its own",
        ),
    ],
)
def test_a_fallback_that_makes_no_sense_is_refused_when_defined(
    steps: list[Step], message: str
) -> None:
    with pytest.raises(DefinitionError, match=message):
        _workflow(*steps)


def test_a_step_refuses_a_fallback_that_is_not_a_fallback() -> None:
    with pytest.raises(DefinitionError, match="fallback='b' is not a Fallback"):
        Step("a", noop, fallback="b")  # type: ignore[arg-type]


def test_the_fallback_is_part_of_the_definition_shape() -> None:
    plain = _workflow(Step("a", noop), Step("b", noop))
    routed = _workflow(Step("a", noop, fallback=Fallback("b")), Step("b", noop))
    assert plain.fingerprint() != routed.fingerprint()
    assert routed.standby == {"b": "a"}


# -- the route, on both stores ---------------------------------------------------------------


class Carriers:
    """Two carriers: the first may refuse, time out or break; the log of calls and undos."""

    def __init__(self, first: str = "refuse") -> None:
        self.first = first
        self.booked: list[str] = []
        self.undone: list[str] = []

    def carrier_a(self, ctx: StepContext) -> str:
        if self.first == "refuse":
            raise CarrierDown("carrier A refuses: depot closed")
        if self.first == "break":
            self.booked.append("a")  # the booking landed, the answer is lost
            raise ConnectionError("carrier A: connection reset")
        self.booked.append("a")
        return "a"

    def carrier_b(self, ctx: StepContext) -> str:
        self.booked.append("b")
        return "b"

    def undo(self, ctx: StepContext) -> None:
        self.undone.append(ctx.step)


def shipping(carriers: Carriers, *, on: tuple[str, ...], pay: Any = noop) -> Workflow:
    return Workflow(
        "shipping",
        [
            Step("pack", noop),
            Step(
                "ship_a",
                carriers.carrier_a,
                carriers.undo,
                after=("pack",),
                retry=ONCE,
                fallback=Fallback("ship_b", on=on),
            ),
            Step("ship_b", carriers.carrier_b, carriers.undo, after=("pack",), retry=ONCE),
            Step("invoice", pay, carriers.undo, after=("ship_a",), retry=ONCE),
        ],
    )


def _states(orch: Any, run_id: str) -> dict[str, StepState]:
    return dict(orch.status(run_id).steps)


def test_a_refused_primary_takes_its_fallback_and_the_run_completes(
    make_orchestrator: OrchestratorFactory,
) -> None:
    carriers = Carriers("refuse")
    wf = shipping(carriers, on=("definite",))
    orch = make_orchestrator()
    run_id = orch.submit(wf, {})
    orch.run_until_quiet(max_seconds=60)
    assert orch.status(run_id).state == RunState.COMPLETED
    assert _states(orch, run_id) == {
        "pack": StepState.COMPLETED,
        "ship_a": StepState.REPLACED,
        "ship_b": StepState.COMPLETED,
        "invoice": StepState.COMPLETED,
    }
    assert carriers.booked == ["b"] and carriers.undone == []
    events = orch.events(run_id)
    kinds = [(e.kind, e.step) for e in events]
    # Cause first: the failure, then the replacement, then the fallback made ready and run.
    replaced = kinds.index(("step_replaced", "ship_a"))
    assert kinds.index(("step_failed", "ship_a")) < replaced
    assert replaced < kinds.index(("fallback_taken", "ship_b"))
    assert kinds.index(("fallback_taken", "ship_b")) < kinds.index(("step_claimed", "ship_b"))
    assert kinds.index(("step_completed", "ship_b")) < kinds.index(("step_claimed", "invoice"))
    detail = next(e.detail for e in events if e.kind == "step_replaced")
    assert detail == {"fallback": "ship_b", "cause": "definite"}
    # The run did not fail: no failure summary, and the log replays to the same states.
    assert orch.status(run_id).failure is None
    # Status shows the declared route as data.
    assert orch.status(run_id).to_dict()["patterns"] == {
        "ship_a": {"fallback": {"step": "ship_b", "on": ["definite"]}}
    }
    assert rebuild_from_events(wf, events) == (RunState.COMPLETED, _states(orch, run_id))


def test_a_primary_that_succeeds_leaves_its_fallback_unused(
    make_orchestrator: OrchestratorFactory,
) -> None:
    carriers = Carriers("work")
    orch = make_orchestrator()
    run_id = orch.submit(shipping(carriers, on=("definite",)), {})
    orch.run_until_quiet(max_seconds=60)
    assert orch.status(run_id).state == RunState.COMPLETED
    assert _states(orch, run_id)["ship_b"] == StepState.SKIPPED
    assert carriers.booked == ["a"]


def test_a_cause_not_declared_rolls_the_run_back_as_before(
    make_orchestrator: OrchestratorFactory,
) -> None:
    carriers = Carriers("break")  # indeterminate; the fallback covers refusals only
    orch = make_orchestrator()
    run_id = orch.submit(shipping(carriers, on=("definite",)), {})
    orch.run_until_quiet(max_seconds=60)
    status = orch.status(run_id)
    assert status.state == RunState.ROLLED_BACK
    assert status.steps["ship_b"] == StepState.SKIPPED and carriers.booked == ["a"]
    assert "ship_a" in carriers.undone  # its outcome was unknown: undone


def test_compensation_follows_what_ran_after_a_fallback(
    make_orchestrator: OrchestratorFactory,
) -> None:
    """The invoice fails after the fallback shipped: the fallback is undone, and so is the
    primary whose outcome was unknown (its booking landed); a refused primary is not."""

    def refuse_invoice(ctx: StepContext) -> None:
        raise BusinessError("invoice refused")

    for first, undone in (("break", ["ship_b", "ship_a"]), ("refuse", ["ship_b"])):
        carriers = Carriers(first)
        wf = shipping(carriers, on=("definite", "indeterminate"), pay=refuse_invoice)
        orch = make_orchestrator()
        run_id = orch.submit(wf, {}, run_id=f"run-{first}")
        orch.run_until_quiet(max_seconds=60)
        status = orch.status(run_id)
        assert status.state == RunState.ROLLED_BACK, first
        # The fallback is undone before the primary (it came after it in the graph).
        assert carriers.undone == undone, first
        assert status.failure is not None and status.failure.step == "invoice"
        expected = StepState.COMPENSATED if first == "break" else StepState.REPLACED
        assert status.steps["ship_a"] == expected
        assert rebuild_from_events(wf, orch.events(run_id))[1] == dict(status.steps)


def test_a_timed_out_primary_takes_the_fallback_when_timeouts_are_declared(
    make_orchestrator: OrchestratorFactory,
) -> None:
    orch = make_orchestrator()
    carriers = Carriers("work")

    def slow(ctx: StepContext) -> str:
        ctx.clock.sleep(30)  # the virtual clock: the worker's timeout passes first
        return "late"

    wf = Workflow(
        "timed",
        [
            Step("ship_a", slow, timeout=5, retry=ONCE, fallback=Fallback("ship_b", on="timeout")),
            Step("ship_b", carriers.carrier_b),
        ],
    )
    run_id = orch.submit(wf, {})
    orch.run_until_quiet(max_seconds=600)
    status = orch.status(run_id)
    assert status.state == RunState.COMPLETED
    assert status.steps["ship_a"] == StepState.REPLACED_INDETERMINATE
    detail = next(e.detail for e in orch.events(run_id) if e.kind == "fallback_taken")
    assert detail == {"primary": "ship_a", "cause": "timeout"}


def test_a_failed_subworkflow_takes_its_fallback(make_orchestrator: OrchestratorFactory) -> None:
    def refuse(ctx: StepContext) -> None:
        raise CarrierDown("carrier A refuses")

    carriers = Carriers("work")
    child = Workflow("carrier_a_booking", [Step("book", refuse, retry=ONCE)])
    wf = Workflow(
        "parent",
        [
            Step("ship_a", subworkflow=child, fallback=Fallback("ship_b")),
            Step("ship_b", carriers.carrier_b),
        ],
    )
    orch = make_orchestrator()
    run_id = orch.submit(wf, {})
    orch.run_until_quiet(max_seconds=60)
    status = orch.status(run_id)
    assert status.state == RunState.COMPLETED
    assert status.steps["ship_a"] == StepState.REPLACED  # the child rolled back: definite
    assert carriers.booked == ["b"]

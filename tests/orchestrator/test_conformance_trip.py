"""A peer's saga conformance scenarios, written from issue 12, on SQLite and PostgreSQL.

The trip of ``_trip.py`` (reserve flight, reserve hotel, charge card, send confirmation), each
step and compensation writing to a side store. What the suite expects:

- a step the service *refused* (a definite failure) applied nothing, so it is not compensated;
  everything before it is, in reverse order, and the run ends ``rolled_back``;
- a step whose outcome is unknown (a timeout, a worker that died, an undeclared error) may have
  applied its effect, so it *is* compensated, and its compensation tolerates nothing to undo;
- the reason is readable from the status alone: each step's last error (qualified type,
  message, code, attempt, definite or not), and the run's failure summary (which step, why,
  which compensations failed and why), also in the event log's run events.
"""

from __future__ import annotations

from typing import Any

import pytest

from orchestrator import (
    HookEvent,
    HookPoint,
    ManualClock,
    Orchestrator,
    RunState,
    RunStatus,
    StepState,
)
from tests.orchestrator._trip import STEPS, SideStore, trip_workflow
from tests.orchestrator.conftest import OrchestratorFactory

TRIP = "tests.orchestrator._trip"


def book(
    make: OrchestratorFactory, plan: dict[str, Any] | None = None
) -> tuple[Orchestrator, SideStore, RunStatus]:
    side = SideStore()
    orch = make()
    run_id = orch.submit(trip_workflow(side), {"traveller": "ada", **(plan or {})})
    orch.run_until_quiet(max_seconds=600)
    return orch, side, orch.status(run_id)


def test_a_trip_that_goes_well_completes_with_nothing_undone(
    make_orchestrator: OrchestratorFactory,
) -> None:
    _, side, status = book(make_orchestrator)
    assert status.state == RunState.COMPLETED
    assert side.standing(status.run_id) == set(STEPS)
    assert side.undos() == []
    assert status.failure is None and status.errors == {}


def test_a_refused_first_step_compensates_nothing(make_orchestrator: OrchestratorFactory) -> None:
    _, side, status = book(make_orchestrator, {"refuse": "reserve_flight"})
    assert status.state == RunState.ROLLED_BACK
    assert side.undos() == []  # cancel_flight must not run: nothing was reserved
    assert side.calls == [("do", "reserve_flight")]  # a business error is not retried
    assert status.steps["reserve_flight"] == StepState.FAILED
    assert {status.steps[s] for s in STEPS[1:]} == {StepState.SKIPPED}
    error = status.errors["reserve_flight"]
    assert error.type == f"{TRIP}.FlightUnavailable"
    assert (error.code, error.attempt, error.definite) == ("no_seats", 1, True)
    assert "no seat left on LH 400" in error.message
    assert status.failure is not None
    assert status.failure.step == "reserve_flight"
    assert status.failure.error == error
    assert "failed definitely" in status.failure.reason
    assert status.failure.compensation_failures == {}


def test_a_refused_hotel_undoes_the_flight_only(make_orchestrator: OrchestratorFactory) -> None:
    _, side, status = book(make_orchestrator, {"refuse": "reserve_hotel"})
    assert status.state == RunState.ROLLED_BACK
    assert side.undos() == ["reserve_flight"]
    assert side.standing(status.run_id) == set()
    assert status.steps == {
        "reserve_flight": StepState.COMPENSATED,
        "reserve_hotel": StepState.FAILED,
        "charge_card": StepState.SKIPPED,
        "send_confirmation": StepState.SKIPPED,
    }
    # Declared by name, retried by its policy, definite on every attempt.
    error = status.errors["reserve_hotel"]
    assert (error.type, error.code, error.attempt, error.definite) == (
        f"{TRIP}.HotelFull",
        "hotel_full",
        3,
        True,
    )


def test_a_declined_card_is_not_refunded_and_the_rest_is_undone_in_reverse(
    make_orchestrator: OrchestratorFactory,
) -> None:
    orch, side, status = book(make_orchestrator, {"refuse": "charge_card"})
    assert status.state == RunState.ROLLED_BACK
    assert side.undos() == ["reserve_hotel", "reserve_flight"]  # refund_card never runs
    assert side.standing(status.run_id) == set()
    assert status.steps["charge_card"] == StepState.FAILED
    error = status.errors["charge_card"]
    assert (error.type, error.code, error.definite) == (
        f"{TRIP}.CardDeclined",
        "card_declined",
        True,
    )
    assert error.attempt == 3 and error.purpose == "action"
    kinds = [e.kind for e in orch.events(status.run_id) if e.step == "charge_card"]
    assert "compensation_scheduled" not in kinds and "compensation_claimed" not in kinds
    (failed,) = [e for e in orch.events(status.run_id) if e.kind == "step_failed"]
    assert failed.detail["definite"] is True and failed.detail["code"] == "card_declined"
    assert failed.detail["type"] == f"{TRIP}.CardDeclined"


def test_a_charge_that_timed_out_after_landing_is_refunded(
    make_orchestrator: OrchestratorFactory,
) -> None:
    _, side, status = book(make_orchestrator, {"timeout_after_apply": "charge_card"})
    assert status.state == RunState.ROLLED_BACK
    assert side.undos() == ["charge_card", "reserve_hotel", "reserve_flight"]
    assert side.standing(status.run_id) == set()  # the charge that landed was refunded
    assert status.steps["charge_card"] == StepState.COMPENSATED
    error = status.errors["charge_card"]
    assert (error.type, error.code, error.definite) == (
        "orchestrator.StepTimeout",
        "step_timeout",
        False,
    )
    assert status.failure is not None and "failed indeterminately" in status.failure.reason


def test_a_charge_that_timed_out_before_landing_is_refunded_finding_nothing(
    make_orchestrator: OrchestratorFactory,
) -> None:
    _, side, status = book(make_orchestrator, {"timeout_before_apply": "charge_card"})
    assert status.state == RunState.ROLLED_BACK
    # The orchestrator cannot know the charge never landed: it refunds, and the refund,
    # finding nothing, succeeds.
    assert side.undos() == ["charge_card", "reserve_hotel", "reserve_flight"]
    assert f"{status.run_id}:charge_card" not in side.applied
    assert status.compensation_errors == {}


class WorkerDied(BaseException):
    """A worker's death between claiming the charge and calling the bank."""


def test_a_worker_dying_mid_charge_makes_a_later_decline_indeterminate(
    make_orchestrator: OrchestratorFactory,
) -> None:
    side = SideStore()
    clock = ManualClock(1000.0)
    orch = make_orchestrator(clock=clock)
    died: list[HookEvent] = []

    def die_once(event: HookEvent) -> None:
        if event.point == HookPoint.BEFORE_ACTION and event.step == "charge_card" and not died:
            died.append(event)
            raise WorkerDied()

    orch.hooks.add_listener(die_once)
    run_id = orch.submit(trip_workflow(side), {"refuse": "charge_card"})
    with pytest.raises(WorkerDied):
        orch.run_until_quiet(max_seconds=600, lease_seconds=30)
    clock.advance(31)  # the dead worker's lease expires; another takes the charge over
    orch.run_until_quiet(max_seconds=600, lease_seconds=30)
    status = orch.status(run_id)
    assert status.state == RunState.ROLLED_BACK
    # Every answer was a decline, but the first attempt's outcome is unknown: refund anyway.
    assert side.undos() == ["charge_card", "reserve_hotel", "reserve_flight"]
    error = status.errors["charge_card"]
    assert error.type == f"{TRIP}.CardDeclined" and error.definite is False


def test_an_undeclared_confirmation_error_undoes_everything_before_it(
    make_orchestrator: OrchestratorFactory,
) -> None:
    _, side, status = book(make_orchestrator, {"smtp_down": True})
    assert status.state == RunState.ROLLED_BACK
    assert side.undos() == ["charge_card", "reserve_hotel", "reserve_flight"]
    error = status.errors["send_confirmation"]
    assert (error.type, error.code, error.definite) == (f"{TRIP}.SmtpDown", None, False)
    assert "smtp.example:25" in error.message


def test_a_failed_compensation_is_named_with_its_error_in_status_and_log(
    make_orchestrator: OrchestratorFactory,
) -> None:
    plan = {"refuse": "charge_card", "undo_fails": "reserve_hotel"}
    orch, side, status = book(make_orchestrator, plan)
    assert status.state == RunState.COMPENSATION_FAILED
    assert side.undos().count("reserve_hotel") == 3  # retried under compensation_retry
    assert side.undos()[-1] == "reserve_flight"  # the others still ran, after it
    assert status.steps["reserve_hotel"] == StepState.COMPENSATION_FAILED
    undo_error = status.compensation_errors["reserve_hotel"]
    assert (undo_error.type, undo_error.code, undo_error.attempt, undo_error.purpose) == (
        f"{TRIP}.UndoRefused",
        "undo_refused",
        3,
        "compensation",
    )
    failure = status.failure
    assert failure is not None
    assert failure.step == "charge_card" and failure.error is not None
    assert failure.error.code == "card_declined"
    assert failure.compensation_failures == {"reserve_hotel": undo_error}
    assert "compensation failed for good for 'reserve_hotel'" in failure.reason
    # The event export says the same without the store's tables.
    (end,) = [e for e in orch.events(status.run_id) if e.kind == "run_compensation_failed"]
    assert end.detail["failure"]["step"] == "charge_card"
    assert end.detail["failure"]["error"]["code"] == "card_declined"
    assert end.detail["failure"]["compensation_failures"]["reserve_hotel"]["code"] == "undo_refused"
    assert status.to_dict()["failure"] == end.detail["failure"]


def test_a_rolled_back_run_logs_why_when_it_ends(make_orchestrator: OrchestratorFactory) -> None:
    orch, _, status = book(make_orchestrator, {"refuse": "reserve_hotel"})
    events = orch.events(status.run_id)
    kinds = [e.kind for e in events]
    assert kinds[-1] == "run_rolled_back" and "run_compensated" not in kinds
    began = next(e for e in events if e.kind == "run_compensating")
    assert began.detail["failure"]["step"] == "reserve_hotel"
    assert events[-1].detail == {"failure": status.failure.to_dict()}  # type: ignore[union-attr]


def test_a_cancelled_trip_says_who_cancelled(make_orchestrator: OrchestratorFactory) -> None:
    side = SideStore()
    orch = make_orchestrator()
    run_id = orch.submit(trip_workflow(side), {})
    worker = orch.worker()
    assert worker.tick() and worker.tick()  # flight and hotel reserved
    orch.cancel(run_id, reason="traveller changed plans")
    orch.run_until_quiet(max_seconds=600)
    status = orch.status(run_id)
    assert status.state == RunState.CANCELLED
    assert side.undos() == ["reserve_hotel", "reserve_flight"]
    assert status.failure is not None and status.failure.step is None
    assert status.failure.reason == "cancelled: traveller changed plans"

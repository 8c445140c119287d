"""The failure model as pure functions: what is definite, how errors are named, the plan."""

from __future__ import annotations

import pytest

from orchestrator import (
    BusinessError,
    ContractViolation,
    DefinitionError,
    Orchestrator,
    OrchestratorError,
    RunState,
    SerializationError,
    Step,
    StepError,
    StepState,
    StepTimeout,
    Workflow,
)
from orchestrator._engine import after_step_failed
from orchestrator._failures import (
    decode_error,
    encode_error,
    error_code,
    failure_is_definite,
    qualified_name,
    refused,
    step_error,
)
from tests.orchestrator._trip import CardDeclined, HotelFull, SideStore, trip_workflow


def noop(ctx: object) -> None:
    return None


class Declined(Exception):
    code = "declined"


def test_what_the_service_refused_is_definite_and_everything_else_is_not() -> None:
    declared = (Declined,)
    assert refused(BusinessError("no", code="x"), ())
    assert refused(Declined("no"), declared)
    assert not refused(Declined("no"), ())  # undeclared: the outcome is unknown
    assert not refused(TimeoutError("slow"), declared)
    assert not refused(StepTimeout("slow"), declared)
    assert not refused(ConnectionResetError("gone"), declared)
    assert refused(ContractViolation("pre", "precondition"), ())  # the action never ran
    assert not refused(ContractViolation("post", "postcondition"), ())  # it ran


def test_an_earlier_unknown_outcome_or_a_takeover_keeps_a_refusal_indeterminate() -> None:
    refusal = BusinessError("declined")
    earlier_refusal = StepError("x.Declined", "no", "declined", 1, True)
    earlier_timeout = StepError("orchestrator.StepTimeout", "slow", "step_timeout", 1, False)
    assert failure_is_definite(refusal, (), previous=None, reclaimed=False)
    assert failure_is_definite(refusal, (), previous=earlier_refusal, reclaimed=False)
    assert not failure_is_definite(refusal, (), previous=earlier_timeout, reclaimed=False)
    assert not failure_is_definite(refusal, (), previous=None, reclaimed=True)


def test_errors_are_named_by_qualified_type_with_their_code() -> None:
    assert qualified_name(KeyError) == "KeyError"  # builtins bare, as tracebacks show them
    assert qualified_name(StepTimeout) == "orchestrator.StepTimeout"  # the public name
    assert qualified_name(CardDeclined) == "tests.orchestrator._trip.CardDeclined"
    assert error_code(CardDeclined("x")) == "card_declined"
    assert error_code(StepTimeout("x")) == "step_timeout"
    assert error_code(KeyError("x")) is None
    assert error_code(BusinessError("x", code=402)) == "402"  # an int code, as text
    assert error_code(BusinessError("x", code="  ")) is None
    flagged = Exception("x")
    flagged.code = True  # type: ignore[attr-defined]  # a flag is not a code
    assert error_code(flagged) is None
    record = step_error(CardDeclined("card declined"), attempt=2, definite=True)
    assert record == StepError(
        "tests.orchestrator._trip.CardDeclined", "card declined", "card_declined", 2, True
    )
    assert decode_error(encode_error(record)) == record
    assert record.describe().endswith("[card_declined]: card declined (attempt 2, definite)")


def test_a_long_message_is_kept_bounded() -> None:
    record = step_error(RuntimeError("x" * 10_000), attempt=1, definite=False)
    assert len(record.message) == 2000 and record.message.endswith("(truncated)")


def test_a_version_1_error_text_reads_back_as_indeterminate() -> None:
    assert decode_error("ShippingRefused: carrier refuses") == StepError(
        "ShippingRefused", "carrier refuses", None, 0, False
    )
    assert decode_error("it broke") == StepError("unknown", "it broke", None, 0, False)
    assert decode_error(None) is None and decode_error("") is None


def test_definite_errors_are_checked_when_the_step_is_defined() -> None:
    step = Step("charge", noop, definite_errors=("tests.orchestrator._trip.HotelFull",))
    assert step.definite_errors == (HotelFull,)
    assert step.definite_error_names == ("tests.orchestrator._trip.HotelFull",)
    assert Step("charge", noop, definite_errors=Declined).definite_errors == (Declined,)
    with pytest.raises(DefinitionError, match=r"covers orchestrator\.StepTimeout"):
        Step("charge", noop, definite_errors=(Exception,))
    with pytest.raises(DefinitionError, match=r"covers orchestrator\.StepTimeout"):
        Step("charge", noop, definite_errors=(OrchestratorError,))
    with pytest.raises(DefinitionError, match=r"covers orchestrator\.SerializationError"):
        Step("charge", noop, definite_errors=(SerializationError,))
    with pytest.raises(DefinitionError, match=r"'no\.such\.Error', which cannot be imported"):
        Step("charge", noop, definite_errors=("no.such.Error",))
    with pytest.raises(DefinitionError, match=r"'builtins\.len', which is not an exception"):
        Step("charge", noop, definite_errors=("builtins.len",))
    with pytest.raises(DefinitionError, match="not an Exception subclass"):
        Step("charge", noop, definite_errors=(KeyboardInterrupt,))
    child = Workflow("child", [Step("a", noop)])
    with pytest.raises(DefinitionError, match="runs a sub-workflow"):
        Step("sub", subworkflow=child, definite_errors=(Declined,))


def test_the_declaration_is_part_of_the_definition() -> None:
    # Two definitions that differ only in what is definite are different definitions.
    plain = Workflow("w", [Step("a", noop, noop)])
    declared = Workflow("w", [Step("a", noop, noop, definite_errors=(Declined,))])
    assert plain.fingerprint() != declared.fingerprint()


def test_the_engine_compensates_an_indeterminate_failure_and_not_a_definite_one() -> None:
    workflow = trip_workflow(SideStore())
    states = {
        "reserve_flight": StepState.COMPLETED,
        "reserve_hotel": StepState.COMPLETED,
        "charge_card": StepState.FAILED,
        "send_confirmation": StepState.PENDING,
    }
    unknown = after_step_failed(workflow, RunState.RUNNING, states, "charge_card")
    refused_plan = after_step_failed(
        workflow, RunState.RUNNING, states, "charge_card", definite=True
    )

    def scheduled(plan: object) -> set[str]:
        return {s for s, event, _ in plan.step_moves if event == "schedule_compensation"}  # type: ignore[attr-defined]

    assert scheduled(unknown) == {"reserve_flight", "reserve_hotel", "charge_card"}
    assert scheduled(refused_plan) == {"reserve_flight", "reserve_hotel"}
    # Reverse order: only the last completed step's undo is ready at once.
    ready = [s for s, event, _ in refused_plan.step_moves if event == "dependents_compensated"]
    assert ready == ["reserve_hotel"]


def test_a_definite_failure_with_nothing_before_it_ends_the_rollback_at_once() -> None:
    workflow = trip_workflow(SideStore())
    states = {name: StepState.PENDING for name in workflow.order}
    states["reserve_flight"] = StepState.FAILED
    plan = after_step_failed(workflow, RunState.RUNNING, states, "reserve_flight", definite=True)
    assert plan.run_events == ["step_failed", "all_compensated"]


def test_names_and_ids_are_bounded_to_what_the_store_holds() -> None:
    with pytest.raises(DefinitionError, match="must be 1 to 128 characters"):
        Workflow("w" * 129, [Step("a", noop)])
    with pytest.raises(DefinitionError, match="is 129 characters; the store holds 128"):
        Step("s" * 129, noop)
    orch = Orchestrator("sqlite://")
    orch.register(Workflow("w", [Step("a", noop)]))
    with pytest.raises(ValueError, match=r"run_id='rrr.*\.\.\. must be a string of at most 128"):
        orch.submit("w", {}, run_id="r" * 129)
    with pytest.raises(ValueError, match="correlation_id='a"):
        orch.submit("w", {}, correlation_id="a\x00b")
    assert orch.submit("w", {}, run_id="r" * 128) == "r" * 128

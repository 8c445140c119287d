"""What a worker checks around a step's action: its contracts, and that its output is JSON."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from ._errors import ContractViolation, SerializationError

if TYPE_CHECKING:
    from ._claims import Claim
    from ._definition import Step, StepContext


def encode_output(claim: Claim, output: Any) -> str:
    try:
        # Strict JSON: NaN and Infinity are not JSON, and no client could read them back.
        return json.dumps(output, allow_nan=False)
    except (TypeError, ValueError) as error:
        raise SerializationError(
            f"Step {claim.step!r} of workflow {claim.workflow.name!r} returned a "
            f"{type(output).__name__}, which cannot be stored as JSON ({error}). Return "
            "JSON-serialisable data (dict, list, str, int, float, bool, None)."
        ) from None


def check_precondition(step: Step, context: StepContext) -> None:
    if step.precondition is not None and not step.precondition(context):
        raise ContractViolation(
            f"Precondition of step {step.name!r} does not hold for run {context.run_id!r}; the "
            "step was not run. Check the run's input and the results it depends on.",
            "precondition",
        )


def check_postcondition(step: Step, context: StepContext, output: Any) -> None:
    if step.postcondition is not None and not step.postcondition(context, output):
        raise ContractViolation(
            f"Postcondition of step {step.name!r} does not hold for its output {output!r} "
            f"(run {context.run_id!r}, attempt {context.attempt})."
        )

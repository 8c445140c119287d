"""Running one step action: its contracts, its timeout, its output as JSON.

The lease is not kept here: the worker's shared heartbeat (``_heartbeats``) keeps it alive
while the action runs, whichever way it runs. An action without a timeout runs on the worker's
own thread when the runtime allows it (``inline_actions``: threads do; a simulation does not,
because it sees a worker's calls in flight as its tasks): nothing has to watch such an action,
and a hand-off to another thread per step cost more than the step's bookkeeping. Any other
action runs in a task of its own, so that the worker can give up on it at its timeout.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from ._clock import Clock
from ._definition import Step, StepContext
from ._errors import ContractViolation, SerializationError, StepTimeout
from ._runtime import Runtime

# How close to a step's deadline counts as reaching it.
_EPSILON = 1e-9


def run_action(
    runtime: Runtime,
    clock: Clock,
    context: StepContext,
    timeout: float | None,
    call: Callable[[], Any],
) -> Any:
    """Run ``call``: inline without a timeout (where the runtime allows); else in a task,
    given up at ``timeout``.

    A task cannot be killed: a call past its timeout is abandoned, and whatever it still does
    lands late, as a real abandoned request does. A worker that is paused (SIGSTOP) stops its
    heartbeat too, so its lease expires and another worker takes over; fencing then rejects the
    paused worker's late write.
    """
    if timeout is None and runtime.inline_actions:
        return call()
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["value"] = call()
        except BaseException as error:  # carried back to the worker, a crash included
            box["error"] = error

    started = clock.now()
    task = runtime.spawn(target, name=f"step-{context.step}")
    if timeout is None:
        task.join()
        while task.is_alive():  # a join may end early (a stray wake-up): wait on
            task.join()
        if "error" in box:
            raise box["error"]
        return box.get("value")
    waited = 0.0
    while task.is_alive():
        # Within a nanosecond counts as reached: far from the epoch a float cannot tell a
        # deadline from a moment just before it, and the wait would never end.
        left = min(started + timeout - clock.now(), timeout - waited)
        if left <= _EPSILON:
            raise timed_out(context, timeout)
        task.join(left)
        waited += left
    # Late by the step's own clock: an answer that came after the deadline is discarded; the
    # retry carries the same idempotency key.
    if clock.now() - started > timeout:
        raise timed_out(context, timeout)
    if "error" in box:
        raise box["error"]
    return box.get("value")


def encode_output(step: str, workflow: str, output: Any) -> str:
    """The action's output as strict JSON, or a SerializationError saying what to return."""
    try:
        # Strict JSON: NaN and Infinity are not JSON, and no client could read them back.
        return json.dumps(output, allow_nan=False)
    except (TypeError, ValueError) as error:
        raise SerializationError(
            f"Step {step!r} of workflow {workflow!r} returned a "
            f"{type(output).__name__}, which cannot be stored as JSON ({error}). Return "
            "JSON-serialisable data (dict, list, str, int, float, bool, None)."
        ) from None


def check_precondition(step: Step, context: StepContext) -> None:
    """Raise a ContractViolation when the step's precondition does not hold."""
    if step.precondition is not None and not step.precondition(context):
        raise ContractViolation(
            f"Precondition of step {step.name!r} does not hold for run {context.run_id!r}; the "
            "step was not run. Check the run's input and the results it depends on.",
            "precondition",
        )


def check_postcondition(step: Step, context: StepContext, output: Any) -> None:
    """Raise a ContractViolation when the step's postcondition rejects ``output``."""
    if step.postcondition is not None and not step.postcondition(context, output):
        raise ContractViolation(
            f"Postcondition of step {step.name!r} does not hold for its output {output!r} "
            f"(run {context.run_id!r}, attempt {context.attempt})."
        )


def timed_out(context: StepContext, timeout: float) -> StepTimeout:
    """The error of a step that ran past its timeout."""
    return StepTimeout(
        f"Step {context.step!r} ({context.purpose}) of run {context.run_id!r} ran past its "
        f"timeout={timeout!r}s."
    )

"""Exceptions raised by the orchestrator, and the one it publishes for steps to raise.

Every exception the orchestrator raises on purpose derives from one root::

    OrchestratorError
    ├── DefinitionError        a workflow is malformed (raised when it is defined)
    ├── RegistryError          a workflow name/version is unknown or registered twice
    ├── IllegalTransition      a state move that the transition table does not allow
    ├── UnknownRun             a run id the store does not know
    ├── RunConflict            a known run id submitted again with a different input
    ├── SerializationError     a step's input or output is not JSON-serialisable
    ├── StepTimeout            a step ran past its timeout (recorded as a step failure)
    ├── ContractViolation      a step's pre- or postcondition does not hold
    ├── SubworkflowFailed      a sub-workflow step's child run did not complete (recorded)
    ├── StoreError             the durable store could not be reached or used
    │   ├── StoreUnavailable   the store could not be reached (may come back: worth waiting)
    │   └── StoreNotFound      there is no chaosflow store at the URL (and none was to be made)
    └── BusinessError          raised *by a step*: the service refused, so nothing was applied

A step may raise anything; what it raised is recorded with its qualified type name, its message
and, when the exception has one, its ``code`` attribute (a short stable string, or an int, that
an operator can search for). The orchestrator's own errors carry a ``code`` too.
"""

from __future__ import annotations


class OrchestratorError(Exception):
    """Root of every error the orchestrator raises on purpose."""

    code: str | None = "orchestrator_error"


class DefinitionError(OrchestratorError):
    """A workflow definition is malformed; raised at definition time, naming the offender."""

    code = "definition_error"


class RegistryError(OrchestratorError):
    """A workflow is unknown to the registry, or a different one is registered under its key."""

    code = "unknown_workflow"


class IllegalTransition(OrchestratorError):
    """A state move that the transition table does not allow.

    Carries ``.machine``, ``.state`` and ``.event`` so callers can tell which move failed.
    """

    code = "illegal_transition"

    def __init__(self, machine: str, state: str, event: str) -> None:
        self.machine = machine
        self.state = state
        self.event = event
        super().__init__(
            f"{machine} cannot take event {event!r} in state {state!r}: "
            f"the {machine} transition table has no such row. "
            "This is a bug in the caller or a stale view of the state; re-read the state first."
        )


class UnknownRun(OrchestratorError):
    """A run id that the store does not know."""

    code = "unknown_run"


class RunConflict(OrchestratorError):
    """A run id the store knows, submitted again with a different input.

    Submitting a known ``run_id`` with the *same* input is an idempotent no-op; with another
    input it is refused, because keeping the old input silently would run what the caller did
    not ask for. Carries ``.run_id``, ``.stored_digest`` and ``.given_digest`` (SHA-256 of each
    input as canonical JSON).
    """

    code = "run_conflict"

    def __init__(
        self, run_id: str, stored_digest: str, given_digest: str, *, detail: str = ""
    ) -> None:
        self.run_id = run_id
        self.stored_digest = stored_digest
        self.given_digest = given_digest
        super().__init__(
            f"Run {run_id!r} exists with a different input (stored input sha256={stored_digest}, "
            f"this input sha256={given_digest}).{detail} A run id names one input: resubmit the "
            "same input to get the same run, or choose a new run id for the new input."
        )


class SerializationError(OrchestratorError):
    """A step's input or output cannot be stored as JSON."""

    code = "not_serialisable"


class StepTimeout(OrchestratorError):
    """A step's action or compensation ran past its timeout."""

    code = "step_timeout"


class ContractViolation(OrchestratorError):
    """A step's precondition or postcondition does not hold; the step fails for good.

    ``.condition`` says which: ``"precondition"`` (the action was not called, so nothing was
    applied: a definite failure) or ``"postcondition"`` (the action ran: its effect may stand).
    """

    def __init__(self, message: str, condition: str = "postcondition") -> None:
        super().__init__(message)
        self.condition = condition
        self.code = f"{condition}_failed"


class SubworkflowFailed(OrchestratorError):
    """A sub-workflow step's child run ended without completing, or its rollback failed.

    Recorded as the step's error (never raised to a caller); the message says how the child
    ended and why.
    """

    code = "subworkflow_failed"


class StoreError(OrchestratorError):
    """The durable store could not be reached or used."""

    code = "store_error"


class StoreUnavailable(StoreError):
    """The store could not be reached (refused, timed out, gone): it may come back."""

    code = "store_unavailable"


class StoreNotFound(StoreError):
    """There is no chaosflow store at the URL, and the caller asked not to create one."""

    code = "store_not_found"


class BusinessError(OrchestratorError):
    """Raised by a step's action when the service *refused*: a definite failure.

    A declined card, an unknown customer, a sold-out flight: the service answered no, so it
    applied nothing, and the step is not compensated (as Jepsen's ``:fail``, against ``:info``
    for a timeout or a lost connection, whose effect may stand). ``code`` is a short stable
    string for operators and dashboards (``"card_declined"``); it is recorded with the message.
    A business error is not retried unless ``retryable=True`` (an answer that may change, such
    as "try again later"). To treat an exception type you do not own as definite, declare it on
    the step instead: ``Step(..., definite_errors=(CardDeclined,))``.
    """

    def __init__(self, message: str, *, code: str | None = None, retryable: bool = False):
        super().__init__(message)
        self.code = code
        self.retryable = retryable

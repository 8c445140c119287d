"""Exceptions raised by the orchestrator.

Every exception the orchestrator raises on purpose derives from one root::

    OrchestratorError
    ├── DefinitionError        a workflow is malformed (raised when it is defined)
    ├── RegistryError          a workflow name/version is unknown or registered twice
    ├── IllegalTransition      a state move that the transition table does not allow
    ├── UnknownRun             a run id the store does not know
    ├── SerializationError     a step's input or output is not JSON-serialisable
    ├── StepTimeout            a step ran past its timeout (recorded as a step failure)
    ├── ContractViolation      a step's pre- or postcondition does not hold
    └── StoreError             the durable store could not be reached or used
"""

from __future__ import annotations


class OrchestratorError(Exception):
    """Root of every error the orchestrator raises on purpose."""


class DefinitionError(OrchestratorError):
    """A workflow definition is malformed; raised at definition time, naming the offender."""


class RegistryError(OrchestratorError):
    """A workflow is unknown to the registry, or a different one is registered under its key."""


class IllegalTransition(OrchestratorError):
    """A state move that the transition table does not allow.

    Carries ``.machine``, ``.state`` and ``.event`` so callers can tell which move failed.
    """

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


class SerializationError(OrchestratorError):
    """A step's input or output cannot be stored as JSON."""


class StepTimeout(OrchestratorError):
    """A step's action or compensation ran past its timeout."""


class ContractViolation(OrchestratorError):
    """A step's precondition or postcondition does not hold; the step fails for good."""


class StoreError(OrchestratorError):
    """The durable store could not be reached or used."""

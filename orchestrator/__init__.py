"""chaosflow's durable orchestrator: workflows as DAGs of steps, run at least once, compensated.

The orchestrator knows nothing of chaos. It publishes typed hook events at every durable boundary
(:class:`HookPoint`); fault injectors and observers subscribe to them as plain callables.
"""

from ._breaker import BREAKER_TRANSITIONS, BreakerState, CircuitBreaker, next_breaker_state
from ._clock import Clock, ManualClock, SystemClock
from ._definition import Action, RetryPolicy, Step, StepContext, Workflow
from ._errors import (
    ContractViolation,
    DefinitionError,
    IllegalTransition,
    OrchestratorError,
    RegistryError,
    SerializationError,
    StepTimeout,
    StoreError,
    UnknownRun,
)
from ._hooks import Hook, HookEvent, HookPoint, Hooks, Interceptor, trace_id_for
from ._http import MAX_BODY_BYTES, create_app, serve_http
from ._observe import EVENT_LOGGER, JsonEventLog, OpenTelemetryEvents, event_record
from ._orchestrator import Orchestrator, RunStatus
from ._registry import WorkflowRegistry, import_workflow
from ._replay import rebuild_from_events
from ._routing import AllOf, AnyOf, Condition, Not, When, condition_from_dict
from ._runtime import Doorbell, Runtime, Task, ThreadDoorbell, ThreadRuntime
from ._states import (
    RUN_TRANSITIONS,
    STEP_TRANSITIONS,
    TERMINAL_RUN_STATES,
    RunState,
    StepState,
    next_run_state,
    next_step_state,
    transition_graph,
)
from ._store import EventRow, Store, masked_url
from ._worker import Worker, idempotency_key

__all__ = [
    "Action",
    "AllOf",
    "AnyOf",
    "BREAKER_TRANSITIONS",
    "BreakerState",
    "CircuitBreaker",
    "Clock",
    "Condition",
    "ContractViolation",
    "DefinitionError",
    "Doorbell",
    "EVENT_LOGGER",
    "EventRow",
    "Hook",
    "HookEvent",
    "HookPoint",
    "Hooks",
    "IllegalTransition",
    "Interceptor",
    "JsonEventLog",
    "MAX_BODY_BYTES",
    "ManualClock",
    "Not",
    "OpenTelemetryEvents",
    "Orchestrator",
    "OrchestratorError",
    "RUN_TRANSITIONS",
    "RegistryError",
    "RetryPolicy",
    "RunState",
    "RunStatus",
    "Runtime",
    "STEP_TRANSITIONS",
    "SerializationError",
    "Step",
    "StepContext",
    "StepState",
    "StepTimeout",
    "Store",
    "StoreError",
    "SystemClock",
    "TERMINAL_RUN_STATES",
    "Task",
    "ThreadDoorbell",
    "ThreadRuntime",
    "UnknownRun",
    "When",
    "Worker",
    "Workflow",
    "WorkflowRegistry",
    "condition_from_dict",
    "create_app",
    "event_record",
    "idempotency_key",
    "import_workflow",
    "masked_url",
    "next_breaker_state",
    "next_run_state",
    "next_step_state",
    "rebuild_from_events",
    "serve_http",
    "trace_id_for",
    "transition_graph",
]

"""chaosflow's durable orchestrator: workflows as DAGs of steps, run at least once, compensated.

The orchestrator knows nothing of chaos. It publishes typed hook events at every durable boundary
(:class:`HookPoint`); fault injectors and observers subscribe to them as plain callables.
"""

from ._adaptive import Concurrency, Saturation, next_limit, slot_wait
from ._breaker import BREAKER_TRANSITIONS, BreakerState, CircuitBreaker, next_breaker_state
from ._canary import Canary, CanaryVerdict, canary_bucket, judge_window, takes_canary
from ._clock import Clock, ManualClock, SystemClock
from ._definition import Action, RetryPolicy, Step, StepContext, Workflow
from ._errors import (
    BusinessError,
    ContractViolation,
    DefinitionError,
    IllegalTransition,
    OrchestratorError,
    RegistryError,
    RunConflict,
    SerializationError,
    StepTimeout,
    StoreError,
    StoreNotFound,
    StoreUnavailable,
    SubworkflowFailed,
    UnknownRun,
)
from ._failures import RunFailure, StepError
from ._fallbacks import FALLBACK_CAUSES, Fallback
from ._heartbeats import Heartbeats
from ._hooks import Hook, HookEvent, HookPoint, Hooks, Interceptor, trace_id_for
from ._http import HTTP_LOGGER, MAX_BODY_BYTES, create_app
from ._observe import EVENT_LOGGER, JsonEventLog, OpenTelemetryEvents, event_record
from ._orchestrator import STORE_WAIT_SECONDS, Orchestrator, input_digest, store_wait_delays
from ._pool import MAX_CONCURRENCY, WorkerPool, check_concurrency
from ._rate_limits import RateLimit
from ._registry import WorkflowFactory, WorkflowRegistry, import_workflow, workflow_factory
from ._replay import rebuild_from_events
from ._routing import AllOf, AnyOf, Condition, Not, When, condition_from_dict
from ._runtime import Doorbell, Runtime, Task, ThreadDoorbell, ThreadRuntime
from ._serve import serve_http
from ._stall import STALL_POLICIES, Stall
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
from ._status import RunPage, RunStatus, RunSummary
from ._store import EventRow, Store, masked_url
from ._worker import FAILURE_LOGGER, Worker, idempotency_key

# Recorded error types carry their public name (orchestrator.StepTimeout), which stays stable
# however the private modules are arranged.
for _error in (
    BusinessError,
    ContractViolation,
    DefinitionError,
    IllegalTransition,
    OrchestratorError,
    RegistryError,
    RunConflict,
    SerializationError,
    StepTimeout,
    StoreError,
    StoreNotFound,
    StoreUnavailable,
    SubworkflowFailed,
    UnknownRun,
):
    _error.__module__ = __name__
del _error

__all__ = [
    "Action",
    "AllOf",
    "AnyOf",
    "BREAKER_TRANSITIONS",
    "BreakerState",
    "BusinessError",
    "Canary",
    "CanaryVerdict",
    "CircuitBreaker",
    "Clock",
    "Concurrency",
    "Condition",
    "ContractViolation",
    "DefinitionError",
    "Doorbell",
    "EVENT_LOGGER",
    "EventRow",
    "FAILURE_LOGGER",
    "FALLBACK_CAUSES",
    "Fallback",
    "HTTP_LOGGER",
    "Heartbeats",
    "Hook",
    "HookEvent",
    "HookPoint",
    "Hooks",
    "IllegalTransition",
    "Interceptor",
    "JsonEventLog",
    "MAX_BODY_BYTES",
    "MAX_CONCURRENCY",
    "ManualClock",
    "Not",
    "OpenTelemetryEvents",
    "Orchestrator",
    "OrchestratorError",
    "RUN_TRANSITIONS",
    "RateLimit",
    "RegistryError",
    "RetryPolicy",
    "RunConflict",
    "RunFailure",
    "RunPage",
    "RunState",
    "RunStatus",
    "RunSummary",
    "Runtime",
    "STALL_POLICIES",
    "STEP_TRANSITIONS",
    "STORE_WAIT_SECONDS",
    "Saturation",
    "SerializationError",
    "Stall",
    "Step",
    "StepContext",
    "StepError",
    "StepState",
    "StepTimeout",
    "Store",
    "StoreError",
    "StoreNotFound",
    "StoreUnavailable",
    "SubworkflowFailed",
    "SystemClock",
    "TERMINAL_RUN_STATES",
    "Task",
    "ThreadDoorbell",
    "ThreadRuntime",
    "UnknownRun",
    "When",
    "Worker",
    "WorkerPool",
    "Workflow",
    "WorkflowFactory",
    "WorkflowRegistry",
    "canary_bucket",
    "check_concurrency",
    "condition_from_dict",
    "create_app",
    "event_record",
    "idempotency_key",
    "import_workflow",
    "input_digest",
    "judge_window",
    "masked_url",
    "next_breaker_state",
    "next_limit",
    "next_run_state",
    "next_step_state",
    "rebuild_from_events",
    "serve_http",
    "slot_wait",
    "store_wait_delays",
    "takes_canary",
    "trace_id_for",
    "transition_graph",
    "workflow_factory",
]

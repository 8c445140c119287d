"""Fault injection: declarative, seeded fault plans and the injectors that carry them out.

``faults`` imports no sibling package: injectors attach to the orchestrator only through the hook
events it publishes (plain callables), and talk to Toxiproxy, processes and databases directly.
"""

from ._clock_faults import ClockFaultInjector, ClockLike, SkewedClock
from ._containers import ContainerPostgres, ContainerToxiproxy, docker_available
from ._crash import CRASH_MODES, CrashAt, HookEventLike, InjectedFault, SimulatedCrash
from ._errors import FaultError, FaultPlanError, PostgresClusterError, ToxiproxyError
from ._nemesis import Injector, Nemesis
from ._net import free_port, port_is_free, wait_for_port
from ._network_twin import NetworkTwin, NetworkTwinError
from ._plan import (
    CLOCK_ACTIONS,
    CRASH_POINTS,
    FAULT_KINDS,
    FOREVER,
    HOOK_POINTS,
    PROCESS_ACTIONS,
    STORE_ACTIONS,
    Fault,
    FaultPlan,
    Trigger,
    check_plan_data,
)
from ._plan_model import (
    MAX_FAULT_AT,
    MAX_FAULT_SECONDS,
    MAX_FAULTS,
    MAX_NTH,
    MAX_TOXIC_ATTRIBUTE,
    FaultModel,
    FaultPlanModel,
)
from ._postgres import LocalPostgresCluster, find_bindir, postgres_url_from_env
from ._process_faults import ProcessFaultInjector
from ._step_faults import (
    STEP_FAULT_KINDS,
    InjectedStepError,
    StepContextLike,
    StepFault,
    StepFaultInjector,
)
from ._store_faults import InjectedStoreError, StoreFaultInjector
from ._toxics import STREAMS, TOXIC_ATTRIBUTES
from ._toxiproxy import (
    Proxy,
    ToxiproxyClient,
    ToxiproxyInjector,
    ToxiproxyServer,
    find_binary,
    validate_toxic,
)

__all__ = [
    "CLOCK_ACTIONS",
    "CRASH_MODES",
    "CRASH_POINTS",
    "ClockFaultInjector",
    "ClockLike",
    "ContainerPostgres",
    "ContainerToxiproxy",
    "CrashAt",
    "FAULT_KINDS",
    "FOREVER",
    "Fault",
    "FaultError",
    "FaultModel",
    "FaultPlan",
    "FaultPlanError",
    "FaultPlanModel",
    "HOOK_POINTS",
    "HookEventLike",
    "InjectedFault",
    "InjectedStepError",
    "InjectedStoreError",
    "Injector",
    "LocalPostgresCluster",
    "MAX_FAULTS",
    "MAX_FAULT_AT",
    "MAX_FAULT_SECONDS",
    "MAX_NTH",
    "MAX_TOXIC_ATTRIBUTE",
    "Nemesis",
    "NetworkTwin",
    "NetworkTwinError",
    "PROCESS_ACTIONS",
    "PostgresClusterError",
    "ProcessFaultInjector",
    "Proxy",
    "STEP_FAULT_KINDS",
    "STORE_ACTIONS",
    "STREAMS",
    "SimulatedCrash",
    "SkewedClock",
    "StepContextLike",
    "StepFault",
    "StepFaultInjector",
    "StoreFaultInjector",
    "TOXIC_ATTRIBUTES",
    "ToxiproxyClient",
    "ToxiproxyError",
    "ToxiproxyInjector",
    "ToxiproxyServer",
    "Trigger",
    "check_plan_data",
    "docker_available",
    "find_binary",
    "find_bindir",
    "free_port",
    "port_is_free",
    "postgres_url_from_env",
    "validate_toxic",
    "wait_for_port",
]

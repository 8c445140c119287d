"""Fault injection: declarative, seeded fault plans and the injectors that carry them out.

``faults`` imports no sibling package: injectors attach to the orchestrator only through the hook
events it publishes (plain callables), and talk to Toxiproxy, processes and databases directly.
"""

from ._clock_faults import ClockLike, SkewedClock
from ._crash import CRASH_MODES, CrashAt, HookEventLike, InjectedFault, SimulatedCrash
from ._errors import FaultError, FaultPlanError, PostgresClusterError, ToxiproxyError
from ._plan import CRASH_POINTS, FAULT_KINDS, Fault, FaultPlan
from ._step_faults import (
    STEP_FAULT_KINDS,
    InjectedStepError,
    StepContextLike,
    StepFault,
    StepFaultInjector,
)

__all__ = [
    "CRASH_MODES",
    "CRASH_POINTS",
    "FAULT_KINDS",
    "STEP_FAULT_KINDS",
    "ClockLike",
    "CrashAt",
    "Fault",
    "FaultError",
    "FaultPlan",
    "FaultPlanError",
    "HookEventLike",
    "InjectedFault",
    "InjectedStepError",
    "PostgresClusterError",
    "SimulatedCrash",
    "SkewedClock",
    "StepContextLike",
    "StepFault",
    "StepFaultInjector",
    "ToxiproxyError",
]

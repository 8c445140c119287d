"""The fault plan as a pydantic model: the types and bounds of every field, and its JSON Schema.

:meth:`FaultPlan.from_dict` validates data with :class:`FaultPlanModel` first (so a wrong type,
a NaN, an infinity or an absurd size is refused naming its path), then builds the frozen
dataclasses, whose own checks hold the rules between fields (a crash needs a crash point, a
network fault's attributes belong to its toxic). ``docs/schemas/fault-plan.json`` is this
model's schema, checked by a test.

Bounds, stated once: times (``trigger.at``, ``duration``) within 0..``MAX_FAULT_AT`` seconds;
the seconds a step or store fault adds, or a clock fault skews, within ``MAX_FAULT_SECONDS``;
``nth`` at most ``MAX_NTH``; at most ``MAX_FAULTS`` faults; probabilities within 0..1; toxic
attributes within 0..``MAX_TOXIC_ATTRIBUTE`` (milliseconds or bytes, as Toxiproxy takes them).
"""

from __future__ import annotations

from typing import Annotated, Any, Final, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from ._crash import CRASH_MODES
from ._step_faults import STEP_FAULT_KINDS
from ._toxics import STREAMS, TOXIC_ATTRIBUTES

MAX_FAULT_AT: Final = 86_400.0  # a day: longer belongs to a soak job, not a scenario
MAX_FAULT_SECONDS: Final = 3_600.0  # an hour of latency, hang or skew is already an outage
MAX_NTH: Final = 1_000_000
MAX_FAULTS: Final = 1_000
MAX_TOXIC_ATTRIBUTE: Final = 3_600_000  # ms (an hour) or bytes (3.6 MB)
MAX_SEED: Final = 2**63 - 1

HOOK_POINT_NAMES = Literal[
    "run_submitted",
    "step_claimed",
    "before_action",
    "after_action",
    "after_commit",
    "compensation_claimed",
    "before_compensation",
    "after_compensation",
    "after_compensation_commit",
    "lease_expired",
    "run_finished",
]

Name = Annotated[str, StringConstraints(min_length=1, max_length=128, pattern=r"^[^\x00]+$")]
Seconds = Annotated[float, Field(ge=0, le=MAX_FAULT_AT, allow_inf_nan=False)]
Probability = Annotated[float, Field(ge=0, le=1, allow_inf_nan=False)]
FaultSeconds = Annotated[float, Field(ge=0, le=MAX_FAULT_SECONDS, allow_inf_nan=False)]
Seed = Annotated[int, Field(ge=0, le=MAX_SEED)]


class _Strict(BaseModel):
    # strict: "0.5" is not 0.5 and true is not 1; what a file says is what it means.
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class TriggerModel(_Strict):
    """When a fault strikes: ``at`` seconds from the start, or the ``nth`` event at ``point``."""

    at: Seconds | None = None
    point: HOOK_POINT_NAMES | None = None
    step: Name | None = None
    nth: Annotated[int, Field(ge=1, le=MAX_NTH)] = 1
    probability: Probability = 1.0
    run: Annotated[int, Field(ge=0, le=MAX_NTH)] | Name | None = None
    each_run: bool = False


class _Fault(_Strict):
    trigger: TriggerModel = Field(default_factory=lambda: TriggerModel(at=0.0))
    target: Name | None = None
    duration: Seconds | Literal["forever"] | None = None


class CrashParams(_Strict):
    """A crash's params."""

    mode: Literal[CRASH_MODES] = "raise"  # type: ignore[valid-type]


class StepParams(_Strict):
    """A step fault's params."""

    fault: Literal[STEP_FAULT_KINDS]  # type: ignore[valid-type]
    attempts: Annotated[int, Field(ge=1, le=1_000)] = 1
    seconds: FaultSeconds = 0.0
    output: Any = None
    probability: Probability = 1.0
    purpose: Literal["action", "compensation"] = "action"
    stream: Literal[STREAMS] = "downstream"  # type: ignore[valid-type]


class NetworkParams(_Strict):
    """A Toxiproxy toxic's params."""

    toxic: Literal[tuple(TOXIC_ATTRIBUTES)]  # type: ignore[valid-type]
    stream: Literal[STREAMS] = "downstream"  # type: ignore[valid-type]
    toxicity: Probability = 1.0
    attributes: dict[str, Annotated[int, Field(ge=0, le=MAX_TOXIC_ATTRIBUTE)]] = Field(
        default_factory=dict
    )


class NoParams(_Strict):
    """A partition takes no params."""


class ProcessParams(_Strict):
    """A process fault's params."""

    action: Literal["sigkill", "sigstop", "restart"]


class ClockParams(_Strict):
    """A clock fault's params."""

    action: Literal["skew", "jump"]
    seconds: Annotated[
        float, Field(ge=-MAX_FAULT_SECONDS, le=MAX_FAULT_SECONDS, allow_inf_nan=False)
    ]


class StoreParams(_Strict):
    """A store fault's params."""

    action: Literal["connection_loss", "commit_fail", "ack_lost", "latency"]
    seconds: FaultSeconds = 0.0
    probability: Probability = 1.0


class CrashFault(_Fault):
    """Crash the worker at a hook point."""

    kind: Literal["crash"]
    params: CrashParams = Field(default_factory=CrashParams)


class StepFaultModel(_Fault):
    """A fault met by a step's call."""

    kind: Literal["step"]
    params: StepParams


class NetworkFault(_Fault):
    """A Toxiproxy toxic on a proxy."""

    kind: Literal["network"]
    params: NetworkParams


class PartitionFault(_Fault):
    """A proxy cut off."""

    kind: Literal["partition"]
    params: NoParams = Field(default_factory=NoParams)


class ProcessFault(_Fault):
    """A worker process killed, stopped or restarted."""

    kind: Literal["process"]
    params: ProcessParams


class ClockFault(_Fault):
    """A worker's clock skewed or jumped."""

    kind: Literal["clock"]
    params: ClockParams


class StoreFault(_Fault):
    """The store loses connections, fails commits, loses acknowledgements or is slow."""

    kind: Literal["store"]
    params: StoreParams


FaultModel = Annotated[
    CrashFault
    | StepFaultModel
    | NetworkFault
    | PartitionFault
    | ProcessFault
    | ClockFault
    | StoreFault,
    Field(discriminator="kind"),
]


class FaultPlanModel(_Strict):
    """A fault plan: a seed and at most ``MAX_FAULTS`` faults."""

    model_config = ConfigDict(title="chaosflow fault plan")

    seed: Seed = 0
    faults: Annotated[list[FaultModel], Field(max_length=MAX_FAULTS)] = Field(default_factory=list)

"""The fault plan: declarative, serialisable, seeded data that says which faults strike when.

A plan is a list of :class:`Fault`: a kind, a target, a :class:`Trigger` (a time offset, or the
n-th hook event at a point, optionally of one step and of one run, each with a probability), a
duration after which the fault heals (or ``forever``: it outlasts the heal), and the kind's own
parameters. Plans load from YAML or JSON and are
validated when they are built, naming the field and the value that is wrong. The same plan drives
the simulation (through in-memory twins) and a real run (through real injectors).

| kind | target | params |
|---|---|---|
| crash | - (the trigger names point and step) | mode: raise, sigkill |
| step | step name (or all) | fault (a STEP_FAULT_KINDS name); attempts, seconds, output, ... |
| network | proxy name | toxic (a Toxiproxy toxic), stream, toxicity, attributes |
| partition | proxy name | - |
| process | worker (at a hook point: none, the one there) | action: sigkill, sigstop, restart |
| clock | worker name | action: skew (healed), jump; seconds |
| store | - | action: connection_loss, commit_fail, ack_lost, latency; seconds, probability |
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, cast, get_args

import yaml
from pydantic import ValidationError

from intake import InputError, describe_validation_error, load_yaml

from ._crash import CRASH_MODES
from ._errors import FaultPlanError, ToxiproxyError
from ._plan_model import HOOK_POINT_NAMES, FaultPlanModel
from ._step_faults import STEP_FAULT_KINDS, StepFault
from ._toxiproxy import validate_toxic

# Hook points a trigger may name; kept in step with the orchestrator's HookPoint by a test.
HOOK_POINTS: tuple[str, ...] = get_args(HOOK_POINT_NAMES)  # one list, in the model
# Where a worker can die mid-step: a crash at run_submitted or run_finished kills nothing useful.
CRASH_POINTS = HOOK_POINTS[1:9]

# A duration that never heals during the run: the outage a workflow must give up on.
FOREVER = "forever"

FAULT_KINDS = ("crash", "step", "network", "partition", "process", "clock", "store")
PROCESS_ACTIONS = ("sigkill", "sigstop", "restart")
CLOCK_ACTIONS = ("skew", "jump")
STORE_ACTIONS = ("connection_loss", "commit_fail", "ack_lost", "latency")

# Which params each kind takes, and which of them it requires.
_PARAMS: Mapping[str, tuple[frozenset[str], frozenset[str]]] = {
    "crash": (frozenset({"mode"}), frozenset()),
    "step": (
        frozenset({"fault", "attempts", "seconds", "output", "probability", "purpose", "stream"}),
        frozenset({"fault"}),
    ),
    "network": (frozenset({"toxic", "stream", "toxicity", "attributes"}), frozenset({"toxic"})),
    "partition": (frozenset(), frozenset()),
    "process": (frozenset({"action"}), frozenset({"action"})),
    "clock": (frozenset({"action", "seconds"}), frozenset({"action", "seconds"})),
    "store": (frozenset({"action", "seconds", "probability"}), frozenset({"action"})),
}
_NEEDS_TARGET = frozenset({"network", "partition", "process", "clock"})


@dataclass(frozen=True)
class Trigger:
    """When a fault strikes: ``at`` seconds after the start, or at the ``nth`` hook event at
    ``point`` (of ``step``, and of ``run``, if given); it then strikes with ``probability``.

    ``run`` names a run by its index in the scenario's inputs (0 is the first submitted) or by
    its id; a run's sub-workflow runs count as the run. With ``each_run`` the ``nth`` match is
    counted in every run separately, and the fault strikes once in each.
    """

    at: float | None = None
    point: str | None = None
    step: str | None = None
    nth: int = 1
    probability: float = 1.0
    run: int | str | None = None
    each_run: bool = False

    def __post_init__(self) -> None:
        if (self.at is None) == (self.point is None):
            raise FaultPlanError(
                f"trigger needs exactly one of at=<seconds> or point=<hook point>; got "
                f"at={self.at!r}, point={self.point!r}."
            )
        if self.at is not None and self.at < 0:
            raise FaultPlanError(f"trigger.at={self.at!r} must not be negative.")
        if self.point is not None and self.point not in HOOK_POINTS:
            raise FaultPlanError(
                f"trigger.point={self.point!r} is not a hook point; use one of "
                f"{', '.join(HOOK_POINTS)}."
            )
        if self.step is not None and self.point is None:
            raise FaultPlanError(f"trigger.step={self.step!r} needs a trigger.point as well.")
        if not isinstance(self.nth, int) or isinstance(self.nth, bool) or self.nth < 1:
            raise FaultPlanError(f"trigger.nth={self.nth!r} must be an integer >= 1.")
        if self.run is not None:
            if isinstance(self.run, bool) or not isinstance(self.run, int | str):
                raise FaultPlanError(
                    f"trigger.run={self.run!r} must be a run's index in the inputs (0, 1, ...) "
                    "or a run id."
                )
            if (isinstance(self.run, int) and self.run < 0) or self.run == "":
                raise FaultPlanError(f"trigger.run={self.run!r} must be >= 0 or a run id.")
            if self.point is None:
                raise FaultPlanError(f"trigger.run={self.run!r} needs a trigger.point as well.")
        if not isinstance(self.each_run, bool):
            raise FaultPlanError(f"trigger.each_run={self.each_run!r} must be true or false.")
        if self.each_run and (self.point is None or self.run is not None):
            raise FaultPlanError(
                "trigger.each_run counts matches in every run: it needs a trigger.point and no "
                f"trigger.run (got run={self.run!r})."
            )
        if not 0.0 <= self.probability <= 1.0:
            raise FaultPlanError(f"trigger.probability={self.probability!r} is outside 0..1.")

    def describe(self) -> str:
        """'at 2.0s' or 'at the 1st after_action of charge_payment'."""
        chance = "" if self.probability == 1.0 else f", p={self.probability}"
        if self.at is not None:
            return f"at {self.at}s{chance}"
        where = f" of {self.step}" if self.step else ""
        if self.run is not None:
            where += f" in run {self.run}"
        if self.each_run:
            where += " in each run"
        return f"at {self.point} #{self.nth}{where}{chance}"


@dataclass(frozen=True)
class Fault:
    """One fault of a plan: what, on whom, when, for how long."""

    kind: str
    trigger: Trigger
    target: str | None = None
    # Heal after this long; None: at the scenario's heal time; FOREVER: never during the run.
    duration: float | str | None = None
    params: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.kind not in FAULT_KINDS:
            raise FaultPlanError(
                f"kind={self.kind!r} is not a known fault kind; known: {', '.join(FAULT_KINDS)}."
            )
        allowed, required = _PARAMS[self.kind]
        unknown = set(self.params) - allowed
        if unknown:
            raise FaultPlanError(
                f"{self.kind} fault has unknown param(s) {sorted(unknown)!r}; it takes "
                f"{sorted(allowed)!r}."
            )
        missing = required - set(self.params)
        if missing:
            raise FaultPlanError(f"{self.kind} fault needs param(s) {sorted(missing)!r}.")
        # A process fault at a hook point may leave its target out: it then strikes the worker
        # whose hook fired ("freeze whichever worker claimed send_receipt").
        aimed = self.kind == "process" and self.trigger.point is not None
        if self.kind in _NEEDS_TARGET and not self.target and not aimed:
            raise FaultPlanError(
                f"{self.kind} fault needs a target (a "
                f"{'proxy' if self.kind in ('network', 'partition') else 'worker'} name)."
            )
        if isinstance(self.duration, str):
            if self.duration != FOREVER:
                raise FaultPlanError(
                    f"duration={self.duration!r} must be a number of seconds or {FOREVER!r}."
                )
        elif self.duration is not None and (
            isinstance(self.duration, bool) or not isinstance(self.duration, int | float)
        ):
            raise FaultPlanError(
                f"duration={self.duration!r} must be a number of seconds or {FOREVER!r}."
            )
        elif self.duration is not None and not 0 <= self.duration < float("inf"):
            raise FaultPlanError(
                f"duration={self.duration!r} must be a finite number >= 0; for an outage that "
                f"never heals during the run, write duration: {FOREVER}."
            )
        _check_params(self)

    # -- constructors for code ------------------------------------------------------------------

    @classmethod
    def crash(
        cls,
        point: str,
        step: str | None = None,
        nth: int = 1,
        mode: str = "raise",
        *,
        run: int | str | None = None,
    ) -> Fault:
        """Crash the worker at the ``nth`` ``point`` hook event (of ``step``, of ``run``)."""
        return cls(
            "crash", Trigger(point=point, step=step, nth=nth, run=run), params={"mode": mode}
        )

    @classmethod
    def step_fault(
        cls,
        fault: str,
        step: str | None = None,
        *,
        at: float = 0.0,
        duration: float | str | None = None,
        **params: Any,
    ) -> Fault:
        """A step fault (transient, permanent, latency, hang, duplicate, bad_output)."""
        return cls("step", Trigger(at=at), step, duration, {"fault": fault, **params})

    @classmethod
    def toxic(
        cls,
        proxy: str,
        toxic: str,
        *,
        at: float = 0.0,
        duration: float | str | None = None,
        stream: str = "downstream",
        toxicity: float = 1.0,
        **attributes: int,
    ) -> Fault:
        """A Toxiproxy toxic on ``proxy``."""
        params = {
            "toxic": toxic,
            "stream": stream,
            "toxicity": toxicity,
            "attributes": dict(attributes),
        }
        return cls("network", Trigger(at=at), proxy, duration, params)

    # -- views ----------------------------------------------------------------------------------

    @property
    def lasting(self) -> bool:
        """Whether the fault outlasts the scenario's heal (``duration: forever``)."""
        return self.duration == FOREVER

    @property
    def crash_mode(self) -> str:
        """How a crash fault kills: 'raise' (in-process) or 'sigkill'."""
        return str(self.params.get("mode", "raise"))

    def step_fault_spec(self) -> StepFault:
        """The StepFault a ``step`` fault stands for."""
        params = {k: v for k, v in self.params.items() if k != "fault"}
        return StepFault(self.params["fault"], self.target, **params)

    def describe(self) -> str:
        """One line for a human."""
        what = self.kind
        if self.kind == "crash":
            what = f"crash ({self.crash_mode})"
        elif self.kind == "step":
            what = f"step fault {self.params['fault']}"
        elif self.kind == "network":
            what = f"toxic {self.params['toxic']}"
        elif "action" in self.params:
            what = f"{self.kind} {self.params['action']}"
        on = f" on {self.target}" if self.target else ""
        lasting = ""
        if self.lasting:
            lasting = " forever"
        elif self.duration is not None:
            lasting = f" for {self.duration}s"
        return f"{what}{on} {self.trigger.describe()}{lasting}"

    def to_dict(self) -> dict[str, Any]:
        """The fault as plain data."""
        trigger = {
            k: v
            for k, v in vars(self.trigger).items()
            if v is not None
            and not (k == "nth" and v == 1)
            and not (k == "probability" and v == 1.0)
            and not (k == "each_run" and v is False)
        }
        data: dict[str, Any] = {"kind": self.kind, "trigger": trigger}
        if self.target is not None:
            data["target"] = self.target
        if self.duration is not None:
            data["duration"] = self.duration
        if self.params:
            data["params"] = dict(self.params)
        return data


def _check_params(fault: Fault) -> None:
    p = fault.params
    if fault.kind == "crash":
        if fault.trigger.point is None or fault.trigger.point not in CRASH_POINTS:
            raise FaultPlanError(
                f"crash trigger.point={fault.trigger.point!r} is not a crash point; use one of "
                f"{', '.join(CRASH_POINTS)}."
            )
        if p.get("mode", "raise") not in CRASH_MODES:
            raise FaultPlanError(
                f"crash mode={p.get('mode')!r} must be one of {', '.join(CRASH_MODES)}."
            )
    elif fault.kind == "step":
        if p["fault"] not in STEP_FAULT_KINDS:
            raise FaultPlanError(
                f"step fault={p['fault']!r} is not known; use one of {', '.join(STEP_FAULT_KINDS)}."
            )
        fault.step_fault_spec()  # validates attempts, seconds, probability, purpose
    elif fault.kind == "network":
        _check_toxic(p)
    elif fault.kind == "process" and p["action"] not in PROCESS_ACTIONS:
        raise FaultPlanError(
            f"process action={p['action']!r} must be one of {', '.join(PROCESS_ACTIONS)}."
        )
    elif fault.kind == "clock":
        if p["action"] not in CLOCK_ACTIONS:
            raise FaultPlanError(
                f"clock action={p['action']!r} must be one of {', '.join(CLOCK_ACTIONS)}."
            )
        if not isinstance(p["seconds"], int | float):
            raise FaultPlanError(f"clock seconds={p['seconds']!r} must be a number.")
    elif fault.kind == "store":
        if p["action"] not in STORE_ACTIONS:
            raise FaultPlanError(
                f"store action={p['action']!r} must be one of {', '.join(STORE_ACTIONS)}."
            )
        if not 0.0 <= float(p.get("probability", 1.0)) <= 1.0:
            raise FaultPlanError(f"store probability={p['probability']!r} is outside 0..1.")


def _check_toxic(p: Mapping[str, Any]) -> None:
    attributes = p.get("attributes", {})
    if not isinstance(attributes, Mapping):
        raise FaultPlanError(f"network attributes={attributes!r} must be a mapping.")
    try:
        validate_toxic(
            p["toxic"],
            p.get("stream", "downstream"),
            float(p.get("toxicity", 1.0)),
            dict(attributes),
        )
    except ToxiproxyError as error:  # one set of rules, for plans and for the client alike
        raise FaultPlanError(f"network fault: {error}") from None


@dataclass(frozen=True)
class FaultPlan:
    """An ordered, seeded list of faults; equal plans compare equal and print the same."""

    faults: tuple[Fault, ...] = ()
    seed: int = 0

    def to_dict(self) -> dict[str, Any]:
        """The plan as plain data (for YAML or JSON)."""
        return {"seed": self.seed, "faults": [fault.to_dict() for fault in self.faults]}

    def to_yaml(self) -> str:
        """The plan as YAML."""
        return yaml.safe_dump(self.to_dict(), sort_keys=False)

    def with_seed(self, seed: int) -> FaultPlan:
        """The same faults under another seed."""
        return replace(self, seed=seed)

    def describe(self) -> str:
        """One line per fault."""
        return "\n".join(f.describe() for f in self.faults) or "no faults"

    @classmethod
    def from_yaml(cls, text: str, *, steps: Sequence[str] | None = None) -> FaultPlan:
        """Load a plan from YAML (or JSON, which is YAML)."""
        try:
            data = load_yaml(text, "The fault plan")  # bounded, plain data only
        except InputError as error:
            raise FaultPlanError(str(error)) from None
        return cls.from_dict(data or {}, steps=steps)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, steps: Sequence[str] | None = None) -> FaultPlan:
        """Load and validate a plan; ``steps`` (if given) are the step names faults may name."""
        if not isinstance(data, Mapping):
            raise FaultPlanError(
                f"A fault plan must be a mapping with 'faults' and 'seed', not {data!r}."
            )
        check_plan_data(data)
        seed = data.get("seed", 0)
        raw_faults = data.get("faults", [])
        return cls(tuple(_load_fault(i, raw, steps) for i, raw in enumerate(raw_faults)), seed)


def check_plan_data(data: Any, where: str = "Fault plan") -> None:
    """Refuse ``data`` unless it has a fault plan's types and bounds (:class:`FaultPlanModel`)."""
    try:
        FaultPlanModel.model_validate(data)
    except ValidationError as error:
        raise FaultPlanError(
            describe_validation_error(error, where, model=FaultPlanModel, union_tags=FAULT_KINDS)
        ) from None


def _load_fault(index: int, raw: Any, steps: Sequence[str] | None) -> Fault:
    where = f"faults[{index}]"
    if not isinstance(raw, Mapping):
        raise FaultPlanError(f"Fault plan {where}={raw!r} must be a mapping.")
    unknown = set(raw) - {"kind", "trigger", "target", "duration", "params"}
    if unknown:
        raise FaultPlanError(
            f"Fault plan {where} has unknown field(s) {sorted(unknown)!r}; allowed: "
            "'kind', 'trigger', 'target', 'duration', 'params'."
        )
    trigger_data = raw.get("trigger", {"at": 0.0})
    try:
        if not isinstance(trigger_data, Mapping):
            raise FaultPlanError(f"trigger={trigger_data!r} must be a mapping.")
        extra = set(trigger_data) - {"at", "point", "step", "nth", "probability", "run", "each_run"}
        if extra:
            raise FaultPlanError(
                f"trigger has unknown field(s) {sorted(extra)!r}; allowed: 'at', 'point', "
                "'step', 'nth', 'probability', 'run', 'each_run'."
            )
        fault = Fault(
            kind=cast(str, raw.get("kind")),
            trigger=Trigger(**trigger_data),
            target=raw.get("target"),
            duration=raw.get("duration"),
            params=dict(raw.get("params") or {}),
        )
    except FaultPlanError as error:
        raise FaultPlanError(f"Fault plan {where}: {error}") from None
    if steps is not None:
        for name, value in (
            ("trigger.step", fault.trigger.step),
            ("target", fault.target if fault.kind == "step" else None),
        ):
            if value is not None and value not in steps:
                raise FaultPlanError(
                    f"Fault plan {where}: {name}={value!r} is not a step of the workflow; its "
                    f"steps are {', '.join(steps)}."
                )
    return fault

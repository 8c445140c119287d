"""Hypothesis strategies that generate workflows, step behaviours, inputs and whole scenarios.

A generated workflow is first plain data, a :class:`WorkflowSpec` of :class:`StepSpec`: printable,
JSON-able, carried by the replay token. :func:`build_workflow` turns it into a real orchestrator
:class:`~orchestrator.Workflow` whose steps call :class:`RecordingService` doubles with the step's
idempotency key (so the checkers see every effect) and whose compensations undo them.

Everything is built from ``st.lists``, ``st.one_of`` and ``st.sampled_from``, so Hypothesis
shrinks a failure toward fewer steps, fewer edges, plain ``ok`` behaviours, fewer inputs and
fewer faults. To test a workflow of your own, :func:`scenarios_around` generates only its inputs
and the faults and step behaviours (as step faults) around it.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import yaml
from hypothesis import strategies as st

from faults import Fault, FaultPlan
from orchestrator import (
    OrchestratorError,
    RetryPolicy,
    Step,
    StepContext,
    When,
    Workflow,
    import_workflow,
)

from .._errors import ScenarioDefinitionError
from .._outcome import ScenarioOutcome
from .._scenario import Scenario, decode_replay_token
from ..effects import RecordingService
from ._fault_plans import fault_plans

# The input flags generated steps read: a behaviour fails on one, a route runs on one.
INPUT_FIELDS = ("decline", "express")
SERVICES = ("payment", "stock", "shipping")
BEHAVIOUR_KINDS = ("ok", "transient", "fails_when")
# Retries enough to outlive a transient behaviour plus a transient fault, quick in virtual time.
GENERATED_RETRY = RetryPolicy(max_attempts=4, initial_interval=0.1, max_interval=1.0)


class GeneratedStepError(Exception):
    """A generated step's failure that a retry may cure (a ``transient`` behaviour)."""


class GeneratedRefusal(Exception):
    """A generated step's failure for good (a ``fails_when`` behaviour): never retried."""


@dataclass(frozen=True)
class Behaviour:
    """What a generated step does before it calls its service.

    - ``ok``: calls it.
    - ``transient``: the first ``failures`` attempts fail before the call, later ones call it.
    - ``fails_when``: fails for good, before the call, when the input flag ``field`` is true.
    """

    kind: str = "ok"
    field: str | None = None
    failures: int = 0

    def __post_init__(self) -> None:
        if self.kind not in BEHAVIOUR_KINDS:
            raise ScenarioDefinitionError(
                f"Behaviour kind={self.kind!r} is not known; use one of "
                f"{', '.join(BEHAVIOUR_KINDS)}."
            )
        if self.kind == "fails_when" and not self.field:
            raise ScenarioDefinitionError(
                "Behaviour 'fails_when' needs field=<an input flag>, e.g. field='decline'."
            )
        if self.kind == "transient" and self.failures < 1:
            raise ScenarioDefinitionError(
                f"Behaviour 'transient' needs failures >= 1, not failures={self.failures!r}."
            )

    def describe(self) -> str:
        """'ok', 'fails 2x then ok' or 'fails when input.decline'."""
        if self.kind == "transient":
            return f"fails {self.failures}x then ok"
        if self.kind == "fails_when":
            return f"fails when input.{self.field}"
        return "ok"

    def to_dict(self) -> dict[str, Any]:
        """The behaviour as plain data, without defaults."""
        data: dict[str, Any] = {"kind": self.kind}
        if self.field is not None:
            data["field"] = self.field
        if self.failures:
            data["failures"] = self.failures
        return data


@dataclass(frozen=True)
class StepSpec:
    """One generated step: its edges, the service it calls, its compensation, its behaviour."""

    name: str
    after: tuple[str, ...] = ()
    service: str | None = "payment"  # None: a step with no external effect
    compensated: bool = True  # whether its compensation undoes the service's effect
    idempotent: bool = True  # whether the service it calls honours idempotency keys
    behaviour: Behaviour = field(default_factory=Behaviour)
    when: str | None = None  # run only when this input flag is true; else the step is skipped

    def to_dict(self) -> dict[str, Any]:
        """The step as plain data, without defaults."""
        data: dict[str, Any] = {"name": self.name}
        if self.after:
            data["after"] = list(self.after)
        data["service"] = self.service
        if not self.compensated:
            data["compensated"] = False
        if not self.idempotent:
            data["idempotent"] = False
        if self.behaviour != Behaviour():
            data["behaviour"] = self.behaviour.to_dict()
        if self.when is not None:
            data["when"] = self.when
        return data

    def describe(self) -> dict[str, Any]:
        """The step for a person: edges, service, compensation, behaviour, route."""
        shown: dict[str, Any] = {}
        if self.after:
            shown["after"] = list(self.after)
        if self.when:
            shown["when"] = f"input.{self.when}"
        if self.service is None:
            shown["calls"] = "nothing"
        else:
            shown["calls"] = self.service + ("" if self.idempotent else " (IGNORES KEYS)")
            shown["compensation"] = "undo" if self.compensated else "NONE"
        shown["behaviour"] = self.behaviour.describe()
        return shown


@dataclass(frozen=True)
class WorkflowSpec:
    """A generated workflow as plain data: printable, JSON-able, carried by the replay token."""

    steps: tuple[StepSpec, ...]
    name: str = "generated"

    @property
    def edges(self) -> int:
        """How many dependency edges the workflow has."""
        return sum(len(step.after) for step in self.steps)

    def to_dict(self) -> dict[str, Any]:
        """The spec as plain data (the inverse of :meth:`from_dict`)."""
        return {"name": self.name, "steps": [step.to_dict() for step in self.steps]}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> WorkflowSpec:
        """Load a spec written as plain data, refusing unknown fields by name."""
        if not isinstance(data, Mapping) or not isinstance(data.get("steps"), list):
            raise ScenarioDefinitionError(
                f"A workflow spec must be a mapping with a list of 'steps', not {data!r}."
            )
        allowed = {"name", "after", "service", "compensated", "idempotent", "behaviour", "when"}
        steps = []
        for index, raw in enumerate(data["steps"]):
            unknown = set(raw) - allowed if isinstance(raw, Mapping) else set()
            if not isinstance(raw, Mapping) or unknown or "name" not in raw:
                raise ScenarioDefinitionError(
                    f"Workflow spec steps[{index}]={raw!r} must be a mapping with a 'name' and "
                    f"only the fields {sorted(allowed)!r}."
                )
            behaviour = dict(raw.get("behaviour") or {"kind": "ok"})
            steps.append(
                StepSpec(
                    name=str(raw["name"]),
                    after=tuple(raw.get("after", ())),
                    service=raw.get("service"),
                    compensated=bool(raw.get("compensated", True)),
                    idempotent=bool(raw.get("idempotent", True)),
                    behaviour=Behaviour(**behaviour),
                    when=raw.get("when"),
                )
            )
        return cls(tuple(steps), str(data.get("name", "generated")))

    def describe(self) -> dict[str, Any]:
        """The workflow for a person: each step with its edges, compensation and behaviour."""
        return {step.name: step.describe() for step in self.steps}


def build_workflow(spec: WorkflowSpec) -> Workflow:
    """The real orchestrator workflow ``spec`` describes, validated as any definition is."""
    return Workflow(spec.name, [_build_step(step) for step in spec.steps])


def _build_step(spec: StepSpec) -> Step:
    service = RecordingService(spec.service, honour_keys=spec.idempotent) if spec.service else None
    behaviour = spec.behaviour

    def action(ctx: StepContext) -> Any:
        if behaviour.kind == "fails_when" and ctx.input.get(behaviour.field or ""):
            raise GeneratedRefusal(f"step {ctx.step!r} refuses input.{behaviour.field}")
        if behaviour.kind == "transient" and ctx.attempt <= behaviour.failures:
            raise GeneratedStepError(f"step {ctx.step!r} fails on attempt {ctx.attempt}")
        return service.apply(ctx) if service else {"step": ctx.step}

    def undo(ctx: StepContext) -> None:
        assert service is not None  # only steps that call a service get a compensation
        service.compensate(ctx)

    return Step(
        spec.name,
        action,
        undo if service and spec.compensated else None,
        after=spec.after,
        retry=RetryPolicy(
            max_attempts=GENERATED_RETRY.max_attempts,
            initial_interval=GENERATED_RETRY.initial_interval,
            max_interval=GENERATED_RETRY.max_interval,
            non_retryable=(GeneratedRefusal,),
        ),
        compensation_retry=GENERATED_RETRY,
        when=When(f"input.{spec.when}", "eq", True) if spec.when else None,
    )


# -- strategies -----------------------------------------------------------------------------------


def step_behaviours(
    *, fields: Sequence[str] = INPUT_FIELDS, max_failures: int = 2
) -> st.SearchStrategy[Behaviour]:
    """Step behaviours, shrinking toward ``ok``: transient failures, or failing on an input."""
    return st.one_of(
        st.just(Behaviour()),
        st.builds(lambda n: Behaviour("transient", failures=n), st.integers(1, max_failures)),
        st.builds(lambda f: Behaviour("fails_when", field=f), st.sampled_from(list(fields))),
    )


@st.composite
def workflow_specs(
    draw: st.DrawFn,
    *,
    max_steps: int = 4,
    max_fan_in: int = 2,
    services: Sequence[str] = SERVICES,
    behaviours: st.SearchStrategy[Behaviour] | None = None,
    routing: bool = True,
    compensated: st.SearchStrategy[bool] | None = None,
    idempotent: st.SearchStrategy[bool] | None = None,
    name: str = "generated",
) -> WorkflowSpec:
    """Workflow specs: DAGs of 1..``max_steps`` steps, each depending on up to ``max_fan_in``
    earlier ones, calling one of ``services`` (or nothing), with a behaviour and maybe a route.

    A correct workflow by default: every effect has a compensation and every service honours
    idempotency keys. Pass ``compensated=st.booleans()`` or ``idempotent=st.booleans()`` to
    generate the broken kinds too.
    """
    if max_steps < 1 or max_fan_in < 0:
        raise ScenarioDefinitionError(
            f"workflow_specs(max_steps={max_steps!r}, max_fan_in={max_fan_in!r}): need "
            "max_steps >= 1 and max_fan_in >= 0."
        )
    drafts = draw(
        st.lists(
            st.tuples(
                # Edges as distances back to earlier steps: deleting a step keeps the rest local.
                st.frozensets(st.integers(1, max_steps), max_size=max_fan_in),
                st.sampled_from([*services, None]),
                compensated if compensated is not None else st.just(True),
                idempotent if idempotent is not None else st.just(True),
                behaviours if behaviours is not None else step_behaviours(),
                st.none() | st.sampled_from(INPUT_FIELDS) if routing else st.none(),
            ),
            min_size=1,
            max_size=max_steps,
        )
    )
    steps = []
    for index, (back, service, undo, keyed, behaviour, when) in enumerate(drafts):
        after = tuple(f"s{index - k}" for k in sorted(back, reverse=True) if k <= index)
        steps.append(StepSpec(f"s{index}", after, service, undo, keyed, behaviour, when))
    return WorkflowSpec(tuple(steps), name)


def workflows(**options: Any) -> st.SearchStrategy[Workflow]:
    """Real orchestrator workflows built from :func:`workflow_specs` (same options)."""
    return workflow_specs(**options).map(build_workflow)


def workflow_inputs(
    spec: WorkflowSpec, *, max_runs: int = 2
) -> st.SearchStrategy[list[dict[str, Any]]]:
    """Inputs for 1..``max_runs`` runs of ``spec``: the flags its steps read, shrinking to false."""
    payload = st.fixed_dictionaries({flag: st.booleans() for flag in sorted(_flags_read(spec))})
    return st.lists(payload, min_size=1, max_size=max_runs)


def _flags_read(spec: WorkflowSpec) -> set[str]:
    return {s.when for s in spec.steps if s.when} | {
        s.behaviour.field for s in spec.steps if s.behaviour.field
    }


_OPTIONS = ("invariants", "workers", "lease_seconds", "heal_after", "progress_bound")


def _options(scenario_options: Mapping[str, Any]) -> dict[str, Any]:
    unknown = set(scenario_options) - set(_OPTIONS)
    if unknown:
        raise ScenarioDefinitionError(
            f"Generated scenarios take only the options {', '.join(_OPTIONS)}; not "
            f"{sorted(unknown)!r}."
        )
    return {k: list(v) if k == "invariants" else v for k, v in scenario_options.items()}


@st.composite
def generated_scenarios(
    draw: st.DrawFn,
    specs: st.SearchStrategy[WorkflowSpec] | None = None,
    *,
    max_faults: int = 2,
    max_runs: int = 2,
    name: str = "generated",
    **scenario_options: Any,
) -> Scenario:
    """Whole scenarios: a generated workflow, its inputs and a fault plan (maybe empty).

    The scenario's ``generated`` field carries the spec and the inputs, so its replay token
    rebuilds it (:func:`scenario_from_token`). ``scenario_options`` are Scenario options
    (``invariants``, ``workers``, ``lease_seconds``, ``heal_after``, ``progress_bound``).
    """
    options = _options(scenario_options)
    spec = draw(specs if specs is not None else workflow_specs())
    workflow = build_workflow(spec)
    payloads = draw(workflow_inputs(spec, max_runs=max_runs))
    plan = draw(fault_plans(workflow, max_faults=max_faults, min_faults=0))
    generated = {"workflow": spec.to_dict(), "inputs": payloads, "options": options}
    return Scenario(name, workflow, payloads, plan, seed=plan.seed, generated=generated, **options)


@st.composite
def scenarios_around(
    draw: st.DrawFn,
    workflow: Workflow,
    inputs: st.SearchStrategy[Sequence[Mapping[str, Any]]],
    *,
    max_faults: int = 2,
    name: str | None = None,
    **scenario_options: Any,
) -> Scenario:
    """Scenarios around a workflow of your own: generated inputs, faults and step behaviours.

    Behaviours come as step faults (a step fails a few times, or for good), so your steps' code
    stays as it is. The replay token carries the inputs; give the same workflow to
    :func:`scenario_from_token` to rebuild the case.
    """
    options = _options(scenario_options)
    payloads = [dict(p) for p in draw(inputs)]
    plan = draw(
        fault_plans(
            workflow, max_faults=max_faults, min_faults=0, step_faults=("transient", "permanent")
        )
    )
    generated = {"inputs": payloads, "options": options}
    return Scenario(
        name or workflow.name,
        workflow,
        payloads,
        plan,
        seed=plan.seed,
        generated=generated,
        **options,
    )


def scenario_from_token(token: str, *, workflow: Workflow | None = None) -> Scenario:
    """Rebuild the generated case a replay token names: its workflow (from the spec inside, or
    ``workflow`` for a workflow of your own), inputs, options, fault plan and seed."""
    decoded = decode_replay_token(token)
    generated = decoded.get("generated")
    if not isinstance(generated, Mapping):
        raise ScenarioDefinitionError(
            "This replay token carries no generated case (it names a scenario written by hand); "
            "replay it from its scenario file, or rerun that code with the token's seed and plan."
        )
    if "workflow" in generated:
        workflow = build_workflow(WorkflowSpec.from_dict(generated["workflow"]))
    elif workflow is None and "workflow_ref" in generated:
        # A case built in code (the pytest chaos fixture) around a module-level workflow.
        try:
            workflow = import_workflow(str(generated["workflow_ref"]))
        except OrchestratorError as error:
            raise ScenarioDefinitionError(f"Replay token: {error}") from None
    elif workflow is None:
        raise ScenarioDefinitionError(
            "This replay token was generated around a workflow of your own; pass it as "
            "scenario_from_token(token, workflow=...)."
        )
    plan = FaultPlan.from_dict(decoded["plan"], steps=list(workflow.order))
    options = dict(generated.get("options") or {})
    if "invariants" in options:
        options["invariants"] = tuple(options["invariants"])
    return Scenario(
        str(decoded["scenario"]),
        workflow,
        list(generated["inputs"]),
        plan,
        seed=int(decoded["seed"]),
        source=decoded.get("source"),
        generated=generated,
        **options,
    )


def simpler_scenarios(scenario: Scenario) -> Iterator[Scenario]:
    """Cases one notch simpler than ``scenario``, biggest cut first: a step fewer (with the
    faults that named it), a fault fewer, an input fewer, an edge fewer, a behaviour made ``ok``,
    a route dropped, seed 0. The search's last shrinking pass tries them in this order."""
    generated = dict(scenario.generated or {})
    raw = generated.get("workflow")
    spec = WorkflowSpec.from_dict(raw) if raw is not None else None
    faults = scenario.plan.faults
    if spec is not None and len(spec.steps) > 1:
        for gone in reversed(spec.steps):
            kept = [s for s in spec.steps if s is not gone]
            names = {s.name: f"s{i}" for i, s in enumerate(kept)}
            steps = tuple(
                replace(s, name=names[s.name], after=tuple(names[a] for a in s.after if a in names))
                for s in kept
            )
            yield _respecified(
                scenario,
                WorkflowSpec(steps, spec.name),
                tuple(
                    _renamed(f, names)
                    for f in faults
                    if (f.trigger.step or f.target) in (*names, None)
                ),
            )
    for index in reversed(range(len(faults))):
        yield _with(scenario, plan=faults[:index] + faults[index + 1 :])
    for index in reversed(range(len(scenario.inputs))):
        if len(scenario.inputs) > 1:
            yield _with(scenario, inputs=[*scenario.inputs[:index], *scenario.inputs[index + 1 :]])
    if spec is not None:
        read = _flags_read(spec)
        if any(set(p) - read for p in scenario.inputs):
            yield _with(
                scenario,
                inputs=[{k: v for k, v in p.items() if k in read} for p in scenario.inputs],
            )
        for index, step in enumerate(spec.steps):
            for dependency in step.after:
                cut = replace(step, after=tuple(a for a in step.after if a != dependency))
                yield _respecified(scenario, _swap(spec, index, cut), faults)
        for index, step in enumerate(spec.steps):
            if step.behaviour != Behaviour():
                yield _respecified(
                    scenario, _swap(spec, index, replace(step, behaviour=Behaviour())), faults
                )
            if step.when is not None:
                yield _respecified(scenario, _swap(spec, index, replace(step, when=None)), faults)
    if scenario.seed != 0 or scenario.plan.seed != 0:
        yield _with(scenario, seed=0)


def _swap(spec: WorkflowSpec, index: int, step: StepSpec) -> WorkflowSpec:
    return WorkflowSpec((*spec.steps[:index], step, *spec.steps[index + 1 :]), spec.name)


def _renamed(fault: Fault, names: Mapping[str, str]) -> Fault:
    trigger = fault.trigger
    if trigger.step is not None:
        trigger = replace(trigger, step=names[trigger.step])
    target = fault.target
    if fault.kind == "step" and target is not None:
        target = names[target]
    return replace(fault, trigger=trigger, target=target)


def _respecified(scenario: Scenario, spec: WorkflowSpec, faults: tuple[Fault, ...]) -> Scenario:
    generated = {**(scenario.generated or {}), "workflow": spec.to_dict()}
    return replace(
        scenario,
        workflow=build_workflow(spec),
        plan=FaultPlan(faults, scenario.plan.seed),
        generated=generated,
    )


def _with(
    scenario: Scenario,
    *,
    plan: tuple[Fault, ...] | None = None,
    inputs: list[Mapping[str, Any]] | None = None,
    seed: int | None = None,
) -> Scenario:
    generated = None if scenario.generated is None else dict(scenario.generated)
    if inputs is not None:
        generated = {**(generated or {}), "inputs": [dict(p) for p in inputs]}
    new_plan = scenario.plan if plan is None else FaultPlan(plan, scenario.plan.seed)
    if seed is not None:
        new_plan = new_plan.with_seed(seed)
    return replace(
        scenario,
        plan=new_plan,
        seed=new_plan.seed,
        inputs=scenario.inputs if inputs is None else inputs,
        generated=generated,
    )


def describe_scenario(scenario: Scenario, outcome: ScenarioOutcome | None = None) -> str:
    """The case as YAML a person can read: steps with edges, compensations and behaviours; the
    inputs; the faults; the seed; the anomalies found (given ``outcome``); the replay token."""
    generated = scenario.generated or {}
    spec = generated.get("workflow")
    steps: Any = (
        WorkflowSpec.from_dict(spec).describe()
        if spec is not None
        else {
            name: {"after": list(scenario.workflow.dependencies(name))}
            for name in scenario.workflow.order
        }
    )
    document: dict[str, Any] = {
        "scenario": scenario.name,
        "workflow": {"name": scenario.workflow.name, "steps": steps},
        "inputs": [dict(p) for p in scenario.inputs],
        "faults": [fault.describe() for fault in scenario.plan.faults],
        "seed": scenario.seed,
    }
    if outcome is not None:
        document["verdict"] = str(outcome.verdict)
        document["anomalies"] = [
            {"kind": a.kind, "run": a.run_id, "steps": list(a.steps), "detail": a.detail}
            for a in outcome.judgement.anomalies
        ]
    document["replay_token"] = scenario.replay_token()
    # Steps and inputs one line each; faults and anomalies as lists a person reads down.
    return "".join(
        yaml.safe_dump(
            {key: value},
            sort_keys=False,
            default_flow_style=None if key in ("workflow", "inputs", "anomalies") else False,
            width=10_000,
        )
        for key, value in document.items()
    )

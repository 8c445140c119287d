"""Workflow definitions: a named, versioned DAG of steps, validated when it is defined."""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import networkx as nx

from ._adaptive import Concurrency
from ._breaker import CircuitBreaker
from ._canary import Canary, check_canary
from ._clock import Clock
from ._errors import ContractViolation, DefinitionError, SerializationError, StepTimeout
from ._failures import qualified_name, resolve_error_type
from ._fallbacks import Fallback, standby_steps
from ._priorities import check_priority
from ._rate_limits import RateLimit
from ._routing import Condition
from ._stall import Stall

NAME_LENGTH = 128  # what the store's name columns hold (cf_runs.workflow, cf_steps.step)

# Failures whose effect may stand (the action ran, or may have): no declaration makes them
# definite, so a type that covers one of them cannot be declared definite.
_NEVER_DEFINITE = (StepTimeout, SerializationError, ContractViolation)


@dataclass(frozen=True)
class StepContext:
    """What a step's action or compensation is told about the call it is serving."""

    run_id: str
    workflow: str
    step: str
    attempt: int
    purpose: str  # "action" or "compensation"
    # Stable across retries, crashes and recoveries of the same step and purpose, so that a
    # service receiving it can apply the effect once.
    idempotency_key: str
    input: Mapping[str, Any]
    results: Mapping[str, Any]  # outputs of the steps this run has completed so far
    correlation_id: str | None
    clock: Clock


Action = Callable[[StepContext], Any]


@dataclass(frozen=True)
class RetryPolicy:
    """How a failing step is retried: capped exponential backoff with full jitter."""

    max_attempts: int = 3
    initial_interval: float = 0.1
    backoff_coefficient: float = 2.0
    max_interval: float = 10.0
    jitter: bool = True
    non_retryable: tuple[type[BaseException], ...] = ()

    def __post_init__(self) -> None:
        problems = []
        if self.max_attempts < 1:
            problems.append(f"max_attempts={self.max_attempts!r} must be at least 1")
        if self.initial_interval < 0:
            problems.append(f"initial_interval={self.initial_interval!r} must be >= 0")
        if self.backoff_coefficient < 1:
            problems.append(f"backoff_coefficient={self.backoff_coefficient!r} must be >= 1")
        if self.max_interval < self.initial_interval:
            problems.append(
                f"max_interval={self.max_interval!r} must be >= "
                f"initial_interval={self.initial_interval!r}"
            )
        if problems:
            raise DefinitionError(
                "RetryPolicy is invalid: " + "; ".join(problems) + ". Fix these values."
            )

    def delay(self, attempt: int, rng: random.Random) -> float:
        """Seconds to wait before attempt ``attempt + 1``, after attempt ``attempt`` failed."""
        ceiling = self.max_interval
        if self.initial_interval < self.max_interval:
            # In logarithms: the thousandth retry of a storm must not overflow a float.
            growth = (attempt - 1) * math.log(self.backoff_coefficient)
            if growth < math.log(self.max_interval / self.initial_interval):
                ceiling = self.initial_interval * math.exp(growth)
        return rng.uniform(0, ceiling) if self.jitter else ceiling

    def retryable(self, error: BaseException) -> bool:
        """Whether ``error`` may be retried at all under this policy."""
        return not isinstance(error, self.non_retryable)


@dataclass(frozen=True)
class Step:
    """One step: an action, an optional compensation, and when and how it runs."""

    name: str
    action: Action | None = None
    compensation: Action | None = None
    after: tuple[str, ...] = ()
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    compensation_retry: RetryPolicy = field(default_factory=RetryPolicy)
    timeout: float | None = None
    breaker: CircuitBreaker | None = None
    # Run the step only when this holds once its dependencies have settled; else skip it.
    when: Condition | None = None
    # Run this workflow as a child run in place of an action; its failure fails the step.
    subworkflow: Workflow | None = None
    # Contracts checked at run time: a broken one fails the step for good (no retry).
    precondition: Callable[[StepContext], bool] | None = None
    postcondition: Callable[[StepContext, Any], bool] | None = None
    # Exception types (or their 'module.Name') that mean the service refused, so the action
    # applied nothing: a step failing with one is not compensated. BusinessError always is.
    definite_errors: tuple[type[BaseException] | str, ...] = ()
    # The step to run in this one's place when it fails for good as declared (a second carrier
    # when the first is down); see ``_fallbacks``.
    fallback: Fallback | None = None
    # A token from this shared limit's bucket before each call of the action; see
    # ``_rate_limits``.
    rate_limit: RateLimit | None = None
    # A deadline for the child run of a sub-workflow step, and what to do when it passes; see
    # ``_stall``.
    stall: Stall | None = None
    # A slot of this dependency's adaptive limit on calls in flight (per process) before each
    # call of the action; see ``_adaptive``.
    concurrency: Concurrency | None = None

    def __post_init__(self) -> None:
        if not self.name or not self.name.replace("_", "").replace("-", "").isalnum():
            raise DefinitionError(
                f"Step name={self.name!r} is not a valid name: use letters, digits, '_' or '-'."
            )
        if len(self.name) > NAME_LENGTH:
            raise DefinitionError(
                f"Step name={self.name[:20]!r}... is {len(self.name)} characters; the store "
                f"holds {NAME_LENGTH}. Choose a shorter name."
            )
        if (self.action is None) == (self.subworkflow is None):
            raise DefinitionError(
                f"Step {self.name!r} needs exactly one of action=... or subworkflow=...; "
                f"it has {'both' if self.action is not None else 'neither'}."
            )
        if self.action is not None and not callable(self.action):
            raise DefinitionError(f"Step {self.name!r}: action={self.action!r} is not callable.")
        if self.subworkflow is not None and not isinstance(self.subworkflow, Workflow):
            raise DefinitionError(
                f"Step {self.name!r}: subworkflow={self.subworkflow!r} is not a Workflow."
            )
        if self.compensation is not None and not callable(self.compensation):
            raise DefinitionError(
                f"Step {self.name!r}: compensation={self.compensation!r} is not callable."
            )
        if self.timeout is not None and self.timeout <= 0:
            raise DefinitionError(
                f"Step {self.name!r}: timeout={self.timeout!r} must be a positive number of "
                "seconds, or None for no timeout."
            )
        if self.fallback is not None and not isinstance(self.fallback, Fallback):
            raise DefinitionError(
                f"Step {self.name!r}: fallback={self.fallback!r} is not a Fallback; write "
                "fallback=Fallback('other_step', on=('definite', 'timeout'))."
            )
        if self.rate_limit is not None and not isinstance(self.rate_limit, RateLimit):
            raise DefinitionError(
                f"Step {self.name!r}: rate_limit={self.rate_limit!r} is not a RateLimit; write "
                "rate_limit=RateLimit('payment-api', rate=10, burst=2)."
            )
        if self.concurrency is not None and not isinstance(self.concurrency, Concurrency):
            raise DefinitionError(
                f"Step {self.name!r}: concurrency={self.concurrency!r} is not a Concurrency; "
                "write concurrency=Concurrency('payment-api', max=8, latency_target=0.5)."
            )
        if self.stall is not None and (
            not isinstance(self.stall, Stall) or self.subworkflow is None
        ):
            raise DefinitionError(
                f"Step {self.name!r}: stall={self.stall!r} needs a Stall on a sub-workflow step "
                "(a deadline for its child run); an action step has timeout=... instead."
            )
        if (
            self.stall is not None
            and self.stall.policy == "fallback"
            and (self.fallback is None or "timeout" not in self.fallback.on)
        ):
            raise DefinitionError(
                f"Step {self.name!r}: stall policy 'fallback' takes the step's fallback when its "
                "child run stalls, but the step declares no fallback for 'timeout'. Add "
                "fallback=Fallback('other_step', on='timeout'), or use policy='cancel'."
            )
        if isinstance(self.after, str):
            # A lone string would be read as a tuple of characters.
            object.__setattr__(self, "after", (self.after,))
        object.__setattr__(self, "definite_errors", self._definite_types())

    def _definite_types(self) -> tuple[type[BaseException], ...]:
        declared = self.definite_errors
        if isinstance(declared, str | type):
            declared = (declared,)
        found: list[type[BaseException]] = []
        for item in declared:
            kind = resolve_error_type(item) if isinstance(item, str) else item
            if not (isinstance(kind, type) and issubclass(kind, Exception)):
                raise DefinitionError(
                    f"Step {self.name!r}: definite_errors contains {item!r}, which is not an "
                    "Exception subclass. Declare the exception types that mean the service "
                    "refused (e.g. definite_errors=(CardDeclined,))."
                )
            covered = [qualified_name(e) for e in _NEVER_DEFINITE if issubclass(e, kind)]
            if covered:
                raise DefinitionError(
                    f"Step {self.name!r}: definite_errors contains {qualified_name(kind)!r}, "
                    f"which covers {', '.join(covered)}: a step that timed out or whose action "
                    "ran may have applied its effect, so it must be compensated. Declare the "
                    "narrower types the service raises when it refuses."
                )
            if self.subworkflow is not None:
                raise DefinitionError(
                    f"Step {self.name!r} runs a sub-workflow, whose failure is its child run's "
                    "rollback: definite_errors does not apply. Declare them on the child's steps."
                )
            found.append(kind)
        return tuple(found)

    @property
    def definite_error_names(self) -> tuple[str, ...]:
        """The declared definite error types by qualified name: the serialisable form."""
        return tuple(qualified_name(kind) for kind in self.definite_errors)  # type: ignore[arg-type]


class Workflow:
    """A named, versioned DAG of steps, held as a networkx graph and validated on creation."""

    def __init__(
        self,
        name: str,
        steps: Iterable[Step],
        *,
        version: int = 1,
        retry_budget: int | None = None,
        priority: int = 0,
        stall: Stall | None = None,
        canary: Canary | None = None,
    ) -> None:
        self.name = name
        self.version = version
        # This version takes a share of new runs from an older one until it fails too often
        # (see ``_canary``). Not part of the fingerprint: it says where new runs go, not how a
        # run goes, so dropping it (promoting the version) keeps the same definition.
        self.canary = check_canary(canary, name, version)
        # The priority of its runs unless a submit says otherwise (see ``_priorities``).
        self.priority = check_priority(priority, f"Workflow {name!r} v{version}")
        if stall is not None and not isinstance(stall, Stall):
            raise DefinitionError(
                f"Workflow {name!r} v{version}: stall={stall!r} is not a Stall; write "
                "stall=Stall(after=600, policy='cancel')."
            )
        if stall is not None and stall.policy == "fallback":
            raise DefinitionError(
                f"Workflow {name!r} v{version}: stall policy 'fallback' needs a step to take "
                "the place of a stalled child run; declare it on the sub-workflow step "
                "(Step(subworkflow=..., stall=Stall(..., policy='fallback'), fallback=...)). A "
                "run's own stall can be 'cancel' or 'escalate'."
            )
        # A deadline for each of its runs (a child run: its step's, if the step declares one).
        self.stall = stall
        if not isinstance(name, str) or not name or len(name) > NAME_LENGTH or "\x00" in name:
            raise DefinitionError(
                f"Workflow name={name!r} must be 1 to {NAME_LENGTH} characters without NUL "
                "(what the store's columns hold). Choose another name."
            )
        if retry_budget is not None and retry_budget < 0:
            raise DefinitionError(
                f"Workflow {name!r} v{version}: retry_budget={retry_budget!r} must be >= 0, or "
                "None for no budget beyond each step's own retry policy."
            )
        # Retries all steps of one run may spend together, so a retry storm cannot run away.
        self.retry_budget = retry_budget
        self.steps: dict[str, Step] = {}
        for step in steps:
            if step.name in self.steps:
                raise DefinitionError(
                    f"Workflow {name!r} v{version}: step {step.name!r} is defined twice. "
                    "Give each step a unique name."
                )
            self.steps[step.name] = step
        if not self.steps:
            raise DefinitionError(f"Workflow {name!r} v{version} has no steps. Add at least one.")
        self.graph: nx.DiGraph = nx.DiGraph()
        self.graph.add_nodes_from(self.steps)
        for step in self.steps.values():
            for dependency in step.after:
                if dependency not in self.steps:
                    raise DefinitionError(
                        f"Workflow {name!r} v{version}: step {step.name!r} depends on "
                        f"{dependency!r}, which is not defined. Define it or remove it from "
                        "after=[...]."
                    )
                self.graph.add_edge(dependency, step.name)
        # Fallback steps on standby, each with its primary. In the graph a fallback comes after
        # its primary and before the primary's dependents, so those wait for whichever ran and
        # a rollback undoes them before either.
        self.standby: dict[str, str] = standby_steps(name, version, self.steps)
        for alternative, primary in self.standby.items():
            self.graph.add_edge(primary, alternative)
            for dependent in [s for s in self.steps.values() if primary in s.after]:
                self.graph.add_edge(alternative, dependent.name)
        try:
            cycle = nx.find_cycle(self.graph)
        except nx.NetworkXNoCycle:
            cycle = None
        if cycle:
            path = " -> ".join([edge[0] for edge in cycle] + [cycle[0][0]])
            raise DefinitionError(
                f"Workflow {name!r} v{version} has a cycle: {path}. A workflow must be a DAG; "
                "remove one of these dependencies."
            )
        self.order: tuple[str, ...] = tuple(nx.lexicographical_topological_sort(self.graph))
        nested = self._nested_names()
        if name in nested:
            raise DefinitionError(
                f"Workflow {name!r} v{version} contains itself as a sub-workflow, which would "
                "never end. Remove the recursion."
            )
        for step in self.steps.values():
            if step.when is None:
                continue
            unknowable = step.when.steps_read() - nx.ancestors(self.graph, step.name)
            if unknowable:
                raise DefinitionError(
                    f"Workflow {name!r} v{version}: the condition of step {step.name!r} reads the "
                    f"results of {sorted(unknowable)!r}, which do not run before it. Add them to "
                    "its after=[...] (directly or through other steps)."
                )

    def _nested_names(self) -> set[str]:
        names: set[str] = set()
        for step in self.steps.values():
            if step.subworkflow is not None:
                names |= {step.subworkflow.name} | step.subworkflow._nested_names()
        return names

    def subworkflows(self) -> list[Workflow]:
        """Every workflow nested in this one, depth first."""
        found: list[Workflow] = []
        for step in self.steps.values():
            if step.subworkflow is not None:
                found += [step.subworkflow, *step.subworkflow.subworkflows()]
        return found

    @property
    def key(self) -> tuple[str, int]:
        """The registry key: (name, version)."""
        return (self.name, self.version)

    def dependencies(self, step: str) -> tuple[str, ...]:
        """The steps ``step`` waits for."""
        return tuple(self.graph.predecessors(step))

    def dependents(self, step: str) -> tuple[str, ...]:
        """The steps that wait for ``step``."""
        return tuple(self.graph.successors(step))

    def roots(self) -> tuple[str, ...]:
        """The steps that depend on nothing, in a stable order."""
        return tuple(s for s in self.order if self.graph.in_degree(s) == 0)

    def fingerprint(self) -> str:
        """A description of the shape, to tell two definitions under one key apart."""
        parts = [
            f"{name}<{','.join(sorted(step.after))}>{'c' if step.compensation else ''}"
            f"{step.when.to_dict() if step.when else ''}"
            f"{'/' + step.subworkflow.fingerprint() if step.subworkflow else ''}"
            f"{'!' + ','.join(step.definite_error_names) if step.definite_errors else ''}"
            f"{'~' + step.fallback.step + ','.join(step.fallback.on) if step.fallback else ''}"
            f"{'$' + repr(sorted(step.rate_limit.to_dict().items())) if step.rate_limit else ''}"
            f"{'@' + repr(sorted(step.stall.to_dict().items())) if step.stall else ''}"
            f"{'%' + repr(sorted(step.concurrency.to_dict().items())) if step.concurrency else ''}"
            for name, step in sorted(self.steps.items())
        ]
        return ";".join(parts)

    def __repr__(self) -> str:
        return f"Workflow(name={self.name!r}, version={self.version}, steps={list(self.order)})"

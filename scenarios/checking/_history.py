"""A history: what the orchestrator logged and, independently, what the services saw."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Protocol

from orchestrator import TERMINAL_RUN_STATES, Orchestrator, RunState, RunStatus, Workflow

from ..effects import Effect


class LoggedEvent(Protocol):
    """What checkers read of an orchestrator event-log entry."""

    @property
    def seq(self) -> int: ...
    @property
    def run_id(self) -> str: ...
    @property
    def step(self) -> str | None: ...
    @property
    def kind(self) -> str: ...
    @property
    def at(self) -> float: ...


@dataclass(frozen=True)
class FaultWindow:
    """When an injected fault was in force: from ``start`` to ``end`` (None: to the end).

    A crash is an instant (``start == end``); checkers use windows to tell a failure the fault
    caused from one the workflow caused on its own.
    """

    kind: str
    target: str
    start: float
    end: float | None
    purpose: str | None = None  # a step fault's: action or compensation

    def covers(self, at: float) -> bool:
        """Whether the fault was in force at ``at``."""
        return self.start <= at and (self.end is None or at <= self.end)


# The events that end a run, one per terminal run state; every end but completion is a rollback.
TERMINAL_RUN_EVENTS = tuple(sorted(f"run_{state}" for state in TERMINAL_RUN_STATES))
ROLLBACK_END_EVENTS = tuple(e for e in TERMINAL_RUN_EVENTS if e != f"run_{RunState.COMPLETED}")


@dataclass(frozen=True)
class History:
    """Everything checkers may read about one scenario's execution."""

    events: Sequence[LoggedEvent]
    effects: Sequence[Effect]
    # Run ids whose submission the orchestrator acknowledged to the client.
    acknowledged: Sequence[str] = ()
    # Which steps have a compensation, per workflow name (the definition, not the store).
    compensable: Mapping[str, frozenset[str]] = field(default_factory=dict)
    meta: Mapping[str, Any] = field(default_factory=dict)
    # Each step's direct dependencies, per workflow name (from the definitions).
    dependencies: Mapping[str, Mapping[str, frozenset[str]]] = field(default_factory=dict)
    # The workflow each run belongs to.
    run_workflows: Mapping[str, str] = field(default_factory=dict)
    # The time by which every acknowledged run must have ended (faults healed + the progress
    # bound); None when the history states no bound, and only the end of the log counts.
    progress_deadline: float | None = None
    # The faults injected, as windows in time (on the orchestrator's clock).
    faults: Sequence[FaultWindow] = ()

    @classmethod
    def observe(
        cls,
        orchestrator: Orchestrator,
        effects: Sequence[Effect],
        acknowledged: Sequence[str] = (),
        *,
        workflows: Iterable[Workflow] = (),
        progress_deadline: float | None = None,
        meta: Mapping[str, Any] | None = None,
        runs: Sequence[RunStatus] | None = None,
        faults: Sequence[FaultWindow] = (),
    ) -> History:
        """The history of ``orchestrator``'s runs, judged against what the services saw.

        The definitions come from ``workflows`` and the orchestrator's registry; the run-to-
        workflow map from its store (``runs``, when the caller has read them already). Effects
        and acknowledgements come from outside it.
        """
        by_id = {run.run_id: run for run in (orchestrator.runs() if runs is None else runs)}
        definitions: dict[str, Workflow] = {w.name: w for w in workflows}
        for run in by_id.values():
            if run.workflow not in definitions and (run.workflow, run.version) in (
                orchestrator.registry
            ):
                definitions[run.workflow] = orchestrator.registry.get(run.workflow, run.version)
        return cls(
            events=orchestrator.events(),
            effects=effects,
            acknowledged=tuple(acknowledged),
            compensable={
                name: frozenset(n for n, s in w.steps.items() if s.compensation)
                for name, w in definitions.items()
            },
            meta=dict(meta or {}),
            dependencies={
                name: {step: frozenset(w.dependencies(step)) for step in w.order}
                for name, w in definitions.items()
            },
            run_workflows={run_id: run.workflow for run_id, run in by_id.items()},
            progress_deadline=progress_deadline,
            faults=tuple(faults),
        )

    # Derived views, computed once: checkers ask for them per run and per anomaly, and a history
    # is never changed once built.

    @cached_property
    def _by_run(self) -> dict[str, list[LoggedEvent]]:
        grouped: dict[str, list[LoggedEvent]] = defaultdict(list)
        for event in sorted(self.events, key=lambda e: e.seq):
            grouped[event.run_id].append(event)
        return dict(grouped)

    @cached_property
    def _parents(self) -> dict[str, str]:
        found: dict[str, str] = {}
        for event in self.events:
            parent = event_detail(event).get("parent") if event.kind == "run_submitted" else None
            if isinstance(parent, Mapping) and "run_id" in parent:
                found[event.run_id] = str(parent["run_id"])
        return found

    @cached_property
    def _definite(self) -> dict[tuple[str, str], LoggedEvent]:
        found: dict[tuple[str, str], LoggedEvent] = {}
        for event in self.events:
            if (
                event.kind == "step_failed"
                and event.step is not None
                and event_detail(event).get("definite") is True
            ):
                found[(event.run_id, event.step)] = event
        return found

    def definite_failure(self, run_id: str, step: str) -> LoggedEvent | None:
        """The event that failed ``step`` definitely (the service refused), or None.

        A definitely failed step applied nothing, so it is never to be compensated; an
        indeterminate failure (timeout, lost connection, crash) is.
        """
        return self._definite.get((run_id, step))

    def events_by_run(self) -> dict[str, list[LoggedEvent]]:
        """The event log grouped by run, each in log order."""
        return self._by_run

    def terminal_event(self, run_id: str) -> LoggedEvent | None:
        """The event that ended the run, or None if the log shows no end."""
        for event in reversed(self._by_run.get(run_id, [])):
            if event.kind in TERMINAL_RUN_EVENTS:
                return event
        return None

    def dependencies_of(self, run_id: str) -> Mapping[str, frozenset[str]]:
        """Each step's direct dependencies in the run's workflow; empty when not known."""
        return self.dependencies.get(self.run_workflows.get(run_id, ""), {})

    def parents(self) -> dict[str, str]:
        """Each child run's parent run, as the log recorded the child's submission."""
        return self._parents

    def family(self, run_id: str) -> list[str]:
        """``run_id`` and every run it started, directly or through its children."""
        children: dict[str, list[str]] = defaultdict(list)
        for child, parent in self._parents.items():
            children[parent].append(child)
        family, todo = [], [run_id]
        while todo:
            current = todo.pop()
            family.append(current)
            todo.extend(sorted(children.get(current, ())))
        return family

    def faults_in_force(
        self, at: float, *, compensation_of: str | None = None
    ) -> list[FaultWindow]:
        """The faults (other than instant crashes) in force at ``at``; with ``compensation_of``
        only those that could hit that step's compensation (a step fault on an action cannot)."""
        return [
            f
            for f in self.faults
            if f.kind != "crash"
            and f.covers(at)
            and not (
                compensation_of is not None
                and f.kind == "step"
                and (f.purpose != "compensation" or f.target not in (compensation_of, "-"))
            )
        ]

    def seqs(self, run_id: str, step: str | None = None) -> tuple[int, ...]:
        """Sequence numbers of a run's events (of one step, if given)."""
        return tuple(e.seq for e in self._by_run.get(run_id, []) if step is None or e.step == step)


def event_detail(event: LoggedEvent) -> Mapping[str, Any]:
    """An event's detail, or nothing for logs that carry none."""
    detail = getattr(event, "detail", None)
    return detail if isinstance(detail, Mapping) else {}

"""The orchestrator's Python API: register, submit, inspect, wait, and make workers."""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ._clock import Clock, SystemClock
from ._definition import Workflow
from ._errors import SerializationError, UnknownRun
from ._hooks import HookEvent, HookPoint, Hooks
from ._registry import WorkflowRegistry
from ._retry import db_retry
from ._runs import cancel_run, create_run
from ._statements import unfinished_runs
from ._states import TERMINAL_RUN_STATES, RunState, StepState
from ._store import EventRow, Store
from ._worker import Worker


@dataclass(frozen=True)
class RunStatus:
    """A run as the store knows it."""

    run_id: str
    workflow: str
    version: int
    state: RunState
    steps: Mapping[str, StepState]
    outputs: Mapping[str, Any]
    correlation_id: str | None
    created_at: float
    updated_at: float
    # Each routed step's condition, as data (empty when this process does not know the version).
    routes: Mapping[str, Any] = field(default_factory=dict)

    @property
    def terminal(self) -> bool:
        """Whether the run has ended (completed, compensated or compensation_failed)."""
        return self.state in TERMINAL_RUN_STATES

    def to_dict(self) -> dict[str, Any]:
        """The status as JSON-ready data."""
        return {
            "run_id": self.run_id,
            "workflow": self.workflow,
            "version": self.version,
            "state": str(self.state),
            "steps": {k: str(v) for k, v in self.steps.items()},
            "outputs": dict(self.outputs),
            "correlation_id": self.correlation_id,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
            "routes": dict(self.routes),
        }


class Orchestrator:
    """A durable orchestrator over one store: the entry point of the Python API."""

    def __init__(
        self,
        store: Store | str,
        *,
        clock: Clock | None = None,
        hooks: Hooks | None = None,
        create_schema: bool = True,
    ) -> None:
        self.store = Store(store) if isinstance(store, str) else store
        self.clock = clock or SystemClock()
        self.hooks = hooks or Hooks()
        self.registry = WorkflowRegistry()
        if create_schema:
            self.store.create_schema()

    def register(self, *workflows: Workflow) -> None:
        """Make ``workflows`` known to this process, for submission and for its workers."""
        for workflow in workflows:
            self.registry.register(workflow)

    def submit(
        self,
        workflow: str | Workflow,
        input: Mapping[str, Any] | None = None,
        *,
        run_id: str | None = None,
        correlation_id: str | None = None,
    ) -> str:
        """Start a run and return its id; submitting an existing ``run_id`` again is a no-op."""
        definition = (
            self.registry.register(workflow)
            if isinstance(workflow, Workflow)
            else self.registry.get(workflow)
        )
        payload = dict(input or {})
        try:
            json.dumps(payload)
        except (TypeError, ValueError) as error:
            raise SerializationError(
                f"The input of workflow {definition.name!r} cannot be stored as JSON ({error}). "
                "Pass JSON-serialisable data (dict, list, str, int, float, bool, None)."
            ) from None
        run_id = run_id or uuid.uuid4().hex
        now = self.clock.now()
        created = self._create(definition, run_id, payload, now, correlation_id)
        if created:
            self.hooks.fire(
                HookEvent(
                    HookPoint.RUN_SUBMITTED,
                    run_id,
                    definition.name,
                    None,
                    0,
                    "client",
                    now,
                    correlation_id,
                )
            )
        return run_id

    @db_retry()
    def _create(
        self,
        definition: Workflow,
        run_id: str,
        payload: Mapping[str, Any],
        now: float,
        correlation_id: str | None,
    ) -> bool:
        # Idempotent on run_id, so a retry after a lost acknowledgement creates nothing twice.
        with self.store.transaction() as tx:
            return create_run(
                tx, self.registry, definition, run_id, payload, now, correlation_id=correlation_id
            )

    def status(self, run_id: str) -> RunStatus:
        """The run's current state; raises UnknownRun for an id the store does not know."""
        run = self.store.run(run_id)
        if run is None:
            raise UnknownRun(
                f"Run {run_id!r} is not in the store at this URL. Check the id (it is printed by "
                "submit) and that you point at the same database."
            )
        rows = self.store.step_rows(run_id)
        return RunStatus(
            run.run_id,
            run.workflow,
            run.version,
            RunState(run.state),
            {row["step"]: StepState(row["state"]) for row in rows},
            {row["step"]: json.loads(row["output"]) for row in rows if row["output"] is not None},
            run.correlation_id,
            run.created_at,
            run.updated_at,
            self._routes(run.workflow, run.version),
        )

    def _routes(self, name: str, version: int) -> dict[str, Any]:
        if (name, version) not in self.registry:
            return {}
        workflow = self.registry.get(name, version)
        return {n: s.when.to_dict() for n, s in workflow.steps.items() if s.when is not None}

    def cancel(self, run_id: str, *, reason: str = "") -> RunStatus:
        """Cancel a running run: steps not started are skipped, the rest are compensated.

        Raises IllegalTransition when the run has already ended or is already rolling back.
        """
        now = self.clock.now()
        with self.store.transaction() as tx:
            run = tx.run(run_id)
            if run is None:
                raise UnknownRun(f"Run {run_id!r} is not in the store; nothing to cancel.")
            finished = cancel_run(tx, self.registry, run_id, now, "client", reason=reason)
        if finished:
            self.hooks.fire(
                HookEvent(
                    HookPoint.RUN_FINISHED,
                    run_id,
                    run.workflow,
                    None,
                    0,
                    "client",
                    now,
                    run.correlation_id,
                )
            )
        return self.status(run_id)

    def runs(self) -> list[RunStatus]:
        """Every run in the store, oldest first."""
        return [self.status(row.run_id) for row in self.store.runs()]

    def events(self, run_id: str | None = None, after_seq: int = 0) -> list[EventRow]:
        """The event log, for one run or all, after ``after_seq``."""
        return self.store.events(run_id, after_seq)

    def unfinished_runs(self) -> int:
        """How many runs have not reached a terminal state."""
        query = unfinished_runs(str(s) for s in TERMINAL_RUN_STATES)
        with self.store.reading() as conn:
            return int(conn.execute(query).scalar_one())

    def worker(self, **settings: Any) -> Worker:
        """A worker over this orchestrator's store, registry, clock and hooks."""
        settings.setdefault("clock", self.clock)
        settings.setdefault("hooks", self.hooks)
        return Worker(self.store, self.registry, **settings)

    def run_until_quiet(self, *, max_seconds: float = 60.0, **settings: Any) -> int:
        """Run one worker until every run is terminal or ``max_seconds`` pass; steps handled."""
        worker = self.worker(**settings)
        return worker.run(max_seconds=max_seconds, stop_when=lambda: self.unfinished_runs() == 0)

    def wait(self, run_id: str, *, timeout: float = 30.0, poll: float = 0.05) -> RunStatus:
        """Poll until the run is terminal or ``timeout`` passes; returns the last status."""
        deadline = self.clock.now() + timeout
        while True:
            status = self.status(run_id)
            if status.terminal or self.clock.now() >= deadline:
                return status
            self.clock.sleep(poll)

"""The orchestrator's Python API: register, submit, inspect, wait, and make workers."""

from __future__ import annotations

import hashlib
import json
import logging
import uuid
from collections.abc import Mapping
from typing import Any

from ._adaptive import Saturation
from ._canary import route_submit
from ._clock import Clock, SystemClock
from ._definition import Workflow
from ._errors import (
    DefinitionError,
    RunConflict,
    SerializationError,
    StoreUnavailable,
    UnknownRun,
)
from ._group_commit import shares_commits
from ._hooks import HookEvent, HookPoint, Hooks
from ._priorities import check_priority
from ._registry import WorkflowRegistry
from ._retry import db_retry
from ._runs import cancel_run, create_run
from ._schema import ID_LENGTH
from ._statements import unfinished_runs
from ._states import TERMINAL_RUN_STATES, RunState
from ._status import DEFAULT_PAGE, RunPage, RunStatus, list_runs, status_from_rows, step_patterns
from ._store import EventRow, Store
from ._worker import Worker

# How long a worker started before its store waits for it, and its backoff between tries.
STORE_WAIT_SECONDS = 60.0
STORE_WAIT_INITIAL = 0.5
STORE_WAIT_CAP = 5.0

log = logging.getLogger("chaosflow.orchestrator")


def store_wait_delays(max_seconds: float) -> list[float]:
    """The pauses between tries to reach a store within ``max_seconds``: 0.5 s doubling to 5 s.

    A pure function, so the schedule is tested and documented once: for the default minute it
    is 0.5, 1, 2, 4, then 5 s until the minute is spent (15 tries).
    """
    delays: list[float] = []
    delay, spent = STORE_WAIT_INITIAL, 0.0
    while spent + delay <= max_seconds:
        delays.append(delay)
        spent += delay
        delay = min(delay * 2, STORE_WAIT_CAP)
    return delays


def input_digest(payload: Mapping[str, Any]) -> str:
    """The SHA-256 of a run input as canonical JSON (sorted keys): how conflicts name inputs."""
    canonical = json.dumps(dict(payload), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


class Orchestrator:
    """A durable orchestrator over one store: the entry point of the Python API."""

    def __init__(
        self,
        store: Store | str,
        *,
        clock: Clock | None = None,
        hooks: Hooks | None = None,
        create_schema: bool = True,
        must_exist: bool = False,
        concurrency: int = 1,
        group_commit: bool | None = None,
    ) -> None:
        """Open the store at ``store`` (a URL or a :class:`Store`).

        ``concurrency`` says how many workers this process runs on a store opened from a URL
        (:class:`WorkerPool`): on SQLite several share commits (group commit, as
        ``group_commit=True`` forces anywhere), on PostgreSQL each keeps a connection of its own
        (the server already shares WAL flushes between connections, and one shared connection
        would serialise their round trips: see ``docs/performance.md``).

        The schema is created when missing (``create_schema``) and an older one migrated; with
        ``must_exist=True`` a store that does not exist raises :class:`StoreNotFound` instead of
        being created, which is what reading commands (status, runs, events) want.
        """
        if isinstance(store, str):
            shared = shares_commits(store, concurrency) if group_commit is None else group_commit
            self.store = Store(store, group_commit=shared, connections=max(5, concurrency + 2))
        else:
            self.store = store
        self.clock = clock or SystemClock()
        self.hooks = hooks or Hooks()
        self.registry = WorkflowRegistry()
        # This process's workers and adaptive concurrency limits, shared by every worker made
        # here (see ``_adaptive``): what ``health()`` reports.
        self.saturation = Saturation()
        if create_schema or must_exist:
            try:
                self.store.create_schema(create=not must_exist)
            except BaseException:
                if isinstance(store, str):
                    self.store.dispose()  # ours: close what the failed try opened
                raise

    @classmethod
    def open_waiting(
        cls,
        url: str,
        *,
        wait_seconds: float = STORE_WAIT_SECONDS,
        clock: Clock | None = None,
        **settings: Any,
    ) -> Orchestrator:
        """Open the store at ``url``, waiting up to ``wait_seconds`` for it to be reachable.

        For a worker started before its database (a container that comes up later, a restart):
        :class:`StoreUnavailable` is retried on :func:`store_wait_delays`' schedule, each retry
        logged; once the wait is spent the last one is raised. Other errors (a bad URL, a newer
        schema) are raised at once: waiting cannot cure them.
        """
        waiting = clock or SystemClock()
        for delay in [*store_wait_delays(wait_seconds), None]:
            try:
                return cls(url, clock=clock, **settings)
            except StoreUnavailable as error:
                if delay is None:
                    raise
                log.warning("store unreachable, retrying in %.1fs: %s", delay, error)
                waiting.sleep(delay)
        raise AssertionError("unreachable: the last try raises or returns")

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
        priority: int | None = None,
    ) -> str:
        """Start a run and return its id.

        ``priority`` (-1000 to 1000, higher first; default the workflow's) orders its steps'
        claims before those of other runs of its workflow (see ``docs/design.md``).

        Submitting a known ``run_id`` again with the same workflow and input is a no-op that
        returns it; with another input or workflow it raises :class:`RunConflict`, naming the
        SHA-256 digests of both inputs.
        """
        definition = (
            self.registry.register(workflow)
            if isinstance(workflow, Workflow)
            else self.registry.get(workflow)
        )
        for field_name, value in (("run_id", run_id), ("correlation_id", correlation_id)):
            if value is not None and (
                not isinstance(value, str) or len(value) > ID_LENGTH or "\x00" in value
            ):
                shown = repr(value[:40]) + "..." if isinstance(value, str) else repr(value)
                raise ValueError(
                    f"{field_name}={shown} must be a string of at most {ID_LENGTH} "
                    "characters without NUL (what the store's columns hold)."
                )
        if run_id == "":
            raise ValueError("run_id='' is empty: pass an id, or None for a new one.")
        if priority is not None:
            try:
                check_priority(priority, f"submit of workflow {definition.name!r}")
            except DefinitionError as error:
                raise ValueError(str(error)) from None
        payload = dict(input or {})
        try:
            json.dumps(payload, allow_nan=False)  # strict JSON: NaN and Infinity are not JSON
        except (TypeError, ValueError) as error:
            raise SerializationError(
                f"The input of workflow {definition.name!r} cannot be stored as JSON ({error}). "
                "Pass JSON-serialisable data (dict, list, str, int, float, bool, None)."
            ) from None
        run_id = run_id or uuid.uuid4().hex
        now = self.clock.now()
        created = self._create(definition, run_id, payload, now, correlation_id, priority)
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
        priority: int | None = None,
    ) -> bool:
        # Idempotent on run_id, so a retry after a lost acknowledgement creates nothing twice.
        with self.store.transaction() as tx:
            # A canary version takes its share of new runs; the rest go to its stable version.
            chosen = route_submit(tx, definition, run_id)
            canary = definition.canary
            created = create_run(
                tx,
                self.registry,
                chosen,
                run_id,
                payload,
                now,
                correlation_id=correlation_id,
                priority=priority,
                canary=None
                if canary is None
                else {"version": definition.version, "taken": chosen is definition},
            )
            if not created:
                existing = tx.run(run_id)
                assert existing is not None  # create_run found it
                given = json.dumps(dict(payload), sort_keys=True)
                if existing.input != given or existing.workflow != definition.name:
                    raise RunConflict(
                        run_id,
                        input_digest(json.loads(existing.input)),
                        input_digest(payload),
                        detail=(
                            ""
                            if existing.workflow == definition.name
                            else f" It is a run of workflow {existing.workflow!r}, not "
                            f"{definition.name!r}."
                        ),
                    )
            return created

    def status(self, run_id: str) -> RunStatus:
        """The run's current state; raises UnknownRun for an id the store does not know."""
        run = self.store.run(run_id)
        if run is None:
            raise UnknownRun(
                f"Run {run_id!r} is not in the store at this URL. Check the id (it is printed by "
                "submit) and that you point at the same database."
            )
        return status_from_rows(
            run,
            self.store.step_rows(run_id),
            self._routes(run.workflow, run.version),
            self._patterns(run.workflow, run.version),
        )

    def _routes(self, name: str, version: int) -> dict[str, Any]:
        if (name, version) not in self.registry:
            return {}
        workflow = self.registry.get(name, version)
        return {n: s.when.to_dict() for n, s in workflow.steps.items() if s.when is not None}

    def _patterns(self, name: str, version: int) -> dict[str, Any]:
        if (name, version) not in self.registry:
            return {}
        return step_patterns(self.registry.get(name, version))

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
        """Every run in the store, oldest first, each with its whole status."""
        return [self.status(row.run_id) for row in self.store.runs()]

    def list_runs(
        self,
        *,
        state: RunState | str | None = None,
        workflow: str | None = None,
        correlation_id: str | None = None,
        since: float | None = None,
        until: float | None = None,
        limit: int = DEFAULT_PAGE,
        cursor: str | None = None,
    ) -> RunPage:
        """A page of run summaries, newest first, filtered by every argument given.

        ``since`` and ``until`` bound the creation time (``since <= created_at < until``, in
        seconds of this orchestrator's clock); ``limit`` is the page size (1..1000); pass the
        previous page's ``next_cursor`` as ``cursor`` for the next one. A bad argument raises
        ValueError naming it.
        """
        return list_runs(
            self.store,
            state=state,
            workflow=workflow,
            correlation_id=correlation_id,
            since=since,
            until=until,
            limit=limit,
            cursor=cursor,
        )

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
        settings.setdefault("saturation", self.saturation)
        return Worker(self.store, self.registry, **settings)

    def health(self) -> dict[str, Any]:
        """This process's workers (count, busy, idle, steps handled) and each dependency's
        adaptive limit (limit, in flight, recent latency and error rate), as JSON-ready data."""
        return self.saturation.health()

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

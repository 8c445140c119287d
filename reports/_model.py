"""The records a result document is made of: invariants, anomalies, cases, runs, steps, faults.

Each is a frozen pydantic model that refuses unknown fields, so a document is validated when it
is read and a record when it is built in code; ``Field(description=...)`` is the field-by-field
documentation, carried into the published JSON Schema and the schema page.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Annotated, Any, Final, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictFloat,
    StrictInt,
    ValidationError,
    model_validator,
)

from ._validation import schema_error

ANOMALY_KINDS: Final = (
    "duplicate_effect",
    "missing_compensation",
    "spurious_compensation",
    "compensation_order",
    "dependency_order",
    "stuck_workflow",
    "lost_workflow",
    "contract_violation",
    "effect_after_compensation",
)
"""The stable names of the anomalies the checkers decide (``docs/checkers.md``)."""

VERDICTS: Final = ("valid", "invalid", "unknown")
"""What an invariant can say: held, broken, or could not be decided."""

RESULT_VERDICTS: Final = (*VERDICTS, "error")
"""What a whole result can say: an invariant verdict, or ``error`` when the harness failed."""

MODES: Final = ("sim", "real")
"""Simulated (virtual clock, one process) or against real processes and services."""

FAULT_SHAPES: Final = ("point", "window", "open")
"""A fault struck at an instant, held for a while, or was never healed."""

RUN_OUTCOMES: Final = ("completed", "rolled_back", "failed", "unfinished")
"""How a run ended, whatever the orchestrator calls its states: the same four words as the
load summary's counts. ``completed`` and ``rolled_back`` (cleanly) leave the system consistent."""

InvariantVerdict = Literal["valid", "invalid", "unknown"]
ResultVerdict = Literal["valid", "invalid", "unknown", "error"]
Mode = Literal["sim", "real"]
FaultShape = Literal["point", "window", "open"]
RunOutcome = Literal["completed", "rolled_back", "failed", "unfinished"]

Seconds = Annotated[StrictFloat, Field(description="seconds since the scenario started")]
Count = Annotated[StrictInt, Field(ge=0)]
Name = Annotated[str, Field(min_length=1, pattern=r"\S")]
# An anomaly's stable name: one of ANOMALY_KINDS for the built-in checkers, or the name a
# checker of the user's own gives (``scenarios.check(..., checkers=...)``).
AnomalyKind = Name


_NESTED: ContextVar[bool] = ContextVar("reports_validating", default=False)


@contextmanager
def validating() -> Iterator[None]:
    """Validate records inside this block as parts of one document (errors stay pydantic's)."""
    token = _NESTED.set(True)
    try:
        yield
    finally:
        _NESTED.reset(token)


class Record(BaseModel):
    """The base of every record: frozen, no unknown fields, finite numbers only."""

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    def __init__(self, **data: Any) -> None:
        # Built in code, a bad record raises the package's own error, named Class.field. pydantic
        # also calls this for each record nested in a document it validates: there the error
        # must stay pydantic's, so that the document's reader names the whole path.
        if _NESTED.get():
            super().__init__(**data)
            return
        with validating():
            try:
                super().__init__(**data)
            except ValidationError as error:
                raise schema_error(error, type(self).__name__, type(self)) from None


class EventRecord(Record):
    """One entry of the orchestrator's event log, as a report shows it."""

    seq: StrictInt = Field(description="the event's sequence number in its case's log")
    run_id: str = Field(description="the run it belongs to")
    step: str | None = Field(None, description="the step it concerns, null for run events")
    kind: str = Field(description="the event kind, e.g. step_claimed, step_failed")
    attempt: Count = Field(0, description="the attempt number (0 for events of no attempt)")
    worker_id: str | None = Field(None, description="the worker (or client) that wrote it")
    t: Seconds = Field(description="when it was logged, seconds since the scenario started")
    detail: dict[str, Any] = Field(
        default_factory=dict, description="the event's detail, as logged"
    )


class Anomaly(Record):
    """One broken invariant, with what a person needs to find it and replay it."""

    kind: AnomalyKind = Field(
        description="the anomaly's stable name: a built-in one (docs/checkers.md) or a user "
        "checker's"
    )
    run_id: str = Field(description="the run that shows it")
    case: str | None = Field(None, description="the id of the case (in cases) it was found in")
    steps: tuple[str, ...] = Field((), description="the steps involved")
    event_seqs: tuple[StrictInt, ...] = Field((), description="the log entries that show it")
    replay_token: str | None = Field(None, description="the token that reruns the failing case")
    replay_command: str | None = Field(
        None, description="the command that reruns it: chaosflow replay TOKEN"
    )
    detail: str = Field(description="what went wrong, in words")
    events: tuple[EventRecord, ...] = Field(
        (), description="an excerpt of the log: the events named by event_seqs"
    )


class InvariantResult(Record):
    """One invariant's verdict over the whole result, with the anomalies that broke it."""

    name: Name = Field(description="the invariant (checker) name, e.g. duplicate_effect")
    verdict: InvariantVerdict = Field(description="valid, invalid, or unknown (undecided)")
    anomalies: tuple[Anomaly, ...] = Field((), description="every anomaly it found")
    note: str = Field("", description="what the checker examined, in words")

    @model_validator(mode="after")
    def _verdict_matches_anomalies(self) -> InvariantResult:
        if self.verdict == "valid" and self.anomalies:
            raise ValueError(
                f"verdict 'valid' contradicts the {len(self.anomalies)} anomalies it lists: "
                "an invariant that found anomalies says 'invalid'"
            )
        return self


class CaseRecord(Record):
    """One case a scenario ran: a fault plan (one crash point, say) under one seed."""

    id: Name = Field(description="the case id other records refer to, e.g. case-003")
    description: str = Field(description="the case's fault plan, in words")
    verdict: InvariantVerdict = Field(description="the case's invariants merged worst-first")
    replay_token: str | None = Field(None, description="the token that reruns exactly this case")
    replay_command: str | None = Field(None, description="the command that reruns it")
    duration_s: Annotated[StrictFloat, Field(ge=0)] = Field(
        0.0, description="how long the case took, seconds"
    )


class RunRecord(Record):
    """One workflow run as the scenario saw it; the state is a string as the store wrote it."""

    run_id: str = Field(description="the run id (unique within its case)")
    case: str | None = Field(None, description="the id of its case, null in a one-case result")
    workflow: str = Field(description="the workflow name")
    state: Name = Field(description="its state at the end, as the orchestrator names it")
    outcome: RunOutcome = Field(
        description="completed, rolled_back (cleanly), failed (a rollback that failed), "
        "or unfinished (not ended)"
    )
    start_s: Seconds = Field(description="when it was submitted")
    end_s: Seconds | None = Field(None, description="when it ended, null if it never did")
    attempts: Count = Field(0, description="step and compensation claims")
    retries: Count | None = Field(None, description="claims beyond each step's first")
    compensations: Count | None = Field(None, description="compensations applied")
    error: str | None = Field(None, description="the last step error it logged, if any")
    # The orchestration patterns as they acted on the run (null: not known, from an older
    # chaosflow or a harness that did not say).
    version: Count | None = Field(None, description="the workflow version it ran on")
    canary: bool | None = Field(
        None,
        description="true when a canary version took it, false when a canary's stable version "
        "did; null when its workflow had no canary",
    )
    priority: StrictInt | None = Field(None, description="its claim priority")
    fallbacks: tuple[str, ...] | None = Field(
        None, description="the steps it replaced by their fallback routes"
    )
    stalled: bool | None = Field(None, description="whether a stall policy fired on it")


class StepStats(Record):
    """How one step of a workflow fared over every run of the result."""

    workflow: str = Field(description="the workflow name")
    step: str = Field(description="the step name")
    runs: Count = Field(description="runs that claimed the step at least once")
    attempts: Count = Field(description="claims of the step's action")
    retries: Count = Field(description="claims beyond the first, per run (retries, reclaims)")
    failures: Count = Field(description="times the step failed for good")
    compensations: Count = Field(description="times its compensation completed")
    compensation_failures: Count = Field(description="times its compensation failed for good")


class FaultRecord(Record):
    """One injected fault on the timeline: a point (struck at an instant) or a window."""

    kind: Name = Field(description="crash, step, network, partition, process, clock, store")
    target: str = Field(description="what it struck: a hook point, a proxy, a worker slot")
    case: str | None = Field(None, description="the id of its case, null in a one-case result")
    shape: FaultShape = Field(
        description="point: struck at start_s; window: held start_s..end_s; open: never healed"
    )
    start_s: Seconds = Field(description="when it struck")
    end_s: Seconds | None = Field(None, description="when it healed (= start_s for a point)")
    run_id: str | None = Field(None, description="the run it struck, when it struck one")
    after_seq: StrictInt | None = Field(
        None, description="the last log entry of that run before it struck, when known"
    )
    detail: str = Field("", description="its parameters, in words")

    @model_validator(mode="after")
    def _shape_matches_times(self) -> FaultRecord:
        if self.shape == "open" and self.end_s is not None:
            raise ValueError("shape 'open' means never healed, so end_s must be null")
        if self.shape == "point" and self.end_s != self.start_s:
            raise ValueError("shape 'point' means struck at an instant, so end_s equals start_s")
        if self.shape == "window" and (self.end_s is None or self.end_s < self.start_s):
            raise ValueError("shape 'window' needs end_s at or after start_s")
        return self


def fault_shape(kind: str, start_s: float, end_s: float | None) -> FaultShape:
    """The shape of a fault: ``open`` if never healed; ``point`` for a crash or a zero window."""
    if kind == "crash" or (end_s is not None and end_s <= start_s):
        return "point"
    if end_s is None:
        return "open"
    return "window"


class RunTimeline(Record):
    """The events of one run the report singles out: the first failing run, or one struck."""

    case: str | None = Field(None, description="the id of its case")
    run_id: str = Field(description="the run")
    reason: str = Field(description="why this run: the anomaly it shows, or the fault it took")
    events: tuple[EventRecord, ...] = Field(description="its events, in log order")
    omitted: Count = Field(0, description="events left out past the first ones kept")


class HarnessError(Record):
    """Why the harness could not finish the run; the result then has verdict ``error``."""

    kind: Name = Field(description="the kind of failure, e.g. the exception's class name")
    message: str = Field(description="what happened, as the harness said it")
    during: str | None = Field(None, description="what the harness was doing, e.g. 'run'")


class Budget(Record):
    """How much exploration the scenario allowed."""

    examples: Count | None = Field(None, description="at most this many cases")
    seconds: Annotated[StrictFloat, Field(ge=0)] | None = Field(
        None, description="at most this long"
    )


class ScenarioConfig(Record):
    """What was asked for: the workflow, inputs, faults, invariants, budget and settings."""

    workflow: str | None = Field(None, description="the workflow, as module:attr or a name")
    source: str | None = Field(None, description="the scenario file, when it came from one")
    explore: str | None = Field(None, description="crash_points, crash_pairs, search, or null")
    invariants: tuple[str, ...] = Field((), description="the invariants it asked to check")
    inputs: tuple[dict[str, Any], ...] = Field((), description="the inputs of the runs")
    faults: dict[str, Any] | None = Field(None, description="the base fault plan, as data")
    budget: Budget | None = Field(None, description="the exploration budget")
    settings: dict[str, Any] = Field(
        default_factory=dict, description="workers, lease_seconds, heal_after, progress_bound..."
    )

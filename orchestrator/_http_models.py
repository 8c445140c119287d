"""The HTTP API's bodies, as pydantic models: what is accepted, what is answered, and errors.

Every id is bounded to what the store's columns hold (``ID_LENGTH``) and may not contain NUL
(which PostgreSQL cannot store in text) or a lone surrogate (which no database can encode), so a
bad id is a 422 here, never an error in the database.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
)

from ._schema import ID_LENGTH
from ._states import RunState

# No NUL: PostgreSQL cannot store it in text. (Lone surrogates fail pydantic's str validation.)
ID_PATTERN = r"^[^\x00]+$"
# A listing cursor: "<created_at>:<run_id>" as next_cursor gives it. Any string of this form
# names a position, so a well-formed cursor is never refused.
CURSOR_PATTERN = r"^-?[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]+)?:[^\x00]{1,128}$"
MAX_CURSOR = 32 + 1 + ID_LENGTH

Identifier = Annotated[
    str, StringConstraints(min_length=1, max_length=ID_LENGTH, pattern=ID_PATTERN)
]
OptionalText = Annotated[str, StringConstraints(max_length=ID_LENGTH, pattern=r"^[^\x00]*$")]


def _storable(value: Any, where: str = "input", depth: int = 0) -> None:
    """Refuse what JSON text cannot carry faithfully: non-finite numbers, lone surrogates."""
    if depth > 64:
        raise ValueError(f"{where} is nested more than 64 levels deep; flatten it")
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"{where} is {value!r}, which JSON cannot carry; send a finite number")
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise ValueError(
                f"{where} contains a lone surrogate, which cannot be stored as UTF-8 text"
            ) from None
    elif isinstance(value, Mapping):
        for key, item in value.items():
            _storable(key, f"{where} key", depth + 1)
            _storable(item, f"{where}.{key}", depth + 1)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _storable(item, f"{where}[{index}]", depth + 1)


def _storable_input(value: dict[str, Any]) -> dict[str, Any]:
    _storable(value)
    return value


def _integral(value: Any) -> Any:
    # JSON Schema's integer includes 145.0: a float with no fraction is that integer. Anything
    # else goes on to the strict check (so "145" and true stay refused).
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


class SubmitRequest(BaseModel):
    """The body of ``POST /runs``."""

    model_config = ConfigDict(extra="forbid")

    workflow: Identifier
    input: Annotated[dict[str, Any], AfterValidator(_storable_input)] = Field(default_factory=dict)
    run_id: Identifier | None = None
    correlation_id: OptionalText | None = None
    # Orders the run's claims within its workflow (higher first); default the workflow's.
    priority: Annotated[
        Annotated[int, Field(strict=True, ge=-1000, le=1000)] | None, BeforeValidator(_integral)
    ] = None


class SubmitResponse(BaseModel):
    """The answer to ``POST /runs``: the id of the run (new, or existing for a known run_id)."""

    run_id: str


class StepErrorBody(BaseModel):
    """A step's last error: qualified type, message, stable code, attempt, definite or not."""

    type: str
    message: str
    code: str | None
    attempt: int
    definite: bool
    purpose: str


class RunFailureBody(BaseModel):
    """Why a run did not complete: the failed step (or the cancel) and failed compensations."""

    step: str | None
    error: StepErrorBody | None
    reason: str
    compensation_failures: dict[str, StepErrorBody]


class RunStatusBody(BaseModel):
    """A run's status, as :meth:`RunStatus.to_dict` gives it."""

    model_config = ConfigDict(extra="allow")

    run_id: str
    workflow: str
    version: int
    state: RunState
    steps: dict[str, str]
    outputs: dict[str, Any]
    correlation_id: str | None
    created_at: float
    updated_at: float
    routes: dict[str, Any]
    errors: dict[str, StepErrorBody]
    compensation_errors: dict[str, StepErrorBody]
    failure: RunFailureBody | None
    priority: int = 0
    patterns: dict[str, Any] = {}
    deadline: float | None = None
    stalled_at: float | None = None


class RunSummaryBody(BaseModel):
    """One run of a listing."""

    run_id: str
    workflow: str
    version: int
    state: RunState
    correlation_id: str | None
    parent_run_id: str | None
    created_at: float
    updated_at: float
    failure: str | None


class RunPageBody(BaseModel):
    """A page of runs, newest first; pass ``next_cursor`` as ``cursor`` for the next page."""

    runs: list[RunSummaryBody]
    next_cursor: str | None


class EventBody(BaseModel):
    """One entry of a run's event log."""

    seq: int
    step: str | None
    kind: str
    attempt: int
    worker_id: str | None
    at: float
    detail: dict[str, Any]


class WorkerCounts(BaseModel):
    """This process's workers: how many, how many busy with a step, and steps handled."""

    count: int
    busy: int
    idle: int
    steps_handled: int


class LimitBody(BaseModel):
    """One dependency's adaptive concurrency limit in this process (see ``_adaptive``)."""

    limit: int
    limit_exact: float
    max: int
    min: int
    in_flight: int
    saturated: bool
    recent_latency_ms: float | None
    recent_error_rate: float
    samples: int
    decreases: int
    increases: int
    lowest_limit: int


class HealthBody(BaseModel):
    """The answer to ``GET /health``: the store answers, and this process's saturation."""

    status: str
    workers: WorkerCounts | None = None
    limits: dict[str, LimitBody] = {}


class Problem(BaseModel):
    """One thing wrong with a request: where (``loc``) and what (``msg``)."""

    loc: list[str | int]
    msg: str
    type: str


class ErrorBody(BaseModel):
    """Every error answer: ``error`` says what happened, why, and what to do.

    ``problems`` lists each invalid field of a request that failed validation (422).
    """

    error: str
    problems: list[Problem] | None = None


_STATUS_TEXT = {
    400: "The request body could not be decoded.",
    401: "Missing or wrong bearer token.",
    404: "No such run (or workflow).",
    409: "The request conflicts with the run's state or its stored input.",
    413: "The request body is over the size limit.",
    422: "The request is not valid: `problems` names each field.",
    503: "The store cannot be reached; retry later.",
}


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """The OpenAPI ``responses`` entries of ``statuses``, each with the one error body."""
    return {
        status: {"model": ErrorBody, "description": _STATUS_TEXT[status]}
        for status in sorted(statuses)
    }

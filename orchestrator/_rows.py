"""The store's rows as the engine reads them: plain frozen records, no SQLAlchemy objects."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ._states import StepState


@dataclass(frozen=True)
class StepRow:
    """A step's durable state, as read inside a transaction."""

    run_id: str
    step: str
    state: StepState
    attempt: int
    lease_token: str | None
    output: str | None


@dataclass(frozen=True)
class RunRow:
    """A run's durable state."""

    run_id: str
    workflow: str
    version: int
    state: str
    input: str
    correlation_id: str | None
    parent_run_id: str | None
    parent_step: str | None
    retries_used: int
    created_at: float
    updated_at: float
    failure: str | None = None
    priority: int = 0
    deadline: float | None = None
    stall_policy: str | None = None
    stalled_at: float | None = None


@dataclass(frozen=True)
class EventRow:
    """One entry of the append-only event log."""

    seq: int
    run_id: str
    step: str | None
    kind: str
    attempt: int
    worker_id: str | None
    at: float
    detail: Mapping[str, Any]

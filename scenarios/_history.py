"""A history: what the orchestrator logged and, independently, what the services saw."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from ._effects import Effect


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


TERMINAL_RUN_EVENTS = ("run_completed", "run_compensated", "run_compensation_failed")


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

    def events_by_run(self) -> dict[str, list[LoggedEvent]]:
        """The event log grouped by run, each in log order."""
        grouped: dict[str, list[LoggedEvent]] = defaultdict(list)
        for event in sorted(self.events, key=lambda e: e.seq):
            grouped[event.run_id].append(event)
        return dict(grouped)

    def terminal_event(self, run_id: str) -> LoggedEvent | None:
        """The event that ended the run, or None if the log shows no end."""
        for event in reversed(self.events_by_run().get(run_id, [])):
            if event.kind in TERMINAL_RUN_EVENTS:
                return event
        return None

    def seqs(self, run_id: str, step: str | None = None) -> tuple[int, ...]:
        """Sequence numbers of a run's events (of one step, if given)."""
        return tuple(
            e.seq for e in self.events_by_run().get(run_id, []) if step is None or e.step == step
        )

"""Observability: hook events as structured JSON log lines, and as OpenTelemetry span events.

Both are plain hook listeners; add them with ``orchestrator.hooks.add_listener(...)``.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from ._hooks import HookEvent

EVENT_LOGGER = "chaosflow.events"


def event_record(event: HookEvent) -> dict[str, Any]:
    """A hook event as the flat dict that is logged."""
    return {
        "at": event.at,
        "event": str(event.point),
        "run_id": event.run_id,
        "workflow": event.workflow,
        "step": event.step,
        "attempt": event.attempt,
        "worker_id": event.worker_id,
        "correlation_id": event.correlation_id,
        "trace_id": event.trace_id,
    }


class JsonEventLog:
    """A hook listener that writes each hook event as one JSON line to a logger."""

    def __init__(self, logger: logging.Logger | None = None, level: int = logging.INFO) -> None:
        self.logger = logger or logging.getLogger(EVENT_LOGGER)
        self.level = level

    def __call__(self, event: HookEvent) -> None:
        if self.logger.isEnabledFor(self.level):
            self.logger.log(self.level, json.dumps(event_record(event), sort_keys=True))


class OpenTelemetryEvents:
    """A hook listener that adds each hook event to the current OpenTelemetry span.

    The OpenTelemetry API is optional: without it, this listener does nothing.
    """

    def __init__(self) -> None:
        try:
            from opentelemetry import trace
        except ImportError:
            self._trace: Any = None
        else:
            self._trace = trace

    @property
    def available(self) -> bool:
        """Whether the OpenTelemetry API is installed."""
        return self._trace is not None

    def __call__(self, event: HookEvent) -> None:
        if self._trace is None:
            return
        span = self._trace.get_current_span()
        attributes = {k: v for k, v in event_record(event).items() if v is not None}
        span.add_event(f"chaosflow.{event.point}", attributes=attributes)

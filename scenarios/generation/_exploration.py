"""Where a worker can die: the crash points of a workflow, to explore one by one or in pairs."""

from __future__ import annotations

from faults import CRASH_POINTS
from orchestrator import Workflow

_FORWARD_POINTS = CRASH_POINTS[:4]
_COMPENSATION_POINTS = CRASH_POINTS[4:]


def crash_points(workflow: Workflow) -> list[tuple[str, str]]:
    """Every (hook point, step) a worker can die at: forward, and compensation where defined."""
    points = [(point, step) for step in workflow.order for point in _FORWARD_POINTS]
    points += [
        (point, step)
        for step in workflow.order
        if workflow.steps[step].compensation
        for point in _COMPENSATION_POINTS
    ]
    return points

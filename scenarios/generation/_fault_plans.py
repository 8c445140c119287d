"""Hypothesis strategies for fault plans around a workflow."""

from __future__ import annotations

from collections.abc import Sequence

from hypothesis import strategies as st

from faults import STEP_FAULT_KINDS, Fault, FaultPlan
from orchestrator import Workflow

from .._errors import ScenarioDefinitionError
from ._exploration import crash_points

# The step faults that stand for a step's behaviour: it fails a few times, or for good.
BEHAVIOUR_STEP_FAULTS = ("transient", "permanent")
# The hook points after a service applied an effect and before the store recorded it.
SEPARATING_POINTS = ("after_action", "after_compensation")


def fault_plans(
    workflow: Workflow,
    *,
    max_faults: int = 3,
    min_faults: int = 1,
    step_faults: Sequence[str] = ("transient",),
) -> st.SearchStrategy[FaultPlan]:
    """Fault plans for ``workflow``: crashes at its hook points and step faults.

    ``step_faults`` names the step-fault kinds to draw (``transient``: the first 1-2 attempts
    fail; ``permanent``: every attempt fails), so a workflow of your own gets step behaviours
    generated around it without changing its code. ``min_faults=0`` lets a plan shrink to no
    fault at all, for bugs that need none.
    """
    unknown = [kind for kind in step_faults if kind not in BEHAVIOUR_STEP_FAULTS]
    if unknown:
        raise ScenarioDefinitionError(
            f"fault_plans(step_faults={list(step_faults)!r}): {unknown!r} cannot be drawn; use "
            f"some of {', '.join(BEHAVIOUR_STEP_FAULTS)} (all step faults: "
            f"{', '.join(STEP_FAULT_KINDS)})."
        )
    if not 0 <= min_faults <= max_faults:
        raise ScenarioDefinitionError(
            f"fault_plans(min_faults={min_faults!r}, max_faults={max_faults!r}): need "
            "0 <= min_faults <= max_faults."
        )
    points = crash_points(workflow)
    # A crash between an effect and its record is where at-least-once turns into twice: draw
    # those points half the time, and shrink toward them.
    separating = [p for p in points if p[0] in SEPARATING_POINTS]
    kinds: list[st.SearchStrategy[Fault]] = [
        st.builds(
            lambda point, nth: Fault.crash(point[0], point[1], nth=nth),
            st.sampled_from(separating) | st.sampled_from(points),
            st.integers(1, 2),
        )
    ]
    if "transient" in step_faults:
        kinds.append(
            st.builds(
                lambda step, attempts: Fault.step_fault("transient", step, attempts=attempts),
                st.sampled_from(workflow.order),
                st.integers(1, 2),
            )
        )
    if "permanent" in step_faults:
        kinds.append(
            st.builds(
                lambda step: Fault.step_fault("permanent", step),
                st.sampled_from(workflow.order),
            )
        )
    return st.builds(
        lambda faults, seed: FaultPlan(tuple(faults), seed),
        st.lists(st.one_of(kinds), min_size=min_faults, max_size=max_faults),
        st.integers(0, 3),
    )

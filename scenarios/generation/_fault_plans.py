"""Hypothesis strategies for fault plans around a workflow: everything the simulation can do.

Crashes at every hook point (of any run), step behaviours (transient and permanent errors),
and, given the proxies the workflow's calls go through, late answers, late requests, lost
answers, outages that heal and outages that last, store faults and paused workers.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from hypothesis import strategies as st

from faults import CRASH_POINTS, FOREVER, STEP_FAULT_KINDS, Fault, FaultPlan, Trigger
from orchestrator import Workflow

from .._errors import ScenarioDefinitionError
from ._exploration import crash_points

# The step faults that stand for a step's behaviour: it fails a few times, or for good.
BEHAVIOUR_STEP_FAULTS = ("transient", "permanent")
# The hook points after a service applied an effect and before the store recorded it.
SEPARATING_POINTS = ("after_action", "after_compensation")
# What a plan may draw. ``crash`` and the step behaviours need only the workflow; the network
# kinds need the proxies its calls go through; ``store`` and ``pause`` need nothing more.
DRAWS = (
    "crash",
    "transient",
    "permanent",
    "late_answer",
    "late_request",
    "lost_answer",
    "outage",
    "lasting_outage",
    "store",
    "pause",
)
_CORE = ("crash", "transient", "permanent")
NETWORK_DRAWS = ("late_answer", "late_request", "lost_answer", "outage", "lasting_outage")
# A drawer: (workflow, runs, proxies) -> a strategy, or None when it cannot draw for them.
Builder = Callable[[Workflow, int, tuple[str, ...]], "st.SearchStrategy[Fault] | None"]

# Delays that land around typical step timeouts (seconds), and outage lengths.
_DELAYS = (0.5, 2.0, 10.0, 60.0)
_OUTAGES = (1.0, 5.0, 30.0)


def fault_plans(
    workflow: Workflow,
    *,
    max_faults: int = 3,
    min_faults: int = 1,
    step_faults: Sequence[str] = ("transient",),
    draws: Sequence[str] | None = None,
    runs: int = 1,
    proxies: Sequence[str] = (),
) -> st.SearchStrategy[FaultPlan]:
    """Fault plans for ``workflow``.

    By default: crashes at its hook points and the step faults ``step_faults`` names
    (``transient``: the first 1-2 attempts fail; ``permanent``: every attempt fails), so a
    workflow of your own gets step behaviours generated around it without changing its code.
    ``draws`` picks from all of :data:`DRAWS` instead; ``runs`` lets a crash or a pause name
    one of that many runs; ``proxies`` are the names network faults may target (the services
    the workflow calls). ``min_faults=0`` lets a plan shrink to no fault at all, for bugs that
    need none.
    """
    unknown = [kind for kind in step_faults if kind not in BEHAVIOUR_STEP_FAULTS]
    if unknown:
        raise ScenarioDefinitionError(
            f"fault_plans(step_faults={list(step_faults)!r}): {unknown!r} cannot be drawn; use "
            f"some of {', '.join(BEHAVIOUR_STEP_FAULTS)} (all step faults: "
            f"{', '.join(STEP_FAULT_KINDS)})."
        )
    chosen = list(draws) if draws is not None else ["crash", *step_faults]
    bad = [kind for kind in chosen if kind not in DRAWS]
    if bad:
        raise ScenarioDefinitionError(
            f"fault_plans(draws={chosen!r}): {bad!r} cannot be drawn; use some of "
            f"{', '.join(DRAWS)}."
        )
    if not 0 <= min_faults <= max_faults:
        raise ScenarioDefinitionError(
            f"fault_plans(min_faults={min_faults!r}, max_faults={max_faults!r}): need "
            "0 <= min_faults <= max_faults."
        )
    if runs < 1:
        raise ScenarioDefinitionError(f"fault_plans(runs={runs!r}) must be at least 1.")
    built = {kind: _DRAWN[kind](workflow, runs, tuple(proxies)) for kind in chosen}
    usable = {kind: strategy for kind, strategy in built.items() if strategy is not None}
    if not usable:
        raise ScenarioDefinitionError(
            f"fault_plans(draws={chosen!r}): none can be drawn for this workflow (network "
            "faults need proxies=[the services it calls])."
        )
    # Crashes and step behaviours half the time, the rest of the world the other half: the
    # first kind of bug is the commonest, and Hypothesis shrinks toward the first branch.
    core = [s for k, s in usable.items() if k in _CORE]
    world = [s for k, s in usable.items() if k not in _CORE]
    one = st.one_of(*(st.one_of(group) for group in (core, world) if group))
    return st.builds(
        lambda faults, seed: FaultPlan(tuple(faults), seed),
        st.lists(one, min_size=min_faults, max_size=max_faults),
        st.integers(0, 3),
    )


def _run(runs: int) -> st.SearchStrategy[int | None]:
    # Shrinks to "the first run to get there", and may name any run.
    return st.none() | st.integers(0, runs - 1) if runs > 1 else st.none()


def _crash(workflow: Workflow, runs: int, _: tuple[str, ...]) -> st.SearchStrategy[Fault]:
    points = crash_points(workflow)
    # A crash between an effect and its record is where at-least-once turns into twice: draw
    # those points half the time, and shrink toward them.
    separating = [p for p in points if p[0] in SEPARATING_POINTS]
    return st.builds(
        lambda point, nth, run: Fault.crash(point[0], point[1], nth=nth, run=run),
        st.sampled_from(separating) | st.sampled_from(points),
        st.integers(1, 2),
        _run(runs),
    )


def _transient(workflow: Workflow, _: int, __: tuple[str, ...]) -> st.SearchStrategy[Fault]:
    return st.builds(
        lambda step, attempts: Fault.step_fault("transient", step, attempts=attempts),
        st.sampled_from(workflow.order),
        st.integers(1, 2),
    )


def _permanent(workflow: Workflow, _: int, __: tuple[str, ...]) -> st.SearchStrategy[Fault]:
    return st.builds(
        lambda step: Fault.step_fault("permanent", step), st.sampled_from(workflow.order)
    )


def _toxic(toxic: str, stream: str, **attributes: st.SearchStrategy[int]) -> Builder:
    def build(
        workflow: Workflow, _: int, proxies: tuple[str, ...]
    ) -> st.SearchStrategy[Fault] | None:
        if not proxies:
            return None
        return st.builds(
            lambda proxy, at, duration, values: Fault.toxic(
                proxy, toxic, at=at, duration=duration, stream=stream, **values
            ),
            st.sampled_from(proxies),
            st.sampled_from((0.0, 1.0)),
            st.sampled_from(_OUTAGES),
            st.fixed_dictionaries(attributes),
        )

    return build


def _outage(lasting: bool) -> Builder:
    def build(
        workflow: Workflow, _: int, proxies: tuple[str, ...]
    ) -> st.SearchStrategy[Fault] | None:
        if not proxies:
            return None
        duration: st.SearchStrategy[float | str] = (
            st.just(FOREVER) if lasting else st.sampled_from(_OUTAGES)
        )
        return st.builds(
            lambda proxy, at, length: Fault("partition", Trigger(at=at), proxy, length),
            st.sampled_from(proxies),
            st.sampled_from((0.0, 1.0)),
            duration,
        )

    return build


def _store(workflow: Workflow, _: int, __: tuple[str, ...]) -> st.SearchStrategy[Fault]:
    return st.builds(
        lambda action, at, length: Fault(
            "store", Trigger(at=at), None, length, {"action": action, "probability": 0.5}
        ),
        st.sampled_from(("commit_fail", "ack_lost", "connection_loss", "latency")),
        st.sampled_from((0.0, 1.0)),
        st.sampled_from(_OUTAGES),
    )


def _pause(workflow: Workflow, runs: int, _: tuple[str, ...]) -> st.SearchStrategy[Fault]:
    # Freeze the worker that reached a point (no target), past its lease, then wake it.
    return st.builds(
        lambda point, step, run, length: Fault(
            "process",
            Trigger(point=point, step=step, run=run),
            None,
            length,
            {"action": "sigstop"},
        ),
        st.sampled_from(CRASH_POINTS),
        st.sampled_from(workflow.order),
        _run(runs),
        st.sampled_from((10.0, 30.0)),
    )


_DRAWN: dict[str, Builder] = {
    "crash": _crash,
    "transient": _transient,
    "permanent": _permanent,
    "late_answer": _toxic(
        "latency", "downstream", latency=st.sampled_from([int(d * 1000) for d in _DELAYS])
    ),
    "late_request": _toxic(
        "latency", "upstream", latency=st.sampled_from([int(d * 1000) for d in _DELAYS])
    ),
    "lost_answer": _toxic("reset_peer", "downstream", timeout=st.just(0)),
    "outage": _outage(False),
    "lasting_outage": _outage(True),
    "store": _store,
    "pause": _pause,
}


def single_faults(workflow: Workflow, proxies: Sequence[str]) -> list[Fault]:
    """One fault of each kind the world can throw at a saga, for each proxy its calls go
    through: the single faults behind most saga bugs, tried before any drawn plan.

    A late answer and a late request past typical timeouts, a lost answer, an outage that heals
    and one that lasts, on every proxy; each store fault; and a worker paused past its lease
    right after each step's effect.
    """
    found: list[Fault] = []
    for proxy in proxies:
        found += [
            Fault.toxic(proxy, "latency", at=0.0, duration=5.0, latency=10_000),
            Fault.toxic(proxy, "latency", at=0.0, duration=1.0, stream="upstream", latency=10_000),
            Fault.toxic(proxy, "reset_peer", at=0.0, duration=1.0, timeout=0),
            Fault("partition", Trigger(at=0.0), proxy, 5.0),
            Fault("partition", Trigger(at=0.0), proxy, FOREVER),
        ]
    found += [
        Fault("store", Trigger(at=0.0), None, 5.0, {"action": action, "probability": 0.5})
        for action in ("commit_fail", "ack_lost", "connection_loss")
    ]
    found += [
        Fault(
            "process", Trigger(point="after_action", step=step), None, 30.0, {"action": "sigstop"}
        )
        for step in workflow.order
    ]
    return found

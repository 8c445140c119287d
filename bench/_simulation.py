"""Simulation scenarios per minute: every crash-point case of a ten-step saga, in process.

The saga's last step refuses, so the run rolls back through nine compensations: its 78 crash
points cover the steps and the compensations (the simulation issue measured this case).

The deterministic simulation (virtual time, seeded scheduler) judges one scenario per case; its
rate bounds how many cases an exploration or a search can try. ``python -m bench._simulation
SPEC`` runs the first ``runs`` cases (all of them when ``runs`` is 0) and prints cases/min.
"""

from __future__ import annotations

from typing import Any

from orchestrator import RetryPolicy, Step, StepContext, Workflow
from scenarios import RecordingService, Scenario, run_in_process
from scenarios.generation import crash_cases

from ._common import STEPS, Stopwatch, emit, spec_from_argv

SERVICE = RecordingService("svc")


class Refused(Exception):
    """The last step refuses when the input asks it to."""


def _step(n: int) -> Step:
    def act(context: StepContext) -> Any:
        if n == STEPS - 1 and context.input.get("fail"):
            raise Refused("no")
        return SERVICE.apply(context, n=n)

    def undo(context: StepContext) -> None:
        SERVICE.compensate(context)

    return Step(
        f"s{n}",
        act,
        undo,
        after=(f"s{n - 1}",) if n else (),
        retry=RetryPolicy(max_attempts=2, non_retryable=(Refused,)),
    )


def saga_scenario() -> Scenario:
    """The ten-step saga whose last step refuses, judged for duplicates, missing compensations
    and stuck runs."""
    workflow = Workflow("saga10", [_step(n) for n in range(STEPS)])
    return Scenario(
        "saga10",
        workflow,
        [{"fail": True}],
        invariants=("duplicate_effect", "missing_compensation", "stuck_workflow"),
    )


def measure(spec: dict[str, Any]) -> dict[str, Any]:
    """Judge the saga's crash cases and return the rate."""
    cases = list(crash_cases(saga_scenario()))
    if int(spec.get("runs", 0)):
        cases = cases[: int(spec["runs"])]
    run_in_process(cases[0])  # warm: the shared simulation store, compiled statements
    verdicts: dict[str, int] = {}
    watch = Stopwatch()
    for case in cases:
        verdict = str(run_in_process(case).verdict)
        verdicts[verdict] = verdicts.get(verdict, 0) + 1
    seconds = watch.elapsed()
    return {
        "cases": len(cases),
        "seconds": round(seconds, 3),
        "cases_per_min": round(len(cases) / seconds * 60, 1),
        "verdicts": verdicts,
    }


if __name__ == "__main__":
    emit(measure(spec_from_argv()))

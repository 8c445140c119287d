"""Clock faults: a worker whose clock runs ahead steals a live lease, and fencing holds."""

from __future__ import annotations

from pathlib import Path

from faults import SkewedClock
from orchestrator import HookEvent, HookPoint, ManualClock, Orchestrator, RunState, Step, Workflow


def test_skew_and_jumps_change_readings_not_durations() -> None:
    base = ManualClock(1000.0)
    skewed = SkewedClock(base, offset=30.0)
    assert skewed.now() == 1030.0
    skewed.sleep(5)
    assert base.now() == 1005.0 and skewed.now() == 1035.0
    skewed.jump(-60)
    assert skewed.now() == 975.0


def test_a_worker_with_a_fast_clock_takes_over_early_and_the_late_write_is_fenced(
    tmp_path: Path,
) -> None:
    base = ManualClock(1000.0)
    calls: list[str] = []
    orch = Orchestrator(f"sqlite:///{tmp_path / 's.db'}", clock=base)
    wf = Workflow("skew", [Step("a", lambda ctx: calls.append(ctx.idempotency_key))])
    run_id = orch.submit(wf, {})
    honest = orch.worker(worker_id="honest", lease_seconds=30)
    ahead = orch.worker(worker_id="ahead", lease_seconds=30, clock=SkewedClock(base, 45.0))

    def race(event: HookEvent) -> None:
        # The honest worker holds a lease valid for 30 s; the skewed one thinks 45 s passed.
        if event.point == HookPoint.BEFORE_ACTION and event.worker_id == "honest":
            assert ahead.tick()

    orch.hooks.add_listener(race)
    assert honest.tick()
    kinds = [(e.kind, e.worker_id) for e in orch.events(run_id)]
    assert ("step_completed", "ahead") in kinds
    assert ("late_write_rejected", "honest") in kinds
    assert orch.status(run_id).state == RunState.COMPLETED
    # At least once: both ran the action, with the same idempotency key.
    assert len(calls) == 2 and len(set(calls)) == 1

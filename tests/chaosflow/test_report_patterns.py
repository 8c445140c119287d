"""The orchestration patterns in the result document and the Markdown report: each run's
version, whether a canary took it, its priority, the fallbacks it took and whether a stall
policy fired, from a simulated canary release and from hand-made records."""

from __future__ import annotations

from pathlib import Path

from chaosflow._results import result_and_history
from faults import FaultPlan
from reports import ResilienceResult, RunRecord, render_markdown
from reports._display import pattern_rows
from scenarios import Scenario, run_in_process
from tests.scenarios.test_sim_patterns import ROUTES, order_versions


def record(run_id: str, **fields: object) -> RunRecord:
    base: dict[str, object] = {
        "run_id": run_id,
        "workflow": "orders",
        "state": "completed",
        "outcome": "completed",
        "start_s": 0.0,
    }
    return RunRecord.model_validate({**base, **fields})


def test_a_canary_release_shows_in_each_run_record_and_in_the_markdown(tmp_path: Path) -> None:
    inputs = [{"order": n} for n in range(30)]
    scenario = Scenario(
        "canary", order_versions(), inputs, FaultPlan(), routes=ROUTES, submit_interval=1.0
    )
    outcome = run_in_process(scenario, tmp_path)
    result = result_and_history([outcome]).result
    by_id = {r.run_id: r for r in result.runs}
    for run in outcome.runs:
        written = by_id[run.run_id]
        assert written.version == run.version
        assert written.canary is (run.version == 2)  # every run's workflow had a canary
        assert written.priority == 0 and written.fallbacks == () and written.stalled is False
    on_canary = [r for r in result.runs if r.canary]
    assert on_canary and {r.outcome for r in on_canary} == {"rolled_back"}
    # The document reads back with the fields (they are part of its schema).
    again = ResilienceResult.loads(result.dumps())
    assert [r.canary for r in again.runs] == [r.canary for r in result.runs]
    markdown = render_markdown(result)
    assert "### Orchestration patterns" in markdown
    assert (
        f"| canary | {len(on_canary)} of {len(result.runs)} on v2 "
        f"({len(on_canary)} did not complete) |" in markdown
    )


def test_pattern_rows_count_fallbacks_stalls_and_priorities() -> None:
    runs = [
        record("a", fallbacks=("ship_a",), priority=10),
        record("b", fallbacks=("ship_a", "pay"), stalled=True, priority=0),
        record("c", stalled=False, priority=0),
    ]
    assert pattern_rows(runs) == [
        ("fallback taken", "2 (pay: 1, ship_a: 2)"),
        ("stall policy fired", "1"),
        ("priority", "0: 2, 10: 1"),
    ]
    # Runs from an older chaosflow (no pattern fields) or touched by no pattern: no section.
    assert pattern_rows([record("d"), record("e", priority=0, fallbacks=(), stalled=False)]) == []

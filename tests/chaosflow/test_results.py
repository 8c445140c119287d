"""From a scenario's outcome to the result document: cases, runs, faults, timeline, replay."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import reports
from chaosflow._demo import run_demo
from chaosflow._result_parts import run_outcome
from chaosflow._results import (
    error_result,
    file_result_and_history,
    result_and_history,
    result_with_load,
)
from scenarios import load_scenario_file, run_scenario_file
from tests.reports._builders import load_section

CARELESS = """
name: careless
workflow: tests.scenarios._catalogue:careless_saga
seed: 3
inputs: [{sku: a, qty: 1, amount: 5, address: here}]
explore: crash_points
invariants: [duplicate_effect, missing_compensation]
"""


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Any:
    outcome = run_demo(tmp_path_factory.mktemp("demo"))
    return result_and_history([outcome], replay_command="chaosflow demo --seed 0")


@pytest.fixture(scope="module")
def careless(tmp_path_factory: pytest.TempPathFactory) -> Any:
    path = tmp_path_factory.mktemp("careless") / "careless.yaml"
    path.write_text(CARELESS)
    return file_result_and_history(run_scenario_file(load_scenario_file(str(path))))


def test_the_demos_crash_is_a_point_at_the_claim_it_interrupted(demo: Any) -> None:
    result = demo.result
    (crash,) = result.faults
    assert (crash.kind, crash.shape) == ("crash", "point")
    assert crash.start_s == crash.end_s > 0  # an instant, once the charge had been claimed
    assert crash.run_id == "order-saga-demo-0-0001"
    events = {e.seq: e for e in result.timeline.events}
    struck = events[crash.after_seq]
    assert (struck.kind, struck.step, struck.attempt) == ("step_claimed", "charge_payment", 1)
    # After the crash the step was taken over once its lease expired: a reclaim, seen as a retry.
    reclaim = next(e for e in result.timeline.events if e.seq > crash.after_seq)
    assert reclaim.kind == "step_claimed" and reclaim.detail["reclaimed"] is True
    steps = {s.step: s for s in result.steps}
    assert steps["charge_payment"].retries == 1 and steps["reserve_stock"].retries == 0
    assert result.timeline.reason.startswith("Struck by the crash")


def test_the_demo_result_has_its_configuration_and_history(demo: Any) -> None:
    result = demo.result
    assert result.config.invariants == tuple(reports.ANOMALY_KINDS)
    assert len(result.config.inputs) == 4
    assert result.config.faults is not None and result.config.faults["faults"][0]["kind"] == "crash"
    assert result.config.settings["workers"] == 2
    assert {r.outcome for r in result.runs} == {"completed", "rolled_back"}
    # The seed fixes the schedule, so the history is the same on every machine.
    assert len(demo.history["events"]) == 54 and len(demo.history["effects"]) == 13
    assert result.replay_command == "chaosflow demo --seed 0"


def test_an_exploration_names_the_case_of_every_run_and_anomaly(careless: Any) -> None:
    result = careless.result
    assert len(result.cases) > 1
    by_case = {c.id: c for c in result.cases}
    # Every case runs the same run id; the case tells them apart.
    assert len({r.run_id for r in result.runs}) == 1
    assert len({(r.case, r.run_id) for r in result.runs}) == len(result.cases)
    assert result.anomalies
    for anomaly in result.anomalies:
        case = by_case[anomaly.case]
        assert case.verdict == "invalid"
        assert anomaly.replay_command == f"chaosflow replay {anomaly.replay_token}"
        assert anomaly.events and {e.seq for e in anomaly.events} <= set(anomaly.event_seqs)


def test_the_replay_command_is_the_first_failing_cases_token(careless: Any) -> None:
    result = careless.result
    failing = next(c for c in result.cases if c.verdict == "invalid")
    assert (
        result.replay_command
        == failing.replay_command
        == f"chaosflow replay {failing.replay_token}"
    )
    assert result.timeline is not None and result.timeline.case == result.anomalies[0].case
    page = reports.render_html(result)
    assert f"<code>{result.replay_command}</code>" in page
    assert f"Reruns the first failing case ({failing.id})." in page


def test_invariants_are_merged_over_the_cases(careless: Any) -> None:
    by_name = {i.name: i for i in careless.result.invariants}
    assert by_name["duplicate_effect"].verdict == "invalid"
    assert by_name["duplicate_effect"].note.startswith(f"{len(careless.result.cases)} cases: ")


@pytest.mark.parametrize(
    ("state", "terminal", "outcome"),
    [
        ("completed", True, "completed"),
        ("compensated", True, "rolled_back"),
        ("rolled_back", True, "rolled_back"),  # the name issue 12 may give it
        ("cancelled", True, "rolled_back"),
        ("compensation_failed", True, "failed"),
        ("rollback_failed", True, "failed"),
        ("running", False, "unfinished"),
    ],
)
def test_run_states_map_to_outcomes_as_strings(state: str, terminal: bool, outcome: str) -> None:
    assert run_outcome(state, terminal) == outcome


def test_an_error_result_has_verdict_error_and_no_score(tmp_path: Path) -> None:
    failed = error_result("checkout", OSError("toxiproxy did not start"), mode="real", seed=4)
    assert (failed.verdict, failed.score) == ("error", None)
    assert failed.error is not None and failed.error.kind == "OSError"
    assert "toxiproxy did not start" in failed.error.message
    assert reports.ResilienceResult.loads(failed.dumps()) == failed


def test_a_load_section_joins_a_result_and_its_windows_join_the_timeline(demo: Any) -> None:
    broken = load_section(
        thresholds=[
            {
                "metric": "e2e_p99_ms",
                "op": "<",
                "value": 1000.0,
                "observed": 1850.0,
                "passed": False,
            }
        ]
    )
    merged = result_with_load(demo.result, broken.model_dump())
    assert merged.load == broken
    assert merged.verdict == "invalid"  # a broken threshold makes it so
    window = merged.faults[-1]
    assert (window.kind, window.target, window.shape) == ("network", "store", "window")
    assert (window.start_s, window.end_s) == (10.0, 20.0)
    assert window.detail == "latency (latency=500)"
    again = result_with_load(merged, broken)
    assert len(again.faults) == len(merged.faults)  # not added twice

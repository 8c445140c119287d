"""The scenario a user writes without knowing the bug catches it, and the correct twin passes.

Each case is a scenario file as a user would write it, run the way ``chaosflow run`` runs it:
a latency fault past a step's timeout (late answers), requests slowed for longer than the step's
retries (a late request that lands after its refund), a dependency that stays down (a workflow
that retries forever), and every crash point of an order that ships and one that rolls back (a
compensation bug only the second run shows).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from scenarios import FileOutcome, load_scenario_file, run_scenario_file

pytestmark = pytest.mark.slow

ORDERS = """inputs:
  - {sku: book, amount: 1200, address: 1 Main St}
  - {sku: desk, amount: 23000, address: undeliverable}
"""

LATENCY_PAST_THE_TIMEOUT = """
faults:
  - kind: network
    target: payment
    trigger: {at: 0}
    duration: 10
    params: {toxic: latency, attributes: {latency: 3000}}
"""

SEARCH = """
explore: search
"""

SLOW_REQUESTS = """
faults:
  - kind: network
    target: payment
    trigger: {at: 0}
    duration: 6
    params: {toxic: latency, stream: upstream, attributes: {latency: 10000}}
"""

STAYS_DOWN = """
faults:
  - {kind: partition, target: carrier, trigger: {at: 0}, duration: forever}
"""

EVERY_CRASH_POINT = """
explore: crash_points
"""


def run_file(tmp_path: Path, workflow: str, body: str) -> FileOutcome:
    path = tmp_path / f"{workflow}.yaml"
    path.write_text(
        f"name: {workflow}\nworkflow: examples.saga_bugs:{workflow}\n{ORDERS}{body}"
        "invariants: [duplicate_effect, missing_compensation, spurious_compensation, "
        "stuck_workflow, effect_after_compensation, contract_violation]\n"
    )
    return run_scenario_file(load_scenario_file(path))


def anomalies(outcome: FileOutcome) -> set[str]:
    return {a.kind for case in outcome.outcomes for a in case.judgement.anomalies}


def verdicts(outcome: FileOutcome) -> set[str]:
    return {str(case.verdict) for case in outcome.outcomes}


@pytest.mark.parametrize(
    ("broken", "fixed", "body", "caught_as"),
    [
        # Item 2: the charge lands, its answer comes after the timeout, the refund looks for a
        # receipt that was never recorded.
        (
            "late_answer_bug",
            "late_answer_fixed",
            LATENCY_PAST_THE_TIMEOUT,
            {"missing_compensation"},
        ),
        # Item 2: requests to the payment API are slow for a while, longer than the charge's
        # retries; the refund, sent after the slow spell, finds nothing, and the charges still
        # on their way land after it.
        (
            "late_request_bug",
            "late_request_fixed",
            SLOW_REQUESTS,
            {"effect_after_compensation", "missing_compensation"},
        ),
        # Item 3: the carrier never comes back, and shipping retries for ever.
        ("stays_down_bug", "stays_down_fixed", STAYS_DOWN, {"stuck_workflow"}),
        # Item 5: only a crash in the order that rolls back shows the refund's bug.
        ("second_run_bug", "second_run_fixed", EVERY_CRASH_POINT, {"missing_compensation"}),
    ],
)
def test_the_natural_scenario_catches_the_bug_and_passes_the_fix(
    tmp_path: Path, broken: str, fixed: str, body: str, caught_as: set[str]
) -> None:
    caught = run_file(tmp_path, broken, body)
    assert "invalid" in verdicts(caught)
    assert caught_as <= anomalies(caught), anomalies(caught)
    held = run_file(tmp_path, fixed, body)
    assert verdicts(held) == {"valid"}, [
        a.detail for c in held.outcomes for a in c.judgement.anomalies
    ]


def test_the_rollback_bug_is_found_in_the_second_run(tmp_path: Path) -> None:
    found = run_file(tmp_path, "second_run_bug", EVERY_CRASH_POINT)
    failing = [case for case in found.outcomes if case.verdict == "invalid"]
    # Only crashes aimed at the second run (index 1, the one that rolls back) show it.
    assert failing and {c.scenario.plan.faults[-1].trigger.run for c in failing} == {1}
    (run_ids,) = {tuple(c.scenario.run_ids()) for c in failing}
    assert {a.run_id for c in failing for a in c.judgement.anomalies} == {run_ids[1]}


def test_the_default_search_budget_finds_the_second_run_bug(tmp_path: Path) -> None:
    found = run_file(tmp_path, "second_run_bug", SEARCH)
    assert "missing_compensation" in anomalies(found)
    (failing,) = [case for case in found.outcomes if case.verdict == "invalid"]
    assert len(failing.scenario.plan.faults) == 1  # one crash, the smallest plan there is


@pytest.mark.parametrize(
    ("example", "broken", "fixed", "caught_as"),
    [
        ("late_answer", "late_answer_bug", "late_answer_fixed", "missing_compensation"),
        ("carrier_stays_down", "stays_down_bug", "stays_down_fixed", "stuck_workflow"),
    ],
)
def test_the_readme_tutorials_examples_say_what_it_says(
    tmp_path: Path, example: str, broken: str, fixed: str, caught_as: str
) -> None:
    written = Path(__file__).resolve().parents[2] / "examples" / "scenarios" / f"{example}.yaml"
    caught = run_scenario_file(load_scenario_file(written))
    assert verdicts(caught) == {"invalid"} and caught_as in anomalies(caught)
    swapped = tmp_path / f"{example}.yaml"
    swapped.write_text(written.read_text().replace(broken, fixed))
    assert verdicts(run_scenario_file(load_scenario_file(swapped))) == {"valid"}

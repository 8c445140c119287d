"""The pytest plugin, run in a pytest of its own (pytester): fixtures, options and failures."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest

pytest_plugins = ["pytester"]

SUITE = """
from faults import Fault, FaultPlan
from scenarios import Scenario
from tests.scenarios._catalogue import careless_saga, SHIPS
from examples.order_saga import order_saga

PLAN = FaultPlan((Fault.crash("after_action", "charge_payment"),))

def test_correct_saga(chaos):
    outcome = chaos.run(Scenario("good", order_saga, [SHIPS], PLAN))
    assert outcome.verdict == "valid"

def test_careless_saga(chaos):
    chaos.run(Scenario("careless", careless_saga, [SHIPS], PLAN))

def test_orchestrator_fixture(chaos_orchestrator, effect_ledger):
    assert chaos_orchestrator.store.is_sqlite and effect_ledger.effects() == []
"""


def test_chaos_failures_show_the_anomaly_the_plan_and_the_token(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(test_suite=SUITE)
    report = pytester.path / "chaos-report"
    result = pytester.runpytest_subprocess(
        "-p",
        "no:cacheprovider",
        "--chaos-seed",
        "2",
        "--chaos-profile",
        "ci",
        "--chaos-report",
        str(report),
        "-W",
        "ignore::DeprecationWarning",
    )
    result.assert_outcomes(passed=2, failed=1)
    output = result.stdout.str()
    for expected in (
        "faults: crash (raise) at after_action #1 of charge_payment",
        "duplicate_effect run=careless-2-0000 steps=['charge_payment']",
        "replay token: cf2.",
        "replay: chaosflow replay cf2.",
        "Failed: chaos scenario 'careless'",
    ):
        assert expected in output, expected
    written = sorted(p.name for p in report.iterdir())
    assert written == ["000-good", "001-careless"]
    assert (report / "001-careless" / "report.html").exists()
    # The fixture's token (a scenario built in code, no file) replays from the command line,
    # in another folder, and reproduces the failure.
    token = re.search(r"replay: chaosflow replay (\S+)", output).group(1)  # type: ignore[union-attr]
    replayed = subprocess.run(
        [sys.executable, "-m", "chaosflow", "replay", token],
        cwd=pytester.path.parent,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert replayed.returncode == 1, replayed.stderr
    assert "duplicate_effect" in replayed.stdout and "verdict: invalid" in replayed.stdout


def test_an_unknown_profile_is_a_usage_error(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_x="def test_x():\n    pass\n")
    result = pytester.runpytest_subprocess("--chaos-profile", "turbo")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--chaos-profile='turbo'*"])


EXPLORE = """
name: explore
workflow: examples.order_saga:order_saga
seed: 4
inputs: [{sku: book-1, qty: 1, amount: 1200, address: 1 Main St}]
explore: crash_points
invariants: [duplicate_effect, missing_compensation, stuck_workflow]
budget: {examples: 6}
"""

CARELESS = """
name: careless
workflow: tests.scenarios._catalogue:careless_saga
inputs: [{sku: book-1, qty: 1, amount: 1200, address: 1 Main St}]
faults: [{kind: crash, trigger: {point: after_action, step: charge_payment}}]
invariants: [duplicate_effect]
"""


def test_scenario_files_are_items_one_per_case_spread_over_xdist_workers(
    pytester: pytest.Pytester,
) -> None:
    pytester.makefile(".yaml", chaos_explore=EXPLORE)
    result = pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", "-n", "2", "-v", "-W", "ignore::DeprecationWarning"
    )
    # Six cases within the file's budget of examples, each its own item.
    result.assert_outcomes(passed=6)
    output = result.stdout.str()
    assert "chaos_explore.yaml::explore[before_action:reserve_stock]" in output
    # Both workers ran cases: the suite was spread, not run twice or on one worker.
    assert "[gw0]" in output and "[gw1]" in output


def test_a_failing_scenario_file_case_prints_anomaly_token_and_faults(
    pytester: pytest.Pytester,
) -> None:
    pytester.makefile(".yaml", chaos_careless=CARELESS)
    result = pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", "-W", "ignore::DeprecationWarning"
    )
    result.assert_outcomes(failed=1)
    output = result.stdout.str()
    for expected in (
        "chaos scenario 'careless' (seed 0) is invalid",
        "duplicate_effect run=careless-0-0000 steps=['charge_payment']",
        "replay: chaosflow replay cf2.",
        "kind: crash",
    ):
        assert expected in output, expected
    assert "Traceback" not in output  # the scenario's account, not the runner's insides


def test_a_bad_scenario_file_is_a_collection_error_naming_the_key(
    pytester: pytest.Pytester,
) -> None:
    pytester.makefile(".yaml", chaos_bad=CARELESS + "colour: blue\n")
    result = pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", "-W", "ignore::DeprecationWarning"
    )
    result.assert_outcomes(errors=1)
    assert "colour='blue' is not a field here" in result.stdout.str()


def test_chaos_search_fails_with_the_smallest_failing_plan(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_search="""
from scenarios import Scenario
from tests.scenarios._catalogue import careless_saga, SHIPS

def test_search(chaos):
    chaos.search(Scenario("careless", careless_saga, [SHIPS], invariants=["duplicate_effect"]))
"""
    )
    result = pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", "-W", "ignore::DeprecationWarning"
    )
    result.assert_outcomes(failed=1)
    output = result.stdout.str()
    assert "the smallest that fails" in output
    assert "duplicate_effect run=careless-0-0000" in output
    assert "replay token: cf2." in output


FIXTURES = """
import json
import re
import subprocess
import sys

import pytest
from faults import FaultPlan
from orchestrator import Step, Workflow

@pytest.mark.chaos(plan="crash.yaml")
def test_plan_from_the_marker(fault_plan):
    assert fault_plan.seed == 5
    (fault,) = fault_plan.faults
    assert (fault.kind, fault.trigger.point) == ("crash", "after_action")
    assert fault.trigger.step == "charge"

def test_no_marker_no_faults(fault_plan):
    assert fault_plan.faults == () and fault_plan.seed == 5

def test_recording_services_write_the_tests_ledger(
    recording_service, effect_ledger, chaos_orchestrator
):
    payment = recording_service("payment", honour_keys=False)
    wf = Workflow("pay", [Step("charge", lambda ctx: payment.apply(ctx, amount=1))])
    run_id = chaos_orchestrator.submit(wf, {})
    chaos_orchestrator.run_until_quiet(max_seconds=30)
    assert [(e.service, e.run_id) for e in effect_ledger.effects()] == [("payment", run_id)]
    assert payment.honour_keys is False

def test_postgres_orchestrator(chaos_orchestrator_postgres):
    assert not chaos_orchestrator_postgres.store.is_sqlite
    wf = Workflow("noop", [Step("a", lambda ctx: 1)])
    run_id = chaos_orchestrator_postgres.submit(wf, {})
    chaos_orchestrator_postgres.run_until_quiet(max_seconds=30)
    assert chaos_orchestrator_postgres.status(run_id).state == "completed"

@pytest.mark.chaos(plan="missing.yaml")
def test_missing_plan(fault_plan):
    pass
"""


def test_fault_plan_recording_service_and_postgres_fixtures(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_fixtures=FIXTURES)
    pytester.makefile(
        ".yaml", crash="faults:\n  - {kind: crash, trigger: {point: after_action, step: charge}}\n"
    )
    result = pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", "--chaos-seed", "5", "-W", "ignore::DeprecationWarning"
    )
    result.assert_outcomes(passed=4, errors=1)
    assert "@pytest.mark.chaos(plan='missing.yaml'): cannot read" in result.stdout.str()


@pytest.mark.toxiproxy
@pytest.mark.slow
def test_a_real_mode_scenario_file_runs_for_real_as_an_item(pytester: pytest.Pytester) -> None:
    from pathlib import Path

    example = Path(__file__).resolve().parents[2] / "examples/scenarios/order_saga_real.yaml"
    pytester.makefile(".yaml", chaos_real=example.read_text())
    report = pytester.path / "report"
    result = pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", "--chaos-report", str(report), "-W", "ignore::DeprecationWarning"
    )
    result.assert_outcomes(passed=1)
    (folder,) = report.iterdir()
    document = json.loads((folder / "result.json").read_text())
    assert document["mode"] == "real"
    # A real SIGKILL happened and the runs still held.
    assert any("sigkill" in str(f).lower() for f in document["faults"]), document["faults"]

"""The pytest plugin, run in a pytest of its own (pytester): fixtures, options and failures."""

from __future__ import annotations

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
        "replay token: cf1.",
        "Failed: chaos scenario 'careless'",
    ):
        assert expected in output, expected
    written = sorted(p.name for p in report.iterdir())
    assert written == ["000-good", "001-careless"]
    assert (report / "001-careless" / "report.html").exists()


def test_an_unknown_profile_is_a_usage_error(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_x="def test_x():\n    pass\n")
    result = pytester.runpytest_subprocess("--chaos-profile", "turbo")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--chaos-profile='turbo'*"])

"""Comparing a result with a baseline: what counts as a regression, and what does not."""

from __future__ import annotations

from typing import Any

import pytest

from reports import HarnessError, ReportError, Tolerances, compare
from tests.reports._builders import (
    anomaly,
    invariant,
    load_section,
    make_load_result,
    make_result,
    run,
)


def good_baseline() -> Any:
    return make_result(
        invariants=(invariant("effects", "valid"), invariant("progress", "valid")),
        runs=(run("r1", "completed"), run("r2", "completed")),
        timeline=None,
    )


def test_the_same_result_has_not_regressed() -> None:
    comparison = compare(good_baseline(), good_baseline())
    assert not comparison.regressed
    assert comparison.reasons == ()
    assert comparison.score_delta == 0.0
    assert comparison.completion_rate_delta == 0.0
    assert comparison.new_anomalies == ()


def test_a_new_anomaly_is_a_regression() -> None:
    worse = make_result(
        invariants=(
            invariant("effects", "invalid", anomaly("duplicate_effect")),
            invariant("progress", "valid"),
        ),
        runs=(run("r1", "completed"), run("r2", "completed")),
    )
    comparison = compare(worse, good_baseline())
    assert comparison.regressed
    assert comparison.new_anomalies == ("duplicate_effect at charge",)
    assert comparison.new_anomaly_kinds == ("duplicate_effect",)
    assert comparison.verdict == "invalid" and comparison.baseline_verdict == "valid"
    assert comparison.baseline_score == 100.0
    assert any("new anomalies: duplicate_effect at charge" in r for r in comparison.reasons)
    assert any("verdict went from 'valid' to 'invalid'" in r for r in comparison.reasons)


def test_the_same_anomaly_again_is_not_new_but_another_step_is() -> None:
    before = make_result(invariants=(invariant("effects", "invalid", anomaly(steps=("charge",))),))
    again = make_result(invariants=(invariant("effects", "invalid", anomaly(steps=("charge",))),))
    assert compare(again, before).new_anomalies == ()
    elsewhere = make_result(invariants=(invariant("effects", "invalid", anomaly(steps=("ship",))),))
    assert compare(elsewhere, before).new_anomalies == ("duplicate_effect at ship",)


def test_a_lower_completion_rate_is_a_regression_even_when_invariants_hold() -> None:
    slower = make_result(
        invariants=(invariant("effects", "valid"), invariant("progress", "valid")),
        runs=(run("r1", "completed"), run("r2", "compensated")),
    )
    comparison = compare(slower, good_baseline())
    # A clean rollback keeps the score at 100, but fewer runs completed.
    assert comparison.score_delta == 0.0
    assert comparison.completion_rate == 0.5
    assert comparison.completion_rate_delta == pytest.approx(-0.5)
    assert comparison.reasons == ("completion rate fell from 100.0% to 50.0% (tolerance 0.0%)",)


def test_a_lower_score_beyond_the_tolerance_is_a_regression() -> None:
    baseline = make_result(
        invariants=(invariant("a", "valid"),),
        runs=tuple(run(f"r{i}", "completed") for i in range(10)),
    )
    one_stuck = make_result(
        invariants=(invariant("a", "valid"),),
        runs=(*(run(f"r{i}", "completed") for i in range(9)), run("r9", "running", ended=None)),
    )
    # valid band: 60 + 40 * (0.5 + 0.3 * 0.9) / 0.8 = 98.5, 1.5 points below 100.
    comparison = compare(one_stuck, baseline)
    assert comparison.score_delta == pytest.approx(-1.5)
    assert any(r.startswith("score fell by 1.5 points") for r in comparison.reasons)
    relaxed = compare(one_stuck, baseline, Tolerances(score_points=2.0, completion_rate=0.1))
    assert not relaxed.regressed


def test_a_worse_p99_beyond_the_tolerance_is_a_regression() -> None:
    baseline = make_load_result()  # p99 1850 ms

    def with_p99(p99: float) -> Any:
        summary = load_section().summary.model_dump()
        summary["e2e_latency_ms"]["p99"] = p99
        return make_load_result(load=load_section(summary=summary))

    assert not compare(with_p99(2200.0), baseline).regressed  # +19 %: inside 20 %
    worse = compare(with_p99(2300.0), baseline)  # +24 %
    assert worse.regressed and worse.p99_ms == 2300.0 and worse.baseline_p99_ms == 1850.0
    assert worse.reasons == (
        "end-to-end p99 rose from 1850.0 ms to 2300.0 ms (tolerance 20% and 5 ms)",
    )
    assert not compare(with_p99(2300.0), baseline, Tolerances(p99_ratio=0.5)).regressed


def test_a_slower_or_missed_recovery_is_a_regression() -> None:
    baseline = make_load_result()  # recovered in 2 s

    def recovering(seconds: float | None) -> Any:
        item = {"fault_index": 0, "recovered": seconds is not None, "time_to_recover_s": seconds}
        return make_load_result(load=load_section(recovery=[item]))

    assert not compare(recovering(2.9), baseline).regressed  # +0.9 s: under the 1 s floor
    slower = compare(recovering(6.0), baseline, Tolerances(score_points=100))
    assert slower.reasons == ("time to recover rose from 2.0 s to 6.0 s (tolerance 20% and 1 s)",)
    missed = compare(recovering(None), baseline, Tolerances(score_points=100))
    assert missed.reasons == ("1 fault(s) never recovered from, against 0 in the baseline",)


def test_an_improvement_is_not_a_regression_and_lists_resolved_kinds(sample: Any) -> None:
    comparison = compare(good_baseline(), sample)
    assert not comparison.regressed
    assert comparison.score_delta is not None and comparison.score_delta > 0
    assert comparison.resolved_anomaly_kinds == ("duplicate_effect", "missing_compensation")


def test_a_baseline_of_another_scenario_is_refused() -> None:
    other = make_result(scenario="checkout")
    with pytest.raises(ReportError, match=r"baseline is of scenario 'checkout', the result of "):
        compare(good_baseline(), other)


def test_an_error_baseline_is_refused_and_an_error_result_regressed() -> None:
    failed = make_result(error=HarnessError(kind="OSError", message="no server"))
    with pytest.raises(ReportError, match=r"has verdict 'error' .* Pass a baseline that finished"):
        compare(good_baseline(), failed)
    comparison = compare(failed, good_baseline())
    assert comparison.regressed and comparison.score_delta is None
    assert comparison.reasons[0] == "the harness could not finish the run (verdict 'error')"


@pytest.mark.parametrize("bad", [-1.0, float("nan"), "x"])
def test_a_bad_tolerance_is_refused(bad: object) -> None:
    with pytest.raises(ReportError, match=r"Tolerances got score_points=.*Pass a number >= 0"):
        Tolerances(score_points=bad)  # type: ignore[arg-type]

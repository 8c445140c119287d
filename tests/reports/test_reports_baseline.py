"""Comparing a result with a baseline: what counts as a regression, and what does not."""

from __future__ import annotations

from typing import Any

import pytest

from reports import ReportError, compare


def good_baseline(make: Any) -> Any:
    return make.result(
        checkers=(make.checker("effects", "valid"), make.checker("progress", "valid")),
        runs=(make.run("r1", "completed"), make.run("r2", "completed")),
    )


def test_the_same_result_has_not_regressed(make: Any) -> None:
    comparison = compare(good_baseline(make), good_baseline(make))
    assert not comparison.regressed
    assert comparison.reasons == ()
    assert comparison.score_delta == 0.0
    assert comparison.completion_rate_delta == 0.0
    assert comparison.new_anomaly_kinds == ()


def test_a_new_anomaly_kind_is_a_regression(make: Any) -> None:
    worse = make.result(
        checkers=(
            make.checker("effects", "invalid", make.anomaly("duplicate_effect")),
            make.checker("progress", "valid"),
        ),
        runs=(make.run("r1", "completed"), make.run("r2", "completed")),
    )
    comparison = compare(worse, good_baseline(make))
    assert comparison.regressed
    assert comparison.new_anomaly_kinds == ("duplicate_effect",)
    assert comparison.verdict == "invalid" and comparison.baseline_verdict == "valid"
    assert comparison.score == 50.0 and comparison.baseline_score == 100.0
    assert comparison.score_delta == -50.0
    assert any("new kinds of anomaly: duplicate_effect" in r for r in comparison.reasons)
    assert any("verdict went from 'valid' to 'invalid'" in r for r in comparison.reasons)


def test_a_lower_completion_rate_is_a_regression_even_when_checkers_pass(make: Any) -> None:
    slower = make.result(
        checkers=(make.checker("effects", "valid"), make.checker("progress", "valid")),
        runs=(make.run("r1", "completed"), make.run("r2", "rolled_back")),
    )
    comparison = compare(slower, good_baseline(make))
    # rolled_back is a clean rollback, so the score stays 100, but fewer runs completed.
    assert comparison.score_delta == 0.0
    assert comparison.completion_rate == 0.5
    assert comparison.completion_rate_delta == pytest.approx(-0.5)
    assert comparison.regressed
    assert comparison.reasons == ("completion rate fell from 100.0% to 50.0% (tolerance 0.0%)",)


def test_tolerances_absorb_small_drops(make: Any) -> None:
    baseline = make.result(
        checkers=(make.checker("a", "valid"),),
        runs=tuple(make.run(f"r{i}", "completed") for i in range(10)),
    )
    one_stuck = make.result(
        checkers=(make.checker("a", "valid"),),
        runs=(*(make.run(f"r{i}", "completed") for i in range(9)), make.run("r9", "running")),
    )
    assert compare(one_stuck, baseline).regressed  # score 90 < 100, rate 0.9 < 1.0
    relaxed = compare(one_stuck, baseline, score_tolerance=10.0, rate_tolerance=0.1)
    assert not relaxed.regressed
    assert relaxed.score_delta == pytest.approx(-10.0)


def test_an_improvement_is_not_a_regression_and_lists_resolved_kinds(
    make: Any, sample: Any
) -> None:
    comparison = compare(good_baseline(make), sample)
    assert not comparison.regressed
    assert comparison.score_delta > 0
    assert comparison.resolved_anomaly_kinds == ("duplicate_effect", "missing_compensation")


def test_a_baseline_without_runs_leaves_the_rate_delta_unknown(make: Any) -> None:
    comparison = compare(good_baseline(make), make.result(runs=(), checkers=()))
    assert comparison.baseline_completion_rate is None
    assert comparison.completion_rate_delta is None


def test_a_negative_tolerance_is_refused(sample: Any) -> None:
    with pytest.raises(ReportError, match=r"score_tolerance=-1\.0.*Pass a number >= 0"):
        compare(sample, sample, score_tolerance=-1.0)
    with pytest.raises(ReportError, match=r"rate_tolerance=nan"):
        compare(sample, sample, rate_tolerance=float("nan"))

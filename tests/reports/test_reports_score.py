"""The resilience score of hand-made results, each worked out by hand from the formula."""

from __future__ import annotations

from typing import Any

import pytest

from reports import resilience_score


def test_every_checker_valid_and_every_run_completed_scores_100(make: Any) -> None:
    result = make.result(
        checkers=(make.checker("a", "valid"), make.checker("b", "valid")),
        runs=(make.run("r1", "completed"), make.run("r2", "completed")),
    )
    assert resilience_score(result) == 100.0


def test_the_docstring_example(make: Any) -> None:
    # (100 + 100 + 50) / 3 * 3/4 = 62.5
    result = make.result(
        checkers=(
            make.checker("a", "valid"),
            make.checker("b", "valid"),
            make.checker("c", "unknown"),
        ),
        runs=(
            make.run("r1", "completed"),
            make.run("r2", "completed"),
            make.run("r3", "completed"),
            make.run("r4", "running", ended=None),
        ),
    )
    assert resilience_score(result) == pytest.approx(62.5)


def test_clean_rollbacks_count_as_good_and_a_failed_one_does_not(make: Any) -> None:
    # valid + invalid = 50 points; rolled_back and cancelled are good, compensation_failed not:
    # 50 * 2/3 = 33.33...
    result = make.result(
        checkers=(make.checker("a", "valid"), make.checker("b", "invalid", make.anomaly())),
        runs=(
            make.run("r1", "rolled_back"),
            make.run("r2", "cancelled"),
            make.run("r3", "compensation_failed"),
        ),
    )
    assert resilience_score(result) == pytest.approx(100 / 3)


def test_compensated_from_older_documents_still_counts_as_a_clean_rollback(make: Any) -> None:
    # rolled_back was called compensated before the orchestrator's schema version 2.
    result = make.result(
        checkers=(make.checker("a", "valid"),),
        runs=(make.run("r1", "compensated"), make.run("r2", "compensation_failed")),
    )
    assert resilience_score(result) == pytest.approx(50.0)


def test_the_sample_scores_by_hand(sample: Any) -> None:
    # invalid, invalid, valid = 100 / 3 points; 1 of 3 runs good (completed) -> 100/3 * 1/3.
    assert resilience_score(sample) == pytest.approx(100 / 9)


def test_unknown_states_count_against(make: Any) -> None:
    result = make.result(
        checkers=(make.checker("a", "valid"),),
        runs=(make.run("r1", "completed"), make.run("r2", "mystery")),
    )
    assert resilience_score(result) == pytest.approx(50.0)


def test_all_invalid_scores_zero(make: Any) -> None:
    result = make.result(checkers=(make.checker("a", "invalid", make.anomaly()),))
    assert resilience_score(result) == 0.0


def test_no_checker_counts_as_unknown_and_no_run_holds_nothing_against(make: Any) -> None:
    assert resilience_score(make.result(checkers=(), runs=())) == 50.0
    assert resilience_score(make.result(checkers=(make.checker("a", "valid"),), runs=())) == 100.0
    unchecked_half_good = make.result(
        checkers=(), runs=(make.run("r1", "completed"), make.run("r2", "running", ended=None))
    )
    assert resilience_score(unchecked_half_good) == 25.0

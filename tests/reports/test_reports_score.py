"""The resilience score: the band rule (an invalid result always below a valid one), and the
formula worked out by hand on small results."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from reports import (
    RECOVERY_TARGET_S,
    SCORE_BANDS,
    HarnessError,
    InvariantResult,
    RunRecord,
    resilience_score,
    score_parts,
)
from tests.reports._builders import (
    anomaly,
    invariant,
    load_section,
    make_load_result,
    make_result,
    run,
)

OUTCOMES = ["completed", "rolled_back", "failed", "unfinished"]


def runs_with(outcomes: list[str]) -> list[RunRecord]:
    return [
        RunRecord(
            run_id=f"r{i}",
            workflow="w",
            state=o,
            outcome=o,
            start_s=0.0,
            end_s=None if o == "unfinished" else 1.0,
        )
        for i, o in enumerate(outcomes)
    ]


def invariants_with(verdicts: list[str]) -> list[InvariantResult]:
    return [
        invariant(f"c{i}", v, *([anomaly()] if v == "invalid" else []))
        for i, v in enumerate(verdicts)
    ]


results_parts = st.tuples(
    st.lists(st.sampled_from(["valid", "invalid", "unknown"]), max_size=8),
    st.lists(st.sampled_from(OUTCOMES), max_size=8),
    st.none() | st.floats(0, 120),
)


def score_of(verdicts: list[str], outcomes: list[str], recovery: float | None) -> tuple[str, float]:
    invariants = invariants_with(verdicts)
    load = None
    if recovery is not None:
        load = load_section(
            recovery=[
                {
                    "fault_index": 0,
                    "recovered": recovery < 100,
                    "time_to_recover_s": recovery if recovery < 100 else None,
                }
            ],
            thresholds=[],
        )
    from reports import merge_verdicts

    verdict = merge_verdicts(verdicts)
    parts = score_parts(verdict, invariants, runs_with(outcomes), load)
    assert parts.score is not None
    return verdict, parts.score


@given(results_parts, results_parts)
def test_every_invalid_result_scores_below_every_unknown_and_every_valid_one(
    one: tuple[list[str], list[str], float | None], other: tuple[list[str], list[str], float | None]
) -> None:
    (verdict_a, score_a), (verdict_b, score_b) = score_of(*one), score_of(*other)
    rank = {"invalid": 0, "unknown": 1, "valid": 2}
    if rank[verdict_a] < rank[verdict_b]:
        assert score_a < score_b
    for verdict, score in ((verdict_a, score_a), (verdict_b, score_b)):
        low, high = SCORE_BANDS[verdict]
        assert low <= score <= high


def test_seven_of_eight_invariants_valid_is_still_below_a_barely_valid_result() -> None:
    # The case: 7 of 8 checkers valid used to score 87.5, above a valid result's 50.
    mostly = make_result(
        invariants=invariants_with(["valid"] * 7 + ["invalid"]), runs=runs_with(["completed"] * 4)
    )
    barely = make_result(
        invariants=invariants_with(["valid"]), runs=runs_with(["unfinished"] * 9 + ["completed"])
    )
    assert mostly.verdict == "invalid" and barely.verdict == "valid"
    assert mostly.score is not None and barely.score is not None
    assert mostly.score < barely.score
    # invalid: 25 * (0.5 * 7/8 + 0.3 * 1) / 0.8; valid: 60 + 40 * (0.5 * 1 + 0.3 * 0.1) / 0.8
    assert mostly.score == pytest.approx(25 * (0.5 * 7 / 8 + 0.3) / 0.8)
    assert barely.score == pytest.approx(60 + 40 * (0.5 + 0.03) / 0.8)


def test_every_invariant_valid_and_every_run_completed_scores_100() -> None:
    result = make_result(
        invariants=invariants_with(["valid", "valid"]), runs=runs_with(["completed", "rolled_back"])
    )
    assert result.score == 100.0 == resilience_score(result)


def test_the_docs_example_by_hand() -> None:
    # docs/reports.md: two valid and one unknown invariant over 4 runs, 3 good and 1 unfinished:
    # quality = (0.5 * (1 + 1 + 0.5) / 3 + 0.3 * 3/4) / 0.8 = 0.8021; unknown band 30..50.
    result = make_result(
        invariants=invariants_with(["valid", "valid", "unknown"]),
        runs=runs_with(["completed", "completed", "rolled_back", "unfinished"]),
    )
    quality = (0.5 * 2.5 / 3 + 0.3 * 0.75) / 0.8
    assert result.verdict == "unknown"
    assert result.score == pytest.approx(30 + 20 * quality)
    assert result.score == pytest.approx(46.04, abs=0.01)


def test_the_sample_scores_by_hand(sample: Any) -> None:
    # invalid, invalid, valid = 1/3; 1 of 3 runs good = 1/3; quality 1/3; invalid band 0..25.
    assert sample.score == pytest.approx(25 / 3, abs=1e-6)


def test_recovery_time_counts_for_a_load_run(load_sample: Any) -> None:
    # Recovered in 2 s of a 30 s target: 1 - 2/30; every invariant valid, every run completed.
    quality = 0.5 + 0.3 + 0.2 * (1 - 2 / RECOVERY_TARGET_S)
    assert load_sample.score == pytest.approx(60 + 40 * quality)
    never = make_load_result(
        load=load_section(
            recovery=[{"fault_index": 0, "recovered": False, "time_to_recover_s": None}]
        )
    )
    assert never.score == pytest.approx(60 + 40 * 0.8)


def test_a_broken_threshold_makes_a_load_run_invalid_and_scores_it_so() -> None:
    broken = make_load_result(
        load=load_section(
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
    )
    assert broken.verdict == "invalid"
    assert broken.score is not None and broken.score <= SCORE_BANDS["invalid"][1]
    undecided = make_load_result(
        load=load_section(
            thresholds=[
                {
                    "metric": "e2e_p99_ms",
                    "op": "<",
                    "value": 1000.0,
                    "observed": None,
                    "passed": None,
                }
            ]
        )
    )
    assert undecided.verdict == "unknown"


def test_no_invariant_is_unknown_and_no_run_holds_nothing_against() -> None:
    unchecked = make_result(invariants=(), runs=(), faults=())
    assert unchecked.verdict == "unknown"
    assert unchecked.score == pytest.approx(30 + 20 * 0.5)
    assert make_result(invariants=invariants_with(["valid"]), runs=()).score == 100.0


def test_an_error_result_has_no_score() -> None:
    failed = make_result(error=HarnessError(kind="OSError", message="no toxiproxy"))
    assert failed.verdict == "error"
    assert failed.score is None and resilience_score(failed) is None


def test_unknown_states_count_by_outcome_not_by_name() -> None:
    renamed = make_result(
        invariants=invariants_with(["valid"]),
        runs=(run("r1", "rolled_back", outcome="rolled_back"), run("r2", "mystery", ended=None)),
    )
    # rolled_back (whatever the orchestrator calls it) is good; unfinished is not: 1 of 2.
    assert renamed.score == pytest.approx(60 + 40 * (0.5 + 0.3 * 0.5) / 0.8)

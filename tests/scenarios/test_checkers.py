"""Checkers decide from hand-made histories, and a checker that raises says unknown."""

from __future__ import annotations

from dataclasses import dataclass

from scenarios import (
    Effect,
    History,
    Verdict,
    check,
    check_duplicate_effects,
    check_missing_compensations,
    check_progress,
    merge_verdicts,
)


@dataclass
class Ev:
    seq: int
    run_id: str
    step: str | None
    kind: str
    at: float = 0.0


def effect(seq: int, service: str, kind: str, run_id: str, step: str, key: str = "k") -> Effect:
    return Effect(seq, service, kind, key, run_id, step, 0.0, 1, {})


def test_duplicate_effect_found_and_located() -> None:
    history = History(
        events=[Ev(1, "r1", "charge", "step_claimed"), Ev(2, "r1", "charge", "step_claimed")],
        effects=[
            effect(1, "payment", "apply", "r1", "charge", "k1"),
            effect(2, "payment", "apply", "r1", "charge", "k2"),
        ],
    )
    result = check_duplicate_effects(history)
    assert result.verdict == Verdict.INVALID
    (anomaly,) = result.anomalies
    assert (anomaly.kind, anomaly.run_id, anomaly.steps, anomaly.event_seqs) == (
        "duplicate_effect",
        "r1",
        ("charge",),
        (1, 2),
    )


def test_one_apply_and_one_compensation_are_not_duplicates() -> None:
    history = History(
        events=[],
        effects=[
            effect(1, "payment", "apply", "r1", "charge"),
            effect(2, "payment", "compensate", "r1", "charge"),
        ],
    )
    assert check_duplicate_effects(history).verdict == Verdict.VALID


def test_missing_compensation_only_for_rolled_back_runs() -> None:
    events = [Ev(1, "r1", None, "run_compensated"), Ev(2, "r2", None, "run_completed")]
    effects = [
        effect(1, "stock", "apply", "r1", "reserve"),
        effect(2, "payment", "apply", "r1", "charge"),
        effect(3, "stock", "compensate", "r1", "reserve"),
        effect(4, "payment", "apply", "r2", "charge"),  # completed run: nothing to undo
    ]
    result = check_missing_compensations(History(events, effects, acknowledged=("r1", "r2")))
    assert result.verdict == Verdict.INVALID
    assert [(a.run_id, a.steps) for a in result.anomalies] == [("r1", ("charge",))]


def test_progress_needs_a_terminal_event_for_every_acknowledged_run() -> None:
    events = [Ev(1, "r1", None, "run_completed"), Ev(2, "r2", "a", "step_claimed")]
    result = check_progress(History(events, [], acknowledged=("r1", "r2")))
    assert result.verdict == Verdict.INVALID
    assert [a.run_id for a in result.anomalies] == ["r2"]
    assert check_progress(History(events, [])).verdict == Verdict.UNKNOWN


def test_a_checker_that_raises_is_unknown_never_valid() -> None:
    broken = History(
        events=[Ev(1, "r1", None, "run_completed")],
        effects=[None],  # type: ignore[list-item]
        acknowledged=("r1",),
    )
    judgement = check(broken, ["duplicate_effect", "stuck_workflow"])
    verdicts = {r.checker: r.verdict for r in judgement.results}
    assert verdicts == {"duplicate_effect": Verdict.UNKNOWN, "stuck_workflow": Verdict.VALID}
    assert judgement.verdict == Verdict.UNKNOWN


def test_verdicts_merge_worst_first() -> None:
    v, i, u = Verdict.VALID, Verdict.INVALID, Verdict.UNKNOWN
    assert merge_verdicts([v, v]) == v
    assert merge_verdicts([v, u]) == u
    assert merge_verdicts([u, i, v]) == i
    assert merge_verdicts([]) == u

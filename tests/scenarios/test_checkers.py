"""Checkers decide from hand-made histories, and a checker that raises says unknown."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest

from scenarios import (
    ANOMALY_KINDS,
    CHECKERS,
    CheckResult,
    Effect,
    History,
    ScenarioDefinitionError,
    Verdict,
    check,
    check_compensation_order,
    check_contracts,
    check_dependency_order,
    check_duplicate_effects,
    check_lost_workflows,
    check_missing_compensations,
    check_progress,
    check_spurious_compensations,
    merge_verdicts,
)


@dataclass
class Ev:
    seq: int
    run_id: str
    step: str | None
    kind: str
    at: float = 0.0
    detail: dict[str, Any] = field(default_factory=dict)


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
    events = [Ev(1, "r1", None, "run_rolled_back"), Ev(2, "r2", None, "run_completed")]
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


def test_every_anomaly_kind_has_its_checker() -> None:
    assert tuple(CHECKERS) == ANOMALY_KINDS


def test_missing_compensation_also_when_the_rollback_failed_for_good() -> None:
    events = [
        Ev(1, "r1", "charge", "compensation_failed"),
        Ev(2, "r1", None, "run_compensation_failed"),
    ]
    effects = [effect(1, "payment", "apply", "r1", "charge")]
    result = check_missing_compensations(History(events, effects, acknowledged=("r1",)))
    assert [(a.run_id, a.steps) for a in result.anomalies] == [("r1", ("charge",))]
    assert "compensation_failed" in result.anomalies[0].detail


def test_progress_counts_a_run_that_ended_after_the_bound_as_stuck() -> None:
    events = [
        Ev(1, "r1", None, "run_completed", at=50.0),
        Ev(2, "r2", None, "run_completed", at=900.0),
    ]
    history = History(events, [], acknowledged=("r1", "r2"), progress_deadline=600.0)
    result = check_progress(history)
    assert [a.run_id for a in result.anomalies] == ["r2"]
    assert "300.0s after the progress bound" in result.anomalies[0].detail
    # Without a stated bound only the end of the log counts.
    assert check_progress(History(events, [], acknowledged=("r1", "r2"))).verdict == Verdict.VALID


def test_spurious_compensation_an_undo_of_nothing_and_an_undo_of_a_completed_run() -> None:
    events = [
        Ev(1, "r1", None, "run_rolled_back"),
        Ev(2, "r2", None, "run_completed"),
        Ev(3, "r3", None, "run_rolled_back"),
    ]
    effects = [
        effect(1, "payment", "compensate", "r1", "charge"),  # a refund with no charge
        effect(2, "stock", "apply", "r2", "reserve"),
        effect(3, "stock", "compensate", "r2", "reserve"),  # undone, yet reported completed
        effect(4, "stock", "apply", "r3", "reserve"),
        effect(5, "stock", "compensate", "r3", "reserve"),  # a proper rollback
    ]
    result = check_spurious_compensations(History(events, effects))
    assert result.verdict == Verdict.INVALID
    found = sorted((a.run_id, a.steps) for a in result.anomalies)
    assert found == [("r1", ("charge",)), ("r2", ("reserve",))]
    assert "never applied" in next(a.detail for a in result.anomalies if a.run_id == "r1")
    assert "reported completed" in next(a.detail for a in result.anomalies if a.run_id == "r2")


DEPENDS = {"order": {"reserve": frozenset(), "charge": frozenset({"reserve"})}}


def test_dependency_order_from_the_log_and_from_the_services() -> None:
    in_order = [
        Ev(1, "r1", "reserve", "step_claimed"),
        Ev(2, "r1", "reserve", "step_completed"),
        Ev(3, "r1", "charge", "step_claimed"),
    ]
    early_claim = [Ev(4, "r2", "charge", "step_claimed"), Ev(5, "r2", "reserve", "step_completed")]
    effects = [
        effect(1, "stock", "apply", "r1", "reserve"),
        effect(2, "payment", "apply", "r1", "charge"),
        effect(3, "payment", "apply", "r3", "charge"),  # r3: the charge landed first
        effect(4, "stock", "apply", "r3", "reserve"),
    ]
    r3 = [Ev(6, "r3", "reserve", "step_completed"), Ev(7, "r3", "charge", "step_claimed")]
    history = History(
        in_order + early_claim + r3,
        effects,
        dependencies=DEPENDS,
        run_workflows={"r1": "order", "r2": "order", "r3": "order"},
    )
    result = check_dependency_order(history)
    assert result.verdict == Verdict.INVALID
    assert [(a.run_id, a.steps, a.event_seqs) for a in result.anomalies] == [
        ("r2", ("charge", "reserve"), (4,)),
        ("r3", ("charge", "reserve"), (7,)),
    ]
    assert "ledger entry 3" in result.anomalies[1].detail


def test_dependency_order_without_definitions_is_unknown() -> None:
    result = check_dependency_order(History([Ev(1, "r1", "a", "step_claimed")], []))
    assert result.verdict == Verdict.UNKNOWN
    assert "History.observe" in result.note


def test_lost_workflow_acknowledged_or_seen_by_services_but_unknown_to_the_log() -> None:
    events = [Ev(1, "r1", None, "run_submitted"), Ev(2, "r1", None, "run_completed")]
    effects = [effect(1, "payment", "apply", "ghost", "charge")]
    result = check_lost_workflows(History(events, effects, acknowledged=("r1", "r2")))
    assert result.verdict == Verdict.INVALID
    assert [(a.run_id, a.steps) for a in result.anomalies] == [("r2", ()), ("ghost", ("charge",))]
    assert check_lost_workflows(History(events, [], acknowledged=("r1",))).verdict == Verdict.VALID
    assert check_lost_workflows(History(events, [])).verdict == Verdict.UNKNOWN


def test_contract_violation_marked_by_the_orchestrator_and_an_undo_of_nothing_that_fails() -> None:
    events = [
        Ev(
            1,
            "r1",
            "charge",
            "step_failed",
            detail={"anomaly": "contract_violation", "error": "post"},
        ),
        Ev(2, "r2", "charge", "compensation_failed", detail={"error": "NothingToRefund"}),
        Ev(3, "r2", "charge", "escalation", detail={"error": "NothingToRefund"}),
        Ev(4, "r3", "charge", "compensation_failed", detail={"error": "GatewayDown"}),
    ]
    effects = [effect(1, "payment", "apply", "r3", "charge")]  # r3 had something to undo
    result = check_contracts(History(events, effects))
    assert result.verdict == Verdict.INVALID
    assert [(a.run_id, a.event_seqs) for a in result.anomalies] == [("r1", (1,)), ("r2", (2,))]
    assert "never applied" in result.anomalies[1].detail
    clean = [Ev(4, "r3", "charge", "compensation_failed", detail={"error": "GatewayDown"})]
    assert check_contracts(History(clean, effects)).verdict == Verdict.VALID


def test_checkers_of_your_own_run_beside_ours_and_unknown_names_are_refused() -> None:
    def no_effects_at_all(history: History) -> CheckResult:
        verdict = Verdict.INVALID if history.effects else Verdict.VALID
        return CheckResult("no_effects", verdict, (), f"{len(history.effects)} effects")

    history = History([Ev(1, "r1", None, "run_completed")], [effect(1, "p", "apply", "r1", "a")])
    judgement = check(
        history,
        ["duplicate_effect", "no_effects"],
        checkers={**CHECKERS, "no_effects": no_effects_at_all},
    )
    assert [(r.checker, r.verdict) for r in judgement.results] == [
        ("duplicate_effect", Verdict.VALID),
        ("no_effects", Verdict.INVALID),
    ]
    with pytest.raises(ScenarioDefinitionError, match=r"No checker named \['no_effects'\]"):
        check(history, ["no_effects"])


def test_a_parent_rolling_back_must_undo_its_completed_childs_effects() -> None:
    events = [
        Ev(1, "p", None, "run_submitted"),
        Ev(2, "p.sub", None, "run_submitted", detail={"parent": {"run_id": "p", "step": "sub"}}),
        Ev(3, "p.sub", None, "run_completed"),
        Ev(4, "p", None, "run_rolled_back"),
    ]
    effects = [
        effect(1, "stock", "apply", "p", "reserve"),
        effect(2, "payment", "apply", "p.sub", "capture"),
        effect(3, "stock", "compensate", "p", "reserve"),
    ]
    result = check_missing_compensations(History(events, effects, acknowledged=("p",)))
    assert [(a.run_id, a.steps) for a in result.anomalies] == [("p.sub", ("capture",))]
    assert "in its sub-workflow run 'p.sub'" in result.anomalies[0].detail


BRANCHES = {
    "order": {
        "reserve": frozenset(),
        "charge": frozenset({"reserve"}),
        "notify": frozenset({"reserve"}),  # independent of charge: a parallel branch
        "ship": frozenset({"charge"}),
    }
}


def test_compensation_order_with_definitions_is_reverse_dependency_order() -> None:
    runs = {"r1": "order", "r2": "order"}
    effects = [
        # r1: charge and notify are independent; undoing notify first, or last, is fine.
        effect(1, "payment", "compensate", "r1", "charge"),
        effect(2, "mail", "compensate", "r1", "notify"),
        effect(3, "stock", "compensate", "r1", "reserve"),
        # r2: reserve undone before ship, which depends on it (through charge).
        effect(4, "stock", "compensate", "r2", "reserve"),
        effect(5, "shipping", "compensate", "r2", "ship"),
    ]
    history = History([], effects, dependencies=BRANCHES, run_workflows=runs)
    result = check_compensation_order(history)
    assert [(a.run_id, a.steps) for a in result.anomalies] == [("r2", ("reserve", "ship"))]
    assert "which depends on it" in result.anomalies[0].detail
    swapped = [effect(1, "mail", "compensate", "r1", "notify"), *effects[:1], *effects[2:3]]
    ok = History([], swapped, dependencies=BRANCHES, run_workflows=runs)
    assert check_compensation_order(ok).verdict == Verdict.VALID


REFUSED = {"error": "shop.CardDeclined: declined", "definite": True, "code": "card_declined"}
TIMED_OUT = {"error": "orchestrator.StepTimeout: slow", "definite": False}


def test_a_compensation_of_a_definitely_failed_step_is_spurious() -> None:
    def history(failure: dict[str, Any]) -> History:
        return History(
            events=[
                Ev(1, "r1", "charge", "step_failed", detail=failure),
                Ev(2, "r1", None, "run_compensating"),
                Ev(3, "r1", "charge", "compensation_claimed"),
                Ev(4, "r1", "charge", "compensation_claimed"),  # retried: still one anomaly
                Ev(5, "r1", None, "run_rolled_back"),
            ],
            effects=[],
        )

    result = check_spurious_compensations(history(REFUSED))
    assert result.verdict == Verdict.INVALID
    (anomaly,) = result.anomalies
    assert (anomaly.run_id, anomaly.steps, anomaly.event_seqs) == ("r1", ("charge",), (1, 3))
    assert "failed definitely (event 1: shop.CardDeclined: declined)" in anomaly.detail
    # An indeterminate failure may have applied its effect: its compensation must run.
    assert check_spurious_compensations(history(TIMED_OUT)).verdict == Verdict.VALID


def test_a_definitely_failed_step_is_not_required_to_be_compensated_unless_it_applied() -> None:
    events = [
        Ev(1, "r1", "reserve", "step_completed"),
        Ev(2, "r1", "charge", "step_failed", detail=REFUSED),
        Ev(3, "r1", None, "run_rolled_back"),
    ]
    undone = [
        effect(1, "hotel", "apply", "r1", "reserve"),
        effect(2, "hotel", "compensate", "r1", "reserve"),
    ]
    assert (
        check_missing_compensations(History(events=events, effects=undone)).verdict == Verdict.VALID
    )
    # The services saw the "refused" charge land: the declaration was wrong, and the undo missing.
    landed = [*undone, effect(3, "bank", "apply", "r1", "charge")]
    result = check_missing_compensations(History(events=events, effects=landed))
    (anomaly,) = result.anomalies
    assert anomaly.steps == ("charge",)
    assert "taken as definite (event 2" in anomaly.detail


def test_a_failed_compensation_of_a_refused_step_is_not_held_against_its_contract() -> None:
    events = [
        Ev(1, "r1", "charge", "step_failed", detail=REFUSED),
        Ev(2, "r1", "charge", "compensation_claimed"),
        Ev(3, "r1", "charge", "compensation_failed", detail={"error": "RefundError: no charge"}),
    ]
    history = History(events=events, effects=[])
    assert check_contracts(history).verdict == Verdict.VALID
    assert check_spurious_compensations(history).verdict == Verdict.INVALID  # reported there
    indeterminate = History(
        events=[Ev(1, "r1", "charge", "step_failed", detail=TIMED_OUT), *events[1:]], effects=[]
    )
    assert check_contracts(indeterminate).verdict == Verdict.INVALID  # undoing nothing must work

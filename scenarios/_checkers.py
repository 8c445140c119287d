"""Checkers: each decides one invariant from a History, never from the orchestrator's own view.

A checker is a plain callable ``History -> CheckResult``. One that raises is reported as
``unknown`` (it could not decide), never as ``valid``.
"""

from __future__ import annotations

import itertools
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping

from ._history import History
from ._verdict import Anomaly, CheckResult, Judgement, Verdict

Checker = Callable[[History], CheckResult]


def check_duplicate_effects(history: History) -> CheckResult:
    """``duplicate_effect``: one logical effect (run, step, purpose) applied more than once."""
    counts = Counter((e.service, e.run_id, e.step, e.kind) for e in history.effects)
    anomalies = tuple(
        Anomaly(
            "duplicate_effect",
            run_id,
            (step,),
            history.seqs(run_id, step),
            f"service {service!r} applied the {kind} effect of step {step!r} {count} times",
        )
        for (service, run_id, step, kind), count in sorted(counts.items())
        if count > 1
    )
    verdict = Verdict.INVALID if anomalies else Verdict.VALID
    return CheckResult(
        "duplicate_effect",
        verdict,
        anomalies,
        f"{len(history.effects)} effects seen by the services",
    )


def check_missing_compensations(history: History) -> CheckResult:
    """``missing_compensation``: a run rolled back, but an effect it applied was not undone."""
    applied: dict[str, set[tuple[str, str]]] = defaultdict(set)
    undone: dict[str, set[tuple[str, str]]] = defaultdict(set)
    for effect in history.effects:
        target = applied if effect.kind == "apply" else undone
        target[effect.run_id].add((effect.service, effect.step))
    anomalies: list[Anomaly] = []
    rolled_back = 0
    for run_id in sorted(set(applied) | set(history.acknowledged)):
        end = history.terminal_event(run_id)
        if end is None or end.kind != "run_compensated":
            continue
        rolled_back += 1
        for service, step in sorted(applied[run_id] - undone[run_id]):
            anomalies.append(
                Anomaly(
                    "missing_compensation",
                    run_id,
                    (step,),
                    history.seqs(run_id, step),
                    f"run ended compensated (event {end.seq}) but the {service!r} effect of step "
                    f"{step!r} was never compensated",
                )
            )
    verdict = Verdict.INVALID if anomalies else Verdict.VALID
    return CheckResult(
        "missing_compensation",
        verdict,
        tuple(anomalies),
        f"{rolled_back} rolled-back runs examined",
    )


def check_progress(history: History) -> CheckResult:
    """``stuck_workflow``: an acknowledged run with no terminal event once the faults healed."""
    if not history.acknowledged:
        return CheckResult(
            "stuck_workflow",
            Verdict.UNKNOWN,
            (),
            "no acknowledged submissions in the history: nothing to decide",
        )
    anomalies = tuple(
        Anomaly(
            "stuck_workflow",
            run_id,
            (),
            history.seqs(run_id),
            "the run did not reach a terminal state within the progress bound",
        )
        for run_id in history.acknowledged
        if history.terminal_event(run_id) is None
    )
    verdict = Verdict.INVALID if anomalies else Verdict.VALID
    return CheckResult(
        "stuck_workflow", verdict, anomalies, f"{len(history.acknowledged)} acknowledged runs"
    )


def check_compensation_order(history: History) -> CheckResult:
    """``compensation_order``: a run's compensations not in reverse order of its effects.

    Decided from the services' side alone: if effect X was applied before effect Y, Y must be
    undone before X.
    """
    # Keyed by service: the effect a service applied is what must be undone in reverse order,
    # whichever step's compensation the workflow wired to undo it.
    applied: dict[str, list[str]] = defaultdict(list)
    undone: dict[str, list[str]] = defaultdict(list)
    for effect in sorted(history.effects, key=lambda e: e.seq):
        target = applied if effect.kind == "apply" else undone
        if effect.service not in target[effect.run_id]:
            target[effect.run_id].append(effect.service)
    anomalies = []
    for run_id, order in sorted(undone.items()):
        forward = [k for k in applied[run_id] if k in order]
        for first, second in itertools.pairwise(forward):
            if order.index(first) < order.index(second):
                anomalies.append(
                    Anomaly(
                        "compensation_order",
                        run_id,
                        (first, second),
                        history.seqs(run_id),
                        f"the {first!r} effect was undone before the {second!r} effect, which was "
                        "applied after it",
                    )
                )
    verdict = Verdict.INVALID if anomalies else Verdict.VALID
    return CheckResult(
        "compensation_order", verdict, tuple(anomalies), f"{len(undone)} runs with compensations"
    )


CHECKERS: Mapping[str, Checker] = {
    "duplicate_effect": check_duplicate_effects,
    "missing_compensation": check_missing_compensations,
    "stuck_workflow": check_progress,
    "compensation_order": check_compensation_order,
}


def check(history: History, invariants: Iterable[str] | None = None) -> Judgement:
    """Run the named checkers (all by default); a checker that raises is ``unknown``."""
    names = list(invariants) if invariants is not None else list(CHECKERS)
    results = []
    for name in names:
        try:
            results.append(CHECKERS[name](history))
        except Exception as error:  # a checker that cannot decide must not be read as valid
            results.append(
                CheckResult(
                    name, Verdict.UNKNOWN, (), f"checker raised {type(error).__name__}: {error}"
                )
            )
    return Judgement(tuple(results))

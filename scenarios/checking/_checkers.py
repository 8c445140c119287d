"""Checkers: each decides one invariant from a History, never from the orchestrator's own view.

A checker is a plain callable ``History -> CheckResult``. One that raises is reported as
``unknown`` (it could not decide), never as ``valid``.
"""

from __future__ import annotations

import itertools
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping

import networkx as nx

from .._errors import ScenarioDefinitionError
from ..effects import Effect
from ._history import ROLLBACK_END_EVENTS, History, LoggedEvent, event_detail
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
    return CheckResult.judged(
        "duplicate_effect", anomalies, f"{len(history.effects)} effects seen by the services"
    )


def check_missing_compensations(history: History) -> CheckResult:
    """``missing_compensation``: a run rolled back, but an effect it applied was not undone.

    The effects of the runs it started (sub-workflows) count as its own: a parent that rolls
    back must undo what its completed children did too.
    """
    applied: dict[str, set[tuple[str, str]]] = defaultdict(set)
    undone: dict[str, set[tuple[str, str]]] = defaultdict(set)
    for effect in history.effects:
        target = applied if effect.kind == "apply" else undone
        target[effect.run_id].add((effect.service, effect.step))
    parents = history.parents()
    anomalies: list[Anomaly] = []
    rolled_back = 0
    for run_id in sorted(set(applied) | set(history.acknowledged)):
        if run_id in parents:
            continue  # judged with the run that started it
        end = history.terminal_event(run_id)
        if end is None or end.kind not in ROLLBACK_END_EVENTS:
            continue
        rolled_back += 1
        for member in history.family(run_id):
            for service, step in sorted(applied[member] - undone[member]):
                where = "" if member == run_id else f" (in its sub-workflow run {member!r})"
                refused = history.definite_failure(member, step)
                # The services are the judge: an effect they applied needs undoing even when
                # the step's error was declared definite; then the declaration was wrong.
                why = (
                    ""
                    if refused is None
                    else f"; its failure was taken as definite (event {refused.seq}: "
                    f"{event_detail(refused).get('error', '?')}), yet the service applied the "
                    "effect, so that error does not mean 'refused'"
                )
                anomalies.append(
                    Anomaly(
                        "missing_compensation",
                        member,
                        (step,),
                        history.seqs(member, step),
                        f"run {run_id!r} ended {end.kind[4:]} (event {end.seq}) but the "
                        f"{service!r} effect of step {step!r}{where} was never compensated{why}",
                    )
                )
    return CheckResult.judged(
        "missing_compensation", anomalies, f"{rolled_back} rolled-back runs examined"
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
    deadline = history.progress_deadline
    anomalies = []
    for run_id in history.acknowledged:
        end = history.terminal_event(run_id)
        if end is None:
            detail = "the run did not reach a terminal state within the progress bound"
        elif deadline is not None and end.at > deadline:
            detail = (
                f"the run ended (event {end.seq}, {end.kind}) {end.at - deadline:.1f}s after the "
                "progress bound"
            )
        else:
            continue
        anomalies.append(Anomaly("stuck_workflow", run_id, (), history.seqs(run_id), detail))
    bound = ""
    if deadline is not None and history.events:
        # Relative to the log's first event: the clock's own origin (a virtual clock starts far
        # from zero) says nothing to a reader.
        bound = f", bound {deadline - history.events[0].at:.1f}s after the first event"
    return CheckResult.judged(
        "stuck_workflow", anomalies, f"{len(history.acknowledged)} acknowledged runs{bound}"
    )


def check_compensation_order(history: History) -> CheckResult:
    """``compensation_order``: a step undone before a step that depends on it.

    Decided from the services' side: the step an undo effect was recorded for, in the order the
    services saw the undos. With the workflow's definition (``History.observe``), a step must be
    undone only after every step that depends on it, directly or not; independent branches may
    be undone in either order. Without one, effects are judged by the order they were applied:
    if X was applied before Y, Y must be undone before X.
    """
    first_undo: dict[str, dict[str, int]] = defaultdict(dict)
    for effect in sorted(history.effects, key=lambda e: e.seq):
        if effect.kind != "apply":
            first_undo[effect.run_id].setdefault(effect.step, effect.seq)
    anomalies: list[Anomaly] = []
    for run_id, undos in sorted(first_undo.items()):
        depends = history.dependencies_of(run_id)
        if depends:
            anomalies.extend(_undone_before_dependents(history, run_id, undos, depends))
        else:
            anomalies.extend(_undone_out_of_application_order(history, run_id))
    return CheckResult.judged("compensation_order", anomalies, f"{len(first_undo)} runs with undos")


def _undone_before_dependents(
    history: History,
    run_id: str,
    undos: Mapping[str, int],
    depends: Mapping[str, frozenset[str]],
) -> list[Anomaly]:
    graph: nx.DiGraph = nx.DiGraph()
    graph.add_nodes_from(depends)
    graph.add_edges_from((d, step) for step, needs in depends.items() for d in needs)
    found = []
    for step, seq in sorted(undos.items(), key=lambda item: item[1]):
        if step not in graph:
            continue
        late = sorted(d for d in nx.descendants(graph, step) if undos.get(d, -1) > seq)
        for dependent in late:
            found.append(
                Anomaly(
                    "compensation_order",
                    run_id,
                    (step, dependent),
                    history.seqs(run_id, step) + history.seqs(run_id, dependent),
                    f"step {step!r} was undone (ledger entry {seq}) before step {dependent!r}, "
                    f"which depends on it (ledger entry {undos[dependent]})",
                )
            )
    return found


def _undone_out_of_application_order(history: History, run_id: str) -> list[Anomaly]:
    # Keyed by service: the effect a service applied is what must be undone in reverse order,
    # whichever step's compensation the workflow wired to undo it.
    applied: list[str] = []
    undone: list[str] = []
    for effect in sorted(history.effects, key=lambda e: e.seq):
        if effect.run_id != run_id:
            continue
        target = applied if effect.kind == "apply" else undone
        if effect.service not in target:
            target.append(effect.service)
    forward = [k for k in applied if k in undone]
    return [
        Anomaly(
            "compensation_order",
            run_id,
            (first, second),
            history.seqs(run_id),
            f"the {first!r} effect was undone before the {second!r} effect, which was applied "
            "after it",
        )
        for first, second in itertools.pairwise(forward)
        if undone.index(first) < undone.index(second)
    ]


def check_spurious_compensations(history: History) -> CheckResult:
    """``spurious_compensation``: an undo the services saw for an effect that should stand.

    Either the service undid an effect it never applied for that run and step (a refund with no
    charge: money out of thin air), or it undid effects of a run the orchestrator reported as
    completed (the client was told the order went through; the services say it did not), or
    the orchestrator ran the compensation of a step whose failure was definite (the service
    refused, so there was nothing to undo: a refund for a declined card).
    """
    applied: set[tuple[str, str, str]] = set()
    anomalies: list[Anomaly] = []
    undone_runs: dict[str, list[Effect]] = defaultdict(list)
    for effect in sorted(history.effects, key=lambda e: e.seq):
        key = (effect.service, effect.run_id, effect.step)
        if effect.kind == "apply":
            applied.add(key)
            continue
        undone_runs[effect.run_id].append(effect)
        if key not in applied:
            anomalies.append(
                Anomaly(
                    "spurious_compensation",
                    effect.run_id,
                    (effect.step,),
                    history.seqs(effect.run_id, effect.step),
                    f"service {effect.service!r} undid an effect of step {effect.step!r} (ledger "
                    f"entry {effect.seq}) that it had never applied for this run",
                )
            )
    anomalies += _compensations_of_refused_steps(history)
    for run_id, undos in sorted(undone_runs.items()):
        end = history.terminal_event(run_id)
        if end is not None and end.kind == "run_completed":
            steps = tuple(sorted({e.step for e in undos}))
            anomalies.append(
                Anomaly(
                    "spurious_compensation",
                    run_id,
                    steps,
                    history.seqs(run_id),
                    f"the run was reported completed (event {end.seq}) but the services undid "
                    f"the effects of {', '.join(repr(s) for s in steps)}",
                )
            )
    return CheckResult.judged(
        "spurious_compensation",
        anomalies,
        f"{sum(len(u) for u in undone_runs.values())} undo effects seen by the services",
    )


def _compensations_of_refused_steps(history: History) -> list[Anomaly]:
    """From the log: a compensation ran for a step whose failure was definite.

    A refused step applied nothing; running its compensation (a refund for a declined card, a
    cancellation of a flight never booked) is an undo of nothing that a service may not
    tolerate, and the saga semantics say it must not happen.
    """
    found = []
    for event in sorted(history.events, key=lambda e: e.seq):
        if event.kind != "compensation_claimed" or event.step is None:
            continue
        refused = history.definite_failure(event.run_id, event.step)
        if refused is None or refused.seq > event.seq:
            continue
        found.append(
            Anomaly(
                "spurious_compensation",
                event.run_id,
                (event.step,),
                (refused.seq, event.seq),
                f"the compensation of step {event.step!r} ran (event {event.seq}) although the "
                f"step failed definitely (event {refused.seq}: "
                f"{event_detail(refused).get('error', '?')}): a refused step applied nothing",
            )
        )
    return _first_per_step(found)


def _first_per_step(anomalies: list[Anomaly]) -> list[Anomaly]:
    # A compensation retried three times is one anomaly, not three.
    seen: set[tuple[str, tuple[str, ...]]] = set()
    kept = []
    for anomaly in anomalies:
        key = (anomaly.run_id, anomaly.steps)
        if key not in seen:
            seen.add(key)
            kept.append(anomaly)
    return kept


_FAILED = ("step_failed", "compensation_failed")
# A replaced primary has settled: its fallback (and its dependents) may then run.
_SETTLED_FORWARD = (
    "step_completed",
    "step_skipped",
    "step_branch_skipped",
    "step_replaced",
    "step_replaced_indeterminate",
)


def check_dependency_order(history: History) -> CheckResult:
    """``dependency_order``: a step ran or applied its effect before a step it depends on.

    From the log: a step's action was claimed before each of its dependencies settled. From the
    services: a step's effect landed before the effect of a dependency that has one.
    """
    if not history.dependencies:
        return CheckResult(
            "dependency_order",
            Verdict.UNKNOWN,
            (),
            "the history carries no workflow definitions, so no dependency is known: build it "
            "with History.observe(...) or pass dependencies=",
        )
    first_apply: dict[tuple[str, str], int] = {}
    for effect in sorted(history.effects, key=lambda e: e.seq):
        if effect.kind == "apply":
            first_apply.setdefault((effect.run_id, effect.step), effect.seq)
    anomalies: list[Anomaly] = []
    judged = 0
    for run_id, events in sorted(history.events_by_run().items()):
        depends = history.dependencies_of(run_id)
        if not depends:
            continue
        judged += 1
        claimed_early = _claimed_before_dependencies(run_id, events, depends)
        anomalies += claimed_early
        reported = {a.steps[0] for a in claimed_early}
        anomalies += _applied_before_dependencies(
            history, run_id, first_apply, depends, skip=reported
        )
    return CheckResult.judged(
        "dependency_order", anomalies, f"{judged} runs with known definitions"
    )


def _claimed_before_dependencies(
    run_id: str, events: Iterable[LoggedEvent], depends: Mapping[str, frozenset[str]]
) -> list[Anomaly]:
    """From the log: a step's first claim came before each of its dependencies settled."""
    settled: set[str] = set()
    reported: set[str] = set()
    found: list[Anomaly] = []
    for event in events:
        if event.step is None:
            continue
        if event.kind in _SETTLED_FORWARD:
            settled.add(event.step)
            continue
        if event.kind != "step_claimed" or event.step in reported:
            continue
        waiting = sorted(depends.get(event.step, frozenset()) - settled)
        if waiting:
            reported.add(event.step)
            found.append(
                Anomaly(
                    "dependency_order",
                    run_id,
                    (event.step, *waiting),
                    (event.seq,),
                    f"step {event.step!r} was claimed (event {event.seq}) before its "
                    f"dependencies {waiting!r} had settled",
                )
            )
    return found


def _applied_before_dependencies(
    history: History,
    run_id: str,
    first_apply: Mapping[tuple[str, str], int],
    depends: Mapping[str, frozenset[str]],
    *,
    skip: set[str],
) -> list[Anomaly]:
    """From the services: a step's effect landed before the effect of a dependency."""
    found = []
    for step, needs in sorted(depends.items()):
        mine = first_apply.get((run_id, step))
        if mine is None or step in skip:
            continue
        early = sorted(d for d in needs if first_apply.get((run_id, d), -1) > mine)
        if early:
            found.append(
                Anomaly(
                    "dependency_order",
                    run_id,
                    (step, *early),
                    history.seqs(run_id, step),
                    f"the services saw step {step!r}'s effect (ledger entry {mine}) before the "
                    f"effects of its dependencies {early!r}",
                )
            )
    return found


def check_lost_workflows(history: History) -> CheckResult:
    """``lost_workflow``: a run acknowledged to the client, or seen by the services, that the
    orchestrator's log does not know."""
    if not history.acknowledged and not history.effects:
        return CheckResult(
            "lost_workflow",
            Verdict.UNKNOWN,
            (),
            "no acknowledged submissions and no effects in the history: nothing to decide",
        )
    known = {e.run_id for e in history.events if e.kind == "run_submitted"}
    anomalies = [
        Anomaly(
            "lost_workflow",
            run_id,
            (),
            history.seqs(run_id),
            "the submission was acknowledged to the client but the orchestrator has no record of "
            "it",
        )
        for run_id in history.acknowledged
        if run_id not in known
    ]
    ghosts: dict[str, list[Effect]] = defaultdict(list)
    for effect in history.effects:
        if effect.run_id not in known and effect.run_id not in history.acknowledged:
            ghosts[effect.run_id].append(effect)
    for run_id, effects in sorted(ghosts.items()):
        anomalies.append(
            Anomaly(
                "lost_workflow",
                run_id,
                tuple(sorted({e.step for e in effects})),
                (),
                f"the services applied {len(effects)} effect(s) for run {run_id!r}, which the "
                "orchestrator has no record of",
            )
        )
    return CheckResult.judged(
        "lost_workflow",
        anomalies,
        f"{len(history.acknowledged)} acknowledged runs, {len(known)} known to the log",
    )


def check_contracts(history: History) -> CheckResult:
    """``contract_violation``: a step broke its declared contract, or a compensation broke the
    contract every compensation has: undoing what is not there must succeed.

    The first is what the orchestrator marked (a failed pre- or postcondition). The second is
    decided against the services: a compensation that failed for good although the service shows
    nothing left to undo for that step (never applied, or already undone).
    """
    applied: Counter[tuple[str, str]] = Counter()
    undone: Counter[tuple[str, str]] = Counter()
    for effect in history.effects:
        (applied if effect.kind == "apply" else undone)[(effect.run_id, effect.step)] += 1
    anomalies = []
    excused: list[str] = []
    for event in sorted(history.events, key=lambda e: e.seq):
        # The failure event only: an escalation repeats the same detail.
        if event.kind in _FAILED and event_detail(event).get("anomaly") == "contract_violation":
            anomalies.append(
                Anomaly(
                    "contract_violation",
                    event.run_id,
                    (event.step,) if event.step else (),
                    (event.seq,),
                    f"{event.kind}: {event_detail(event).get('error', 'contract broken')}",
                )
            )
        elif (
            event.kind == "compensation_failed"
            and event.step is not None
            # A sub-workflow step's undo is its child's rollback, judged in the child's run.
            and "child" not in event_detail(event)
            # A refused step's compensation should not have run at all: that is reported as
            # spurious_compensation, not held against the compensation's contract.
            and history.definite_failure(event.run_id, event.step) is None
        ):
            key = (event.run_id, event.step)
            in_force = history.faults_in_force(event.at, compensation_of=event.step)
            if in_force:
                # Failed while a fault was in force: the outage, not the compensation, may be
                # why; an escalation, not a broken contract.
                excused.append(f"{event.run_id}/{event.step}")
            elif applied[key] <= undone[key]:
                what = "never applied" if applied[key] == 0 else "already undone"
                anomalies.append(
                    Anomaly(
                        "contract_violation",
                        event.run_id,
                        (event.step,),
                        (event.seq,),
                        f"the compensation of step {event.step!r} failed for good (event "
                        f"{event.seq}: {event_detail(event).get('error', '?')}) although the "
                        f"services show its effect {what}: undoing nothing must succeed",
                    )
                )
    note = f"{len(history.events)} events examined"
    if excused:
        note += (
            f"; {len(excused)} compensation(s) that failed while a fault was in force not "
            f"judged ({', '.join(excused[:3])})"
        )
    return CheckResult.judged("contract_violation", anomalies, note)


def check_effects_after_compensation(history: History) -> CheckResult:
    """``effect_after_compensation``: a forward effect that landed after its own undo.

    The request was sent, the step was given up on (a timeout, a lost answer, a dead worker) and
    compensated, and only then did the service apply it: the zombie effect stands, undone by
    nothing. Decided from the service's own times: the apply against the service's record of
    the undo, or, when the undo found nothing to record, against the end of the compensation
    in the orchestrator's log.
    """
    undo_effect: dict[tuple[str, str, str], Effect] = {}
    for effect in history.effects:
        if effect.kind != "apply":
            undo_effect.setdefault((effect.service, effect.run_id, effect.step), effect)
    compensated: dict[tuple[str, str], LoggedEvent] = {}
    for event in sorted(history.events, key=lambda e: e.seq):
        if event.kind == "step_compensated" and event.step is not None:
            compensated.setdefault((event.run_id, event.step), event)
    anomalies = []
    for effect in sorted(history.effects, key=lambda e: e.seq):
        if effect.kind != "apply":
            continue
        undo = undo_effect.get((effect.service, effect.run_id, effect.step))
        logged = compensated.get((effect.run_id, effect.step))
        if undo is not None and undo.seq < effect.seq:
            when = f"after the service's undo (ledger entry {undo.seq})"
        elif undo is None and logged is not None and effect.at > logged.at:
            when = f"{effect.at - logged.at:.3f}s after the compensation ended (event {logged.seq})"
        else:
            continue
        anomalies.append(
            Anomaly(
                "effect_after_compensation",
                effect.run_id,
                (effect.step,),
                history.seqs(effect.run_id, effect.step),
                f"service {effect.service!r} applied the effect of step {effect.step!r} (ledger "
                f"entry {effect.seq}) {when}: nothing undoes it now",
            )
        )
    return CheckResult.judged(
        "effect_after_compensation",
        anomalies,
        f"{sum(e.kind == 'apply' for e in history.effects)} applied effects examined",
    )


CHECKERS: Mapping[str, Checker] = {
    "duplicate_effect": check_duplicate_effects,
    "missing_compensation": check_missing_compensations,
    "spurious_compensation": check_spurious_compensations,
    "compensation_order": check_compensation_order,
    "dependency_order": check_dependency_order,
    "stuck_workflow": check_progress,
    "lost_workflow": check_lost_workflows,
    "contract_violation": check_contracts,
    "effect_after_compensation": check_effects_after_compensation,
}


def check(
    history: History,
    invariants: Iterable[str] | None = None,
    *,
    checkers: Mapping[str, Checker] = CHECKERS,
) -> Judgement:
    """Run the named checkers (all of ``checkers`` by default); one that raises is ``unknown``.

    Pass ``checkers={**CHECKERS, "mine": my_checker}`` to run checkers of your own beside ours.
    """
    names = list(invariants) if invariants is not None else list(checkers)
    unknown = [name for name in names if name not in checkers]
    if unknown:
        raise ScenarioDefinitionError(
            f"No checker named {unknown!r}; known: {', '.join(checkers)}. Pass checkers= to add "
            "your own."
        )
    results = []
    for name in names:
        try:
            results.append(checkers[name](history))
        except Exception as error:  # a checker that cannot decide must not be read as valid
            results.append(
                CheckResult(
                    name, Verdict.UNKNOWN, (), f"checker raised {type(error).__name__}: {error}"
                )
            )
    return Judgement(tuple(results))

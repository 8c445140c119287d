"""What a scenario run produced, and how a finished run (sim or real) is judged."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from faults import InjectedFault
from orchestrator import Orchestrator, RunStatus

from ._scenario import Scenario
from .checking import FaultWindow, History, Judgement, Verdict, check
from .effects import Effect


class EffectSource(Protocol):
    """Where a judge reads the effects the services applied: a ledger, or a ledger and probes."""

    def effects(self) -> list[Effect]:
        """Every effect, in the order the services applied them."""
        ...


@dataclass(frozen=True)
class ScenarioOutcome:
    """What a scenario run produced: the judgement, the runs, the faults that fired."""

    scenario: Scenario
    mode: str
    started_at: str
    duration_s: float
    judgement: Judgement
    runs: Sequence[RunStatus]
    faults: Sequence[InjectedFault]
    history: History
    origin: float  # the virtual time at which the scenario started

    @property
    def verdict(self) -> Verdict:
        """The merged verdict."""
        return self.judgement.verdict


def judge(
    scenario: Scenario,
    mode: str,
    orchestrator: Orchestrator,
    ledger: EffectSource,
    acknowledged: Sequence[str],
    *,
    progress_deadline: float,
    token: str,
    started: tuple[str, float],
    faults: Sequence[InjectedFault],
    origin: float,
    meta: Mapping[str, Any] | None = None,
) -> ScenarioOutcome:
    """The outcome of a finished scenario run, sim or real: its history, judged, with tokens.

    ``started`` is the start as an ISO timestamp and as a ``perf_counter`` reading.
    """
    runs = orchestrator.runs()
    history = History.observe(
        orchestrator,
        ledger.effects(),
        acknowledged,
        workflows=[scenario.workflow],
        progress_deadline=progress_deadline,
        meta=meta,
        runs=runs,
        faults=[FaultWindow(f.kind, f.target, f.at, f.healed_at, f.purpose) for f in faults],
    )
    judgement = check(history, scenario.invariants)
    judgement = Judgement(tuple(r.with_token(token) for r in judgement.results))
    return ScenarioOutcome(
        scenario,
        mode,
        started[0],
        time.perf_counter() - started[1],
        judgement,
        runs,
        faults,
        history,
        origin,
    )

"""Run a scenario in one process: seeded logical workers, a virtual clock, in-process faults.

The orchestrator runs for real on a SQLite file; faults attach to its hooks; a worker that
crashes is dropped (its lease stays behind, as a dead process's would) and a fresh worker takes
its place, so recovery goes through lease expiry exactly as it does across processes.
"""

from __future__ import annotations

import base64
import json
import os
import random
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from faults import FaultPlan, InjectedFault, SimulatedCrash
from orchestrator import ManualClock, Orchestrator, RunStatus, Workflow

from ._checkers import CHECKERS, check
from ._effects import LEDGER_ENV, EffectLedger
from ._errors import ScenarioDefinitionError
from ._history import History
from ._verdict import Judgement, Verdict


@dataclass(frozen=True)
class Scenario:
    """A workflow, the inputs to submit, the faults to inject and the invariants to check."""

    name: str
    workflow: Workflow
    inputs: Sequence[Mapping[str, Any]]
    plan: FaultPlan = field(default_factory=FaultPlan)
    invariants: Sequence[str] = tuple(CHECKERS)
    seed: int = 0
    workers: int = 2
    lease_seconds: float = 5.0
    # The progress bound, in virtual seconds: runs not terminal by then are stuck.
    max_seconds: float = 600.0

    def __post_init__(self) -> None:
        if not self.invariants:
            raise ScenarioDefinitionError(
                f"Scenario {self.name!r} checks no invariant. Name at least one of "
                f"{', '.join(CHECKERS)}."
            )
        unknown = [name for name in self.invariants if name not in CHECKERS]
        if unknown:
            raise ScenarioDefinitionError(
                f"Scenario {self.name!r} names unknown invariant(s) {unknown!r}; known: "
                f"{', '.join(CHECKERS)}."
            )
        if not self.inputs:
            raise ScenarioDefinitionError(
                f"Scenario {self.name!r} submits no run. Give it at least one input."
            )
        if self.workers < 1:
            raise ScenarioDefinitionError(
                f"Scenario {self.name!r}: workers={self.workers!r} must be at least 1."
            )

    def replay_token(self) -> str:
        """A token that names this exact case: scenario, seed and fault plan."""
        body = json.dumps(
            {"v": 1, "scenario": self.name, "seed": self.seed, "plan": self.plan.to_dict()},
            sort_keys=True,
            separators=(",", ":"),
        )
        return "cf1." + base64.urlsafe_b64encode(body.encode()).decode().rstrip("=")


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


def decode_replay_token(token: str) -> dict[str, Any]:
    """The scenario name, seed and plan inside a replay token."""
    if not token.startswith("cf1."):
        raise ScenarioDefinitionError(
            f"Replay token {token[:20]!r}... does not start with 'cf1.'; copy the whole token "
            "from the failure output."
        )
    body = token[4:] + "=" * (-len(token[4:]) % 4)
    try:
        decoded: dict[str, Any] = json.loads(base64.urlsafe_b64decode(body))
    except ValueError as error:
        raise ScenarioDefinitionError(f"Replay token is damaged ({error}).") from None
    return decoded


@contextmanager
def _ledger_env(path: Path) -> Iterator[None]:
    previous = os.environ.get(LEDGER_ENV)
    os.environ[LEDGER_ENV] = str(path)
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop(LEDGER_ENV, None)
        else:
            os.environ[LEDGER_ENV] = previous


def run_in_process(
    scenario: Scenario, workdir: str | os.PathLike[str] | None = None
) -> ScenarioOutcome:
    """Run ``scenario`` on a SQLite file in ``workdir`` (a temp dir by default) and judge it."""
    if workdir is None:
        with tempfile.TemporaryDirectory(prefix="chaosflow-") as tmp:
            return run_in_process(scenario, tmp)
    folder = Path(workdir)
    folder.mkdir(parents=True, exist_ok=True)
    started_wall = time.perf_counter()
    started_at = datetime.now(UTC).isoformat(timespec="seconds")
    ledger = EffectLedger(folder / "effects.db")
    clock = ManualClock(start=1_000_000.0)
    orchestrator = Orchestrator(f"sqlite:///{folder / 'store.db'}", clock=clock)
    orchestrator.register(scenario.workflow)
    injectors = [fault.injector(mode="raise") for fault in scenario.plan.faults]
    for injector in injectors:
        orchestrator.hooks.add_listener(injector)
    rng = random.Random(scenario.seed)
    acknowledged: list[str] = []
    try:
        with _ledger_env(ledger.path):
            for index, payload in enumerate(scenario.inputs):
                run_id = f"{scenario.name}-{scenario.seed}-{index:04d}"
                acknowledged.append(orchestrator.submit(scenario.workflow, payload, run_id=run_id))
            _drive(orchestrator, scenario, clock, rng)
        history = History(
            events=orchestrator.events(),
            effects=ledger.effects(),
            acknowledged=tuple(acknowledged),
            compensable={
                scenario.workflow.name: frozenset(
                    n for n, s in scenario.workflow.steps.items() if s.compensation
                )
            },
        )
        token = scenario.replay_token()
        judgement = check(history, scenario.invariants)
        judgement = Judgement(tuple(r.with_token(token) for r in judgement.results))
        return ScenarioOutcome(
            scenario,
            "sim",
            started_at,
            time.perf_counter() - started_wall,
            judgement,
            orchestrator.runs(),
            [f for i in injectors for f in i.fired],
            history,
            1_000_000.0,
        )
    finally:
        orchestrator.store.dispose()


def _drive(
    orchestrator: Orchestrator, scenario: Scenario, clock: ManualClock, rng: random.Random
) -> None:
    """Interleave logical workers with a seeded scheduler until every run ends or time is up."""
    counter = 0

    def fresh_worker() -> Any:
        nonlocal counter
        counter += 1
        return orchestrator.worker(
            worker_id=f"w{counter}", lease_seconds=scenario.lease_seconds, seed=rng.randrange(2**32)
        )

    workers = [fresh_worker() for _ in range(scenario.workers)]
    deadline = clock.now() + scenario.max_seconds
    # Bounded in count as well as in virtual time, whatever the workflow does.
    for _ in range(100_000):
        if orchestrator.unfinished_runs() == 0 or clock.now() >= deadline:
            return
        order = list(range(len(workers)))
        rng.shuffle(order)
        progressed = False
        for index in order:
            try:
                progressed = workers[index].tick() or progressed
            except SimulatedCrash:
                # The worker died mid-step: drop it with its lease held, start a new one.
                workers[index] = fresh_worker()
                progressed = True
        if not progressed:
            clock.advance(0.25)

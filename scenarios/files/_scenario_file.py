"""Scenario files: a workflow, its inputs, the faults to inject or explore, and what to check.

```yaml
name: order-saga-crash
workflow: examples.order_saga:order_saga   # module:attribute
mode: sim                                  # sim | real
seed: 0
inputs: [{sku: book-1, qty: 1, amount: 1200, address: 1 Main St}]
faults: [{kind: crash, trigger: {point: after_action, step: charge_payment}}]
explore: crash_points                      # optional: crash_points | crash_pairs
invariants: [duplicate_effect, missing_compensation, stuck_workflow]
budget: {examples: 200, seconds: 120}
workers: 2
lease_seconds: 5
routes: {payment: [charge_payment, refund_payment]}
services: [stock, payment, shipping]       # real mode: the services to start (yours too:
                                           # see scenarios.real._service_spec)
store: {url: postgresql+psycopg://...}     # real mode: an empty store (default: a SQLite file)
settle: {quiet: 0.5, max: 10}              # real mode: wait for late effects after the runs
```

A file is validated when it is loaded: an unknown key, no invariant, an unimportable workflow or
a bad fault is refused, naming the problem.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import yaml

from faults import FaultPlan, FaultPlanError
from orchestrator import OrchestratorError, Workflow, import_workflow

from .._errors import ScenarioDefinitionError
from .._outcome import ScenarioOutcome
from .._scenario import Scenario
from ..checking import CHECKERS
from ..generation import crash_cases, exploration_profile, search
from ..real import RealSettings, real_settings, run_real, validate_real
from ..simulation import run_in_process

MODES = ("sim", "real")
EXPLORATIONS = ("crash_points", "crash_pairs", "search")
_KEYS = {
    "name",
    "workflow",
    "mode",
    "seed",
    "inputs",
    "faults",
    "explore",
    "invariants",
    "budget",
    "workers",
    "lease_seconds",
    "routes",
    "heal_after",
    "progress_bound",
    "services",
    "store",
    "settle",
}


@dataclass(frozen=True)
class Budget:
    """How much exploring a file may do: a number of cases and a time limit."""

    examples: int = 200
    seconds: float = 300.0


@dataclass(frozen=True)
class ScenarioFile:
    """A loaded, validated scenario file."""

    path: str
    name: str
    workflow_spec: str
    workflow: Workflow
    mode: str
    seed: int
    inputs: tuple[Mapping[str, Any], ...]
    plan: FaultPlan
    explore: str | None
    invariants: tuple[str, ...]
    budget: Budget
    options: Mapping[str, Any] = field(default_factory=dict)
    # The services and store of a real-mode run (keys services: and store:).
    real: RealSettings = field(default_factory=RealSettings)
    # The file's text as loaded: a replay token carries it, so the case replays as written.
    text: str | None = None

    def base_scenario(self, *, seed: int | None = None, plan: FaultPlan | None = None) -> Scenario:
        """The file's scenario with its own faults (or ``plan``) under ``seed``."""
        seed = self.seed if seed is None else seed
        chosen = (plan or self.plan).with_seed(seed)
        return Scenario(
            self.name,
            self.workflow,
            self.inputs,
            chosen,
            self.invariants,
            seed,
            source=self.path,
            source_text=self.text,
            **self.options,
        )

    def cases(self, *, seed: int | None = None) -> Iterator[Scenario]:
        """Every case the file asks for: its plan, or one per explored crash point (or pair)."""
        base = self.base_scenario(seed=seed)
        if self.explore is None:
            yield base
            return
        # Every boundary each run crosses, found by running the file's own case once (in the
        # simulation, also for a real-mode file: the boundaries are the workflow's).
        yield from crash_cases(base, pairs=self.explore == "crash_pairs")


def load_scenario_file(path: str | Path, *, text: str | None = None) -> ScenarioFile:
    """Load and validate a scenario file (or ``text``, the file as a replay token carries it;
    ``path`` then only names it)."""
    where = str(path)
    try:
        if text is None:
            text = Path(path).read_text()
        data = yaml.safe_load(text)
    except OSError as error:
        raise ScenarioDefinitionError(f"Cannot read scenario file {where!r}: {error}.") from None
    except yaml.YAMLError as error:
        raise ScenarioDefinitionError(
            f"Scenario file {where!r} is not valid YAML: {error}"
        ) from None
    if not isinstance(data, Mapping):
        raise ScenarioDefinitionError(f"Scenario file {where!r} must hold a mapping of keys.")
    unknown = set(data) - _KEYS
    if unknown:
        raise ScenarioDefinitionError(
            f"Scenario file {where!r} has unknown key(s) {sorted(unknown)!r}; allowed: "
            f"{', '.join(sorted(_KEYS))}."
        )
    if "workflow" not in data:
        raise ScenarioDefinitionError(
            f"Scenario file {where!r} names no workflow: add workflow: module:attribute."
        )
    try:
        workflow = import_workflow(str(data["workflow"]))
    except OrchestratorError as error:
        raise ScenarioDefinitionError(f"Scenario file {where!r}: {error}") from None
    invariants = tuple(data.get("invariants") or ())
    if not invariants:
        raise ScenarioDefinitionError(
            f"Scenario file {where!r} checks no invariant: add invariants: [...] with some of "
            f"{', '.join(CHECKERS)}."
        )
    mode = data.get("mode", "sim")
    if mode not in MODES:
        raise ScenarioDefinitionError(
            f"Scenario file {where!r}: mode={mode!r} must be one of {', '.join(MODES)}."
        )
    explore = data.get("explore")
    if explore is not None and explore not in EXPLORATIONS:
        raise ScenarioDefinitionError(
            f"Scenario file {where!r}: explore={explore!r} must be one of "
            f"{', '.join(EXPLORATIONS)}."
        )
    try:
        plan = FaultPlan.from_dict(
            {"faults": data.get("faults") or [], "seed": int(data.get("seed", 0))},
            steps=list(workflow.order),
        )
    except FaultPlanError as error:
        raise ScenarioDefinitionError(f"Scenario file {where!r}: {error}") from None
    inputs = data.get("inputs") or [{}]
    if not isinstance(inputs, list) or not all(isinstance(i, Mapping) for i in inputs):
        raise ScenarioDefinitionError(
            f"Scenario file {where!r}: inputs must be a list of mappings, one per run."
        )
    budget = Budget(**(data.get("budget") or {}))
    options = {
        k: data[k]
        for k in ("workers", "lease_seconds", "routes", "heal_after", "progress_bound")
        if k in data
    }
    spec = ScenarioFile(
        str(Path(path).resolve()),
        str(data.get("name", Path(path).stem)),
        str(data["workflow"]),
        workflow,
        mode,
        int(data.get("seed", 0)),
        tuple(inputs),
        plan,
        explore,
        invariants,
        budget,
        options,
        real_settings(
            data.get("services"),
            data.get("store"),
            data.get("settle"),
            where=where,
            base=Path(path).resolve().parent,
        ),
        text,
    )
    base = spec.base_scenario()  # validates invariants, inputs, workers now, not at run time
    if mode == "real":
        validate_real(base, spec.real, spec.workflow_spec)
    return spec


@dataclass(frozen=True)
class FileOutcome:
    """Every case a file ran, and whether the budget cut exploration short."""

    spec: ScenarioFile
    outcomes: tuple[ScenarioOutcome, ...]
    exhausted_budget: bool


def run_scenario_file(
    spec: ScenarioFile,
    *,
    seed: int | None = None,
    mode: str | None = None,
    profile: str = "default",
    logs_dir: str | Path | None = None,
) -> FileOutcome:
    """Run every case of ``spec`` within its budget, in the simulation or in real mode.

    In real mode each case is a real run (processes, Toxiproxy, wall-clock seconds), so the
    budget's seconds are checked before each case; ``explore: search`` is simulation only.
    ``profile`` (``default``, ``ci``, ``nightly``) scales the file's budget.
    ``logs_dir`` keeps each real case's logs (services, workers) in a folder of its own there.
    """
    mode = check_runnable(spec, mode)
    scale = exploration_profile(profile).budget_scale
    budget = Budget(spec.budget.examples * scale, spec.budget.seconds * scale)
    if spec.explore == "search":
        found = search(spec.base_scenario(seed=seed), max_examples=budget.examples)
        base = run_in_process(spec.base_scenario(seed=seed))
        outcomes_found = (base,) + ((found.failing,) if found.failing else ())
        return FileOutcome(spec, outcomes_found, found.tried >= budget.examples)
    deadline = time.monotonic() + budget.seconds
    outcomes: list[ScenarioOutcome] = []
    exhausted = False
    for case in spec.cases(seed=seed):
        if len(outcomes) >= budget.examples or time.monotonic() >= deadline:
            exhausted = True
            break
        outcomes.append(run_case(spec, case, mode, logs_dir=logs_dir))
    return FileOutcome(spec, tuple(outcomes), exhausted)


def check_runnable(spec: ScenarioFile, mode: str | None = None) -> str:
    """The mode ``spec`` runs in (``mode`` or the file's), refused if the file cannot run so."""
    mode = mode or spec.mode
    if mode not in MODES:
        raise ScenarioDefinitionError(
            f"Scenario {spec.name!r}: mode={mode!r} must be one of {', '.join(MODES)}."
        )
    if mode == "real" and spec.explore == "search":
        raise ScenarioDefinitionError(
            f"Scenario {spec.name!r}: explore='search' runs hundreds of cases and is available "
            "in mode sim only; in real mode use explore: crash_points, or replay the case the "
            "search found (its token) with --mode real."
        )
    if mode == "real" and spec.real.db_url and spec.explore is not None:
        raise ScenarioDefinitionError(
            f"Scenario {spec.name!r}: explore={spec.explore!r} runs many cases and each needs "
            "an empty store; with store.url only one can run. Drop store: (each case then gets "
            "a SQLite file of its own) or remove explore:."
        )
    return mode


def run_case(
    spec: ScenarioFile,
    case: Scenario,
    mode: str | None = None,
    *,
    logs_dir: str | Path | None = None,
) -> ScenarioOutcome:
    """Run one case of ``spec`` (one of ``spec.cases()``) in ``mode`` (the file's by default)."""
    mode = mode or spec.mode
    if mode == "real":
        settings = spec.real
        if logs_dir is not None:
            settings = replace(settings, logs_dir=str(logs_dir))
        return run_real(case, workflow_spec=spec.workflow_spec, settings=settings)
    return run_in_process(case)


def replay(
    token_plan: Mapping[str, Any], spec: ScenarioFile, seed: int, *, mode: str = "sim"
) -> ScenarioOutcome:
    """Run exactly the case a replay token names (in the mode the token names)."""
    plan = FaultPlan.from_dict(token_plan, steps=list(spec.workflow.order))
    return run_case(spec, spec.base_scenario(seed=seed, plan=plan), mode)

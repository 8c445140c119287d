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

from pydantic import ValidationError

from faults import FAULT_KINDS, FaultPlan, FaultPlanError
from intake import InputError, describe_validation_error, load_yaml, read_input_text
from orchestrator import OrchestratorError, Workflow, import_workflow

from .._errors import ScenarioDefinitionError
from .._outcome import ScenarioOutcome
from .._scenario import Scenario
from ..generation import crash_cases, exploration_profile, search
from ..real import RealSettings, real_settings, run_real, validate_real
from ..simulation import run_in_process
from ._file_model import ScenarioFileModel

MODES = ("sim", "real")
EXPLORATIONS = ("crash_points", "crash_pairs", "search")


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
    """Load and validate a scenario file (nothing runs: the workflow is imported, not called).

    ``text`` is the file as a replay token carries it; ``path`` then only names it (and the
    folder a service's relative ``cwd`` is in).
    """
    where = str(path)
    try:
        if text is None:
            text = read_input_text(path, f"Scenario file {where!r}")
        data = load_yaml(text, f"Scenario file {where!r}")
    except InputError as error:
        raise ScenarioDefinitionError(str(error)) from None
    return scenario_from_data(data, where, name=Path(path).stem, path=path, text=text)


def scenario_from_data(
    data: Any,
    where: str,
    *,
    name: str,
    path: str | Path | None = None,
    text: str | None = None,
) -> ScenarioFile:
    """Validate a scenario file's data (``where`` names it in messages; ``name`` by default).

    ``path`` is the file it came from, made absolute so its replay token finds it from any
    folder; ``text`` is its text, which the token carries.
    """
    prefix = f"Scenario file {where!r}"
    folder = Path(path).resolve().parent if path is not None else Path.cwd()
    if not isinstance(data, Mapping):
        raise ScenarioDefinitionError(
            f"{prefix} must hold a mapping of keys (name:, workflow:, invariants:, ...), not "
            f"{type(data).__name__}."
        )
    try:
        model = ScenarioFileModel.model_validate(data)
    except ValidationError as error:
        raise ScenarioDefinitionError(
            describe_validation_error(
                error, prefix, model=ScenarioFileModel, union_tags=FAULT_KINDS
            )
        ) from None
    try:
        workflow = import_workflow(model.workflow)
    except OrchestratorError as error:
        raise ScenarioDefinitionError(f"{prefix}: workflow={model.workflow!r}: {error}") from None
    seed = model.seed
    try:
        plan = FaultPlan.from_dict(
            {"faults": list(data.get("faults") or []), "seed": seed},
            steps=list(workflow.order),
        )
    except FaultPlanError as error:
        raise ScenarioDefinitionError(f"{prefix}: {error}") from None
    inputs = [dict(item) for item in model.inputs] if model.inputs else [{}]
    budget = Budget(**model.budget.model_dump()) if model.budget else Budget()
    options = {
        key: getattr(model, key)
        for key in ("workers", "lease_seconds", "routes", "heal_after", "progress_bound")
        if getattr(model, key) is not None
    }
    spec = ScenarioFile(
        str(Path(path).resolve()) if path is not None else where,
        model.name or name,
        model.workflow,
        workflow,
        model.mode,
        seed,
        tuple(inputs),
        plan,
        model.explore,
        tuple(model.invariants),
        budget,
        options,
        real_settings(
            data.get("services"),
            data.get("store"),
            data.get("settle"),
            where=where,
            base=folder,
        ),
        text,
    )
    base = spec.base_scenario()  # validates invariants, inputs, workers now, not at run time
    if model.mode == "real":
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

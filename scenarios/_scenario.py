"""A scenario: a workflow, the runs to submit, the faults to inject and the invariants to check.

The same scenario runs in the simulation (``scenarios.simulation``) and in real mode
(``scenarios.real``); a replay token names one exact case of it.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from faults import FaultPlan
from orchestrator import Workflow

from ._errors import ScenarioDefinitionError
from .checking import CHECKERS


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
    # Seconds after the start at which every fault still in force is healed, but the lasting
    # ones (``duration: forever``); virtual in the simulation, wall-clock in real mode.
    heal_after: float = 60.0
    # The progress bound: seconds after the heal (or after the last lasting fault started, if
    # later) by which every run must have ended.
    progress_bound: float = 120.0
    # Which steps talk through which (simulated) proxy, for network faults.
    routes: Mapping[str, Sequence[str]] = field(default_factory=dict)
    # The scenario file this case came from, so its replay token can find it again.
    source: str | None = None
    # What was generated rather than written, as plain data: {"workflow": a WorkflowSpec dict,
    # "inputs": [...], "options": {...}} (each part optional). The replay token carries it, so
    # ``scenarios._strategies.scenario_from_token`` can rebuild the exact case.
    generated: Mapping[str, Any] | None = None

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

    def run_ids(self) -> list[str]:
        """The ids its runs are submitted under, one per input, in order."""
        return [f"{self.name}-{self.seed}-{i:04d}" for i in range(len(self.inputs))]

    def replay_token(self) -> str:
        """A token that names this exact case: scenario, seed and fault plan, and what was
        generated (a workflow spec, inputs) when the case came from a strategy."""
        fields: dict[str, Any] = {
            "v": 1,
            "scenario": self.name,
            "source": self.source,
            "seed": self.seed,
            "plan": self.plan.to_dict(),
        }
        if self.generated is not None:
            # Optional, so tokens made before it existed decode and replay as they did.
            fields["generated"] = dict(self.generated)
        body = json.dumps(fields, sort_keys=True, separators=(",", ":"))
        return "cf1." + base64.urlsafe_b64encode(body.encode()).decode().rstrip("=")


def decode_replay_token(token: str) -> dict[str, Any]:
    """The scenario name, seed and plan inside a replay token (and ``generated``, if any)."""
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

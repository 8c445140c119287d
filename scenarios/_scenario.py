"""A scenario: a workflow, the runs to submit, the faults to inject and the invariants to check.

The same scenario runs in the simulation (``scenarios.simulation``) and in real mode
(``scenarios.real``); a replay token names one exact case of it.
"""

from __future__ import annotations

import base64
import json
import sys
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
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
    # The scenario file this case came from (an absolute path), and its text: the replay token
    # carries both, so it replays from any folder, and replays the case as it was written even
    # after the file has changed.
    source: str | None = None
    source_text: str | None = None
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
        generated (a workflow spec, inputs) when the case came from a strategy.

        A case from a file carries the file's absolute path and text; a case built in code
        (the pytest ``chaos`` fixture) carries its workflow's ``module:attribute``, inputs and
        options when the workflow is a module attribute, so ``chaosflow replay`` can rebuild it.
        """
        fields: dict[str, Any] = {
            "v": 1,
            "scenario": self.name,
            "source": self.source,
            "seed": self.seed,
            "plan": self.plan.to_dict(),
        }
        if self.source_text is not None:
            fields["file"] = self.source_text
        generated = self.generated if self.generated is not None else self._built_in_code()
        if generated is not None:
            # Optional, so tokens made before it existed decode and replay as they did.
            fields["generated"] = dict(generated)
        if generated is None or "workflow" not in generated:
            # The workflow is imported on replay (not rebuilt from a generated spec).
            root = import_root(self.workflow)
            if root is not None:
                fields["root"] = root
        return encode_replay_token(fields)

    def replayable(self) -> bool:
        """Whether ``chaosflow replay`` can rebuild this case from its token alone."""
        return bool(self.source or self.generated or self._built_in_code())

    def _built_in_code(self) -> dict[str, Any] | None:
        if self.source is not None:
            return None
        reference = workflow_reference(self.workflow)
        if reference is None:
            return None
        case = {
            "workflow_ref": reference,
            "inputs": [dict(i) for i in self.inputs],
            "options": {
                "invariants": list(self.invariants),
                "workers": self.workers,
                "lease_seconds": self.lease_seconds,
                "heal_after": self.heal_after,
                "progress_bound": self.progress_bound,
                "routes": {k: list(v) for k, v in self.routes.items()},
            },
        }
        try:
            json.dumps(case, allow_nan=False)
        except (TypeError, ValueError):  # inputs that are not plain data cannot travel
            return None
        return case


# Found once per workflow object: a search of every loaded module costs milliseconds, and a
# search makes a token for each of hundreds of cases around the same workflow. The workflow is
# kept beside its answer, so its id cannot be reused by another object while cached.
_REFERENCES: dict[int, tuple[Workflow, str | None]] = {}


def workflow_reference(workflow: Workflow) -> str | None:
    """The ``module:attribute`` under which ``workflow`` is defined, if a loaded module holds it
    at its top level (how a test's scenario names its workflow in a replay token)."""
    cached = _REFERENCES.get(id(workflow))
    if cached is not None and cached[0] is workflow:
        return cached[1]
    found = _find_reference(workflow)
    if len(_REFERENCES) > 4096:  # generated workflows are many and held by no module
        _REFERENCES.clear()
    _REFERENCES[id(workflow)] = (workflow, found)
    return found


def _find_reference(workflow: Workflow) -> str | None:
    for name, module in list(sys.modules.items()):
        if name.startswith("_") or module is None:
            continue
        try:
            attributes = vars(module)
        except TypeError:
            continue
        for attribute, value in list(attributes.items()):
            if value is workflow and not attribute.startswith("__"):
                return f"{name}:{attribute}"
    return None


def import_root(workflow: Workflow) -> str | None:
    """The folder on ``sys.path`` from which the module holding ``workflow`` was imported, so a
    replay from another folder can import it again."""
    reference = workflow_reference(workflow)
    if reference is None:
        return None
    module = sys.modules[reference.partition(":")[0]]
    filename = getattr(module, "__file__", None)
    if not filename:
        return None
    root = Path(filename).resolve().parent
    depth = module.__name__.count(".") + (Path(filename).stem == "__init__")
    for _ in range(depth):
        root = root.parent
    return str(root)


def encode_replay_token(fields: Mapping[str, Any]) -> str:
    """A replay token for ``fields``: compressed JSON, URL-safe base64, prefixed ``cf2.``."""
    body = json.dumps(dict(fields), sort_keys=True, separators=(",", ":"))
    packed = zlib.compress(body.encode(), 9)
    return "cf2." + base64.urlsafe_b64encode(packed).decode().rstrip("=")


def decode_replay_token(token: str) -> dict[str, Any]:
    """The scenario name, seed and plan inside a replay token (and ``generated``, if any).

    Reads ``cf2.`` tokens (compressed) and the ``cf1.`` tokens of earlier versions.
    """
    prefix = token[:4]
    if prefix not in ("cf1.", "cf2."):
        raise ScenarioDefinitionError(
            f"Replay token {token[:20]!r}... does not start with 'cf2.' (or 'cf1.'); copy the "
            "whole token from the failure output."
        )
    body = token[4:] + "=" * (-len(token[4:]) % 4)
    try:
        raw = base64.urlsafe_b64decode(body)
        if prefix == "cf2.":
            raw = zlib.decompress(raw)
        decoded = json.loads(raw)
    except (ValueError, zlib.error) as error:
        raise ScenarioDefinitionError(f"Replay token is damaged ({error}).") from None
    if not isinstance(decoded, dict):
        raise ScenarioDefinitionError(
            "Replay token is damaged: its body is not a mapping; copy the whole token."
        )
    return decoded

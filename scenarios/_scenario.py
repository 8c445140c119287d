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
from typing import Annotated, Any, Literal, cast

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from faults import FaultPlan, FaultPlanError, check_plan_data
from intake import MAX_YAML_BYTES, JsonObject, describe_validation_error
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
    # Seconds between one submission and the next (virtual in the simulation): a stream of
    # runs rather than a batch, for patterns that act on later submissions (a canary stops).
    submit_interval: float = 0.0

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
        if not 0 <= self.submit_interval < float("inf"):
            raise ScenarioDefinitionError(
                f"Scenario {self.name!r}: submit_interval={self.submit_interval!r} must be a "
                "number of seconds >= 0."
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
                # Only when set, so the tokens of cases without it stay as they were.
                **({"submit_interval": self.submit_interval} if self.submit_interval else {}),
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


MAX_TOKEN_CHARS = 512 * 1024  # a generated case carries its workflow spec and inputs
MAX_TOKEN_BODY_BYTES = 4 * 1024 * 1024  # inflated: a scenario file (1 MiB) and a case


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class GeneratedOptions(_Strict):
    """The Scenario options a generated case carries, with the scenario file's bounds."""

    invariants: Annotated[list[str], Field(min_length=1, max_length=len(CHECKERS))] | None = None
    workers: Annotated[int, Field(ge=1, le=64)] | None = None
    lease_seconds: Annotated[float, Field(gt=0, le=3_600, allow_inf_nan=False)] | None = None
    heal_after: Annotated[float, Field(ge=0, le=86_400, allow_inf_nan=False)] | None = None
    progress_bound: Annotated[float, Field(gt=0, le=86_400, allow_inf_nan=False)] | None = None
    routes: (
        Annotated[
            dict[
                Annotated[str, Field(min_length=1, max_length=128)],
                Annotated[
                    list[Annotated[str, Field(min_length=1, max_length=300)]], Field(max_length=64)
                ],
            ],
            Field(max_length=64),
        ]
        | None
    ) = None


class GeneratedCase(_Strict):
    """What a strategy generated: the workflow spec, the inputs, the options."""

    workflow: JsonObject | None = None
    # A case built in code: the module-level workflow it ran, as module:attribute.
    workflow_ref: Annotated[str, Field(min_length=3, max_length=300)] | None = None
    inputs: Annotated[list[JsonObject], Field(min_length=1, max_length=10_000)]
    options: GeneratedOptions = Field(default_factory=GeneratedOptions)


class ReplayTokenModel(_Strict):
    """The data inside a replay token (``cf2.`` + URL-safe base64 of this as compressed JSON;
    ``cf1.`` tokens hold it uncompressed)."""

    model_config = ConfigDict(title="chaosflow replay token")

    v: Literal[1]
    scenario: Annotated[str, Field(min_length=1, max_length=128)]
    source: Annotated[str, Field(min_length=1, max_length=4096)] | None = None
    seed: Annotated[int, Field(ge=0, le=2**63 - 1)]
    plan: JsonObject
    # The scenario file's text, so the token replays the case as written from any folder.
    file: Annotated[str, Field(max_length=MAX_YAML_BYTES)] | None = None
    # The folder the workflow's module was imported from.
    root: Annotated[str, Field(min_length=1, max_length=4096)] | None = None
    generated: GeneratedCase | None = None
    mode: Literal["sim", "real"] | None = None


def decode_replay_token(token: str) -> dict[str, Any]:
    """The scenario name, seed and plan inside a replay token (and ``generated``, if any),
    validated: every field has its type and bounds, the plan is a valid fault plan's data.

    Reads ``cf2.`` tokens (compressed, inflated to a bounded size) and the ``cf1.`` tokens of
    earlier versions.
    """
    if len(token) > MAX_TOKEN_CHARS:
        raise ScenarioDefinitionError(
            f"Replay token is {len(token)} characters, more than the limit of "
            f"{MAX_TOKEN_CHARS}; copy the token from the failure output."
        )
    prefix = token[:4]
    if prefix not in ("cf1.", "cf2."):
        raise ScenarioDefinitionError(
            f"Replay token {token[:20]!r}... does not start with 'cf2.' (or 'cf1.'); copy the "
            "whole token from the failure output."
        )
    body = token[4:] + "=" * (-len(token[4:]) % 4)
    try:
        raw = base64.urlsafe_b64decode(body.encode("ascii"))
        if prefix == "cf2.":
            raw = _inflate(raw)
        decoded: Any = json.loads(raw, parse_constant=_no_constant)
    except (ValueError, UnicodeError, RecursionError, zlib.error) as error:
        raise ScenarioDefinitionError(
            f"Replay token is damaged ({type(error).__name__}: {error}); copy the whole token "
            "from the failure output."
        ) from None
    if not isinstance(decoded, dict):
        raise ScenarioDefinitionError(
            f"Replay token holds a {type(decoded).__name__}, not the mapping a token holds "
            "(v, scenario, source, seed, plan); copy the whole token from the failure output."
        )
    try:
        ReplayTokenModel.model_validate(decoded)
    except ValidationError as error:
        raise ScenarioDefinitionError(
            describe_validation_error(error, "Replay token", model=ReplayTokenModel)
        ) from None
    try:
        check_plan_data(decoded["plan"], "Replay token plan")
    except FaultPlanError as error:
        raise ScenarioDefinitionError(str(error)) from None
    return cast(dict[str, Any], decoded)


def _inflate(packed: bytes) -> bytes:
    # Bounded: a few hundred bytes of deflate can inflate to gigabytes.
    inflater = zlib.decompressobj()
    body = inflater.decompress(packed, MAX_TOKEN_BODY_BYTES)
    if inflater.unconsumed_tail:
        raise ValueError(f"the token's body inflates past {MAX_TOKEN_BODY_BYTES} bytes")
    return body


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")

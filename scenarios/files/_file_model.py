"""The scenario file as a pydantic model: every key's type and bounds, and its JSON Schema.

:func:`load_scenario_file` validates the YAML's data with :class:`ScenarioFileModel` before it
imports anything, so a wrong type, a NaN, an infinity or an absurd size is refused naming its
path (``budget.examples=-5 must be greater than or equal to 1``); the rules between keys and
the workflow's own steps are checked after. ``docs/schemas/scenario-file.json`` is this model's
schema, checked by a test.

Bounds, stated once: ``workers`` 1..``MAX_WORKERS``; ``lease_seconds`` up to an hour;
``heal_after`` and ``progress_bound`` up to a day; ``budget.examples`` 1..``MAX_EXAMPLES`` and
``budget.seconds`` up to a day; at most ``MAX_INPUTS`` inputs, each plain JSON (finite numbers,
at most 64 levels deep, at most 1 MiB); faults as in the fault plan (``faults._plan_model``).
"""

from __future__ import annotations

from typing import Annotated, Any, Final, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

from faults import FAULT_KINDS, MAX_FAULTS, FaultModel
from intake import JsonObject

from ..checking import CHECKERS
from ..real import SettleSpec
from ._services_model import ServicesField

MAX_WORKERS: Final = 64
MAX_EXAMPLES: Final = 100_000
MAX_INPUTS: Final = 10_000
MAX_SECONDS: Final = 86_400.0
MAX_LEASE_SECONDS: Final = 3_600.0

WorkflowSpec = Annotated[
    str,
    StringConstraints(max_length=256, pattern=r"^[A-Za-z_]\w*(\.[A-Za-z_]\w*)*:[A-Za-z_]\w*$"),
]
ScenarioName = Annotated[
    str, StringConstraints(min_length=1, max_length=64, pattern=r"^[^\x00/\\]+$")
]
StepName = Annotated[str, StringConstraints(min_length=1, max_length=128, pattern=r"^[^\x00]+$")]


def _seconds(*, gt: float | None = None, ge: float | None = None, le: float) -> Any:
    return Field(gt=gt, ge=ge, le=le, allow_inf_nan=False)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class BudgetModel(_Strict):
    """How much exploring a file may do: ``examples`` cases within ``seconds``."""

    examples: Annotated[int, Field(ge=1, le=MAX_EXAMPLES)] = 200
    seconds: Annotated[float, _seconds(gt=0, le=MAX_SECONDS)] = 300.0


class StoreModel(_Strict):
    """Real mode's store: an empty database at ``url``."""

    url: Annotated[str, StringConstraints(min_length=1, max_length=2048)]


class ScenarioFileModel(_Strict):
    """A scenario file: the workflow, its inputs, the faults, the invariants, the budget."""

    model_config = ConfigDict(title="chaosflow scenario file")

    name: ScenarioName | None = None
    workflow: Annotated[
        WorkflowSpec,
        Field(description="module:attribute of a Workflow, e.g. examples.order_saga:order_saga"),
    ]
    mode: Literal["sim", "real"] = "sim"
    seed: Annotated[int, Field(ge=0, le=2**63 - 1)] = 0
    inputs: Annotated[list[JsonObject], Field(max_length=MAX_INPUTS)] | None = None
    faults: Annotated[list[FaultModel], Field(max_length=MAX_FAULTS)] | None = None
    explore: Literal["crash_points", "crash_pairs", "search"] | None = None
    invariants: Annotated[
        list[str],
        Field(
            min_length=1,
            max_length=len(CHECKERS),
            description=f"the checkers to run: any of {', '.join(CHECKERS)}",
        ),
    ]
    budget: BudgetModel | None = None
    workers: Annotated[int, Field(ge=1, le=MAX_WORKERS)] | None = None
    lease_seconds: Annotated[float, _seconds(gt=0, le=MAX_LEASE_SECONDS)] | None = None
    routes: Annotated[dict[StepName, list[StepName]], Field(max_length=64)] | None = None
    heal_after: Annotated[float, _seconds(ge=0, le=MAX_SECONDS)] | None = None
    progress_bound: Annotated[float, _seconds(gt=0, le=MAX_SECONDS)] | None = None
    services: ServicesField | None = None
    store: StoreModel | None = None
    settle: SettleSpec | None = None

    @field_validator("invariants")
    @classmethod
    def _known_checkers(cls, names: list[str]) -> list[str]:
        unknown = [name for name in names if name not in CHECKERS]
        if unknown:
            raise ValueError(
                f"must name known checkers; {unknown!r} are not: use any of {', '.join(CHECKERS)}"
            )
        return names


UNION_TAGS = FAULT_KINDS

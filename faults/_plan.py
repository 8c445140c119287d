"""The fault plan: declarative, serialisable, seeded data that says which faults to inject when.

The foundation knows one kind, ``crash`` (a crash point); the plan format is what grows.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from ._crash import CRASH_MODES, CrashAt
from ._errors import FaultPlanError

# Hook points a crash may target; kept in step with the orchestrator's HookPoint by a test.
CRASH_POINTS = (
    "step_claimed",
    "before_action",
    "after_action",
    "after_commit",
    "compensation_claimed",
    "before_compensation",
    "after_compensation",
    "after_compensation_commit",
)

FAULT_KINDS = ("crash",)


@dataclass(frozen=True)
class Fault:
    """One fault: a kind, where it strikes, and on which occurrence."""

    kind: str
    point: str
    step: str | None = None
    nth: int = 1
    mode: str = "raise"

    def injector(self, *, mode: str | None = None) -> CrashAt:
        """A fresh hook listener that injects this fault (``mode`` overrides the plan's)."""
        return CrashAt(self.point, self.step, self.nth, mode or self.mode)

    def describe(self) -> str:
        """One line for a human: 'crash at after_action of charge_payment (1st)'."""
        where = f" of {self.step}" if self.step else ""
        return f"{self.kind} at {self.point}{where} (occurrence {self.nth}, {self.mode})"


@dataclass(frozen=True)
class FaultPlan:
    """An ordered, seeded list of faults; equal plans compare equal and print the same."""

    faults: tuple[Fault, ...] = ()
    seed: int = 0

    def to_dict(self) -> dict[str, Any]:
        """The plan as plain data (for YAML or JSON)."""
        return {"seed": self.seed, "faults": [asdict(fault) for fault in self.faults]}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, steps: Sequence[str] | None = None) -> FaultPlan:
        """Load and validate a plan; ``steps`` (if given) are the step names a fault may name."""
        if not isinstance(data, Mapping):
            raise FaultPlanError(
                f"A fault plan must be a mapping with 'faults' and 'seed', not {data!r}."
            )
        unknown = set(data) - {"faults", "seed"}
        if unknown:
            raise FaultPlanError(
                f"Fault plan has unknown key(s) {sorted(unknown)!r}; allowed: 'faults', 'seed'."
            )
        seed = data.get("seed", 0)
        if not isinstance(seed, int):
            raise FaultPlanError(f"Fault plan seed={seed!r} must be an integer.")
        faults = []
        for index, raw in enumerate(data.get("faults", [])):
            faults.append(_load_fault(index, raw, steps))
        return cls(tuple(faults), seed)


def _load_fault(index: int, raw: Any, steps: Sequence[str] | None) -> Fault:
    where = f"faults[{index}]"
    if not isinstance(raw, Mapping):
        raise FaultPlanError(f"Fault plan {where}={raw!r} must be a mapping.")
    kind = raw.get("kind")
    if kind not in FAULT_KINDS:
        raise FaultPlanError(
            f"Fault plan {where}.kind={kind!r} is not a known fault kind; known: "
            f"{', '.join(map(repr, FAULT_KINDS))}."
        )
    allowed = {"kind", "point", "step", "nth", "mode"}
    unknown = set(raw) - allowed
    if unknown:
        raise FaultPlanError(
            f"Fault plan {where} has unknown field(s) {sorted(unknown)!r}; allowed: "
            f"{sorted(allowed)!r}."
        )
    point = raw.get("point")
    if point not in CRASH_POINTS:
        raise FaultPlanError(
            f"Fault plan {where}.point={point!r} is not a crash point; use one of "
            f"{', '.join(CRASH_POINTS)}."
        )
    step = raw.get("step")
    if steps is not None and step is not None and step not in steps:
        raise FaultPlanError(
            f"Fault plan {where}.step={step!r} is not a step of the workflow; its steps are "
            f"{', '.join(steps)}."
        )
    nth = raw.get("nth", 1)
    if not isinstance(nth, int) or nth < 1:
        raise FaultPlanError(f"Fault plan {where}.nth={nth!r} must be an integer >= 1.")
    mode = raw.get("mode", "raise")
    if mode not in CRASH_MODES:
        raise FaultPlanError(
            f"Fault plan {where}.mode={mode!r} must be one of {', '.join(CRASH_MODES)}."
        )
    return Fault(kind, point, step, nth, mode)

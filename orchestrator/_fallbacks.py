"""Fallback routes: a step that fails for good may name another step to run in its place.

A fallback is data on the primary step (:class:`Fallback`: the alternative's name and the causes
that take it), checked when the workflow is defined. The alternative is an ordinary step of the
workflow on *standby*: it waits on the same dependencies as its primary but is never made ready
by them; it is skipped when its primary completes (or is skipped), and made ready when its
primary fails for good with one of the declared causes while the run is running. The primary is
then *replaced*, and the steps that depend on it wait for the fallback instead.

Compensation follows what actually ran: a primary whose failure was definite applied nothing and
is never undone; one whose failure was indeterminate (or a timeout) may have applied its effect,
so it is compensated if the run later rolls back, after the fallback.

The decisions here are pure functions of the definition, the error and the run's states, so every
worker takes the same route.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ._errors import DefinitionError, StepTimeout

if TYPE_CHECKING:
    from ._definition import Step

# Why a primary failed for good, as a fallback declares the causes it covers.
FALLBACK_CAUSES = ("definite", "indeterminate", "timeout")


@dataclass(frozen=True)
class Fallback:
    """The step to run instead of this one when it fails for good with one of ``on``.

    ``on`` names the causes: ``definite`` (the service refused: nothing was applied),
    ``indeterminate`` (the outcome is unknown: a lost connection, an undeclared error) and
    ``timeout`` (the step ran past its timeout; also indeterminate). The default takes the
    fallback only after a refusal, where no effect of the primary can stand beside the
    fallback's.
    """

    step: str
    on: tuple[str, ...] = ("definite",)

    def __post_init__(self) -> None:
        if isinstance(self.on, str):  # a lone string would be read as a tuple of characters
            object.__setattr__(self, "on", (self.on,))
        if not isinstance(self.step, str) or not self.step:
            raise DefinitionError(
                f"Fallback step={self.step!r} must name a step of the workflow, e.g. "
                "Fallback('ship_with_carrier_b')."
            )
        unknown = [cause for cause in self.on if cause not in FALLBACK_CAUSES]
        if unknown or not self.on:
            raise DefinitionError(
                f"Fallback to {self.step!r}: on={self.on!r} must name one or more of "
                f"{', '.join(FALLBACK_CAUSES)}."
            )

    def to_dict(self) -> dict[str, Any]:
        """The fallback as plain data."""
        return {"step": self.step, "on": list(self.on)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Fallback:
        """The fallback written as plain data (the inverse of :meth:`to_dict`)."""
        if not isinstance(data, Mapping) or "step" not in data:
            raise DefinitionError(
                f"A fallback must be a mapping like {{'step': 'ship_b', 'on': ['definite']}}, "
                f"not {data!r}."
            )
        return cls(str(data["step"]), tuple(data.get("on", ("definite",))))


def fallback_cause(error: BaseException, definite: bool) -> str:
    """Which cause a step's final failure is: ``timeout``, ``definite`` or ``indeterminate``."""
    if isinstance(error, StepTimeout):
        return "timeout"
    return "definite" if definite else "indeterminate"


def takes_fallback(step: Step, cause: str) -> bool:
    """Whether ``step``'s failure for ``cause`` takes its fallback route."""
    return step.fallback is not None and cause in step.fallback.on


def standby_steps(workflow_name: str, version: int, steps: Mapping[str, Step]) -> dict[str, str]:
    """Each fallback step with its primary, after checking the declarations make sense.

    A fallback must be a step of the workflow, other than its primary, with the same ``after``
    (it runs at the point its primary would have), no ``when`` of its own (its primary's
    failure is its condition), no fallback of its own, serving one primary only, and no step
    may depend on it directly (the primary's dependents wait for whichever of the two ran).
    """
    where = f"Workflow {workflow_name!r} v{version}"
    standby: dict[str, str] = {}
    for name, step in steps.items():
        if step.fallback is None:
            continue
        target = step.fallback.step
        if target == name:
            raise DefinitionError(f"{where}: step {name!r} names itself as its fallback.")
        if target not in steps:
            raise DefinitionError(
                f"{where}: step {name!r} falls back to {target!r}, which is not defined. Define "
                "the alternative step in the same workflow."
            )
        if target in standby:
            raise DefinitionError(
                f"{where}: step {target!r} is the fallback of both {standby[target]!r} and "
                f"{name!r}. Give each primary an alternative of its own."
            )
        alternative = steps[target]
        if set(alternative.after) != set(step.after):
            raise DefinitionError(
                f"{where}: fallback {target!r} has after={sorted(alternative.after)!r}, but its "
                f"primary {name!r} has after={sorted(step.after)!r}. A fallback runs where its "
                "primary would have: give it the same dependencies."
            )
        if alternative.when is not None:
            raise DefinitionError(
                f"{where}: fallback {target!r} has a when=... condition; it runs exactly when "
                f"{name!r} fails as declared. Remove the condition."
            )
        if alternative.fallback is not None:
            raise DefinitionError(
                f"{where}: fallback {target!r} has a fallback of its own; one alternative per "
                "primary is supported. Remove the fallback of the alternative."
            )
        standby[target] = name
    for name, step in steps.items():
        used = sorted(set(step.after) & set(standby))
        if used:
            raise DefinitionError(
                f"{where}: step {name!r} depends on fallback {used[0]!r}. Depend on its primary "
                f"{standby[used[0]]!r}: its dependents wait for whichever of the two ran."
            )
    return standby

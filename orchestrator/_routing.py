"""Declarative routing: conditions over a run's data that decide which branches run.

Conditions are data, not code: comparisons of a path into the run's data
(``input.country``, ``results.fraud_check.score``) with a value, combined with ``AllOf``,
``AnyOf`` and ``Not``. They serialise to plain dicts (shown by ``status``), load back with
:func:`condition_from_dict`, and are evaluated without ``eval``. A step whose condition is false
when its dependencies have settled is skipped, and so is every step all of whose dependencies were
skipped: a branch not taken.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Union

from ._errors import DefinitionError

_MISSING = object()

_OPERATORS: Mapping[str, Callable[[Any, Any], bool]] = {
    "eq": operator.eq,
    "ne": operator.ne,
    "lt": operator.lt,
    "le": operator.le,
    "gt": operator.gt,
    "ge": operator.ge,
    "in": lambda left, right: left in right,
    "not_in": lambda left, right: left not in right,
}
OPERATORS = (*_OPERATORS, "exists")


def _resolve(data: Mapping[str, Any], path: str) -> Any:
    current: Any = data
    for part in path.split("."):
        if isinstance(current, Mapping) and part in current:
            current = current[part]
        else:
            return _MISSING
    return current


@dataclass(frozen=True)
class When:
    """A comparison: the value at ``path`` in the run's data, ``op``, ``value``."""

    path: str
    op: str
    value: Any = None

    def __post_init__(self) -> None:
        if self.op not in OPERATORS:
            raise DefinitionError(
                f"Routing condition op={self.op!r} is not known; use one of {', '.join(OPERATORS)}."
            )
        root = self.path.split(".", 1)[0]
        if root not in ("input", "results") or "." not in self.path:
            raise DefinitionError(
                f"Routing condition path={self.path!r} must start with 'input.' or "
                "'results.<step>.', e.g. 'input.country' or 'results.fraud_check.score'."
            )

    def evaluate(self, data: Mapping[str, Any]) -> bool:
        """Whether the condition holds; a missing value or a type clash makes it false."""
        found = _resolve(data, self.path)
        if self.op == "exists":
            return (found is not _MISSING) == bool(self.value if self.value is not None else True)
        if found is _MISSING:
            return False
        try:
            return bool(_OPERATORS[self.op](found, self.value))
        except TypeError:
            return False

    def steps_read(self) -> set[str]:
        """The steps whose results the condition reads."""
        parts = self.path.split(".")
        return {parts[1]} if parts[0] == "results" else set()

    def to_dict(self) -> dict[str, Any]:
        """The condition as plain data."""
        return {"path": self.path, "op": self.op, "value": self.value}


@dataclass(frozen=True)
class AllOf:
    """Every condition holds."""

    conditions: tuple[Condition, ...]

    def evaluate(self, data: Mapping[str, Any]) -> bool:
        """Whether all hold."""
        return all(c.evaluate(data) for c in self.conditions)

    def steps_read(self) -> set[str]:
        """The steps whose results the conditions read."""
        return set().union(*(c.steps_read() for c in self.conditions))

    def to_dict(self) -> dict[str, Any]:
        """The condition as plain data."""
        return {"all": [c.to_dict() for c in self.conditions]}


@dataclass(frozen=True)
class AnyOf:
    """At least one condition holds."""

    conditions: tuple[Condition, ...]

    def evaluate(self, data: Mapping[str, Any]) -> bool:
        """Whether any holds."""
        return any(c.evaluate(data) for c in self.conditions)

    def steps_read(self) -> set[str]:
        """The steps whose results the conditions read."""
        return set().union(*(c.steps_read() for c in self.conditions))

    def to_dict(self) -> dict[str, Any]:
        """The condition as plain data."""
        return {"any": [c.to_dict() for c in self.conditions]}


@dataclass(frozen=True)
class Not:
    """The condition does not hold."""

    condition: Condition

    def evaluate(self, data: Mapping[str, Any]) -> bool:
        """Whether the inner condition fails."""
        return not self.condition.evaluate(data)

    def steps_read(self) -> set[str]:
        """The steps whose results the condition reads."""
        return self.condition.steps_read()

    def to_dict(self) -> dict[str, Any]:
        """The condition as plain data."""
        return {"not": self.condition.to_dict()}


Condition = Union[When, AllOf, AnyOf, Not]  # noqa: UP007 (a runtime alias used in isinstance)


def condition_from_dict(data: Mapping[str, Any]) -> Condition:
    """Load a condition written as plain data (the inverse of ``to_dict``)."""
    if not isinstance(data, Mapping):
        raise DefinitionError(f"A routing condition must be a mapping, not {data!r}.")
    if "all" in data:
        return AllOf(tuple(condition_from_dict(c) for c in data["all"]))
    if "any" in data:
        return AnyOf(tuple(condition_from_dict(c) for c in data["any"]))
    if "not" in data:
        return Not(condition_from_dict(data["not"]))
    if {"path", "op"} <= set(data):
        return When(data["path"], data["op"], data.get("value"))
    raise DefinitionError(
        f"Routing condition {dict(data)!r} is not one of {{'path', 'op', 'value'}}, "
        "{'all': [...]}, {'any': [...]}, {'not': {...}}."
    )

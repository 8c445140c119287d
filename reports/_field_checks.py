"""Checks of one schema field each: the type, the allowed values, and a message that says so.

Every check takes the field's dotted path (``"Anomaly.kind"``) and raises
:class:`ResultSchemaError` naming it and the bad value. The result dataclasses call these from
``__post_init__``, so a result is validated when it is built, whether by code or from a document.
The checks that coerce (a list becomes a tuple, an int becomes a float) return the value to keep.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping
from datetime import datetime
from typing import Any, TypeVar

from ._errors import ResultSchemaError

T = TypeVar("T")

FIX = "Fix the code that wrote the result, or read it with the chaosflow version that wrote it."


def _type_name(kind: type | tuple[type, ...]) -> str:
    kinds = kind if isinstance(kind, tuple) else (kind,)
    return " or ".join(k.__name__ for k in kinds)


def check_str(path: str, value: object, *, optional: bool = False, nonempty: bool = False) -> None:
    """``value`` is a str (or None when ``optional``); a ``nonempty`` one has text in it."""
    if value is None and optional:
        return
    if not isinstance(value, str):
        expected = "a str or null" if optional else "a str"
        raise ResultSchemaError(path, f"is not {expected}", FIX, value=value)
    if nonempty and not value.strip():
        raise ResultSchemaError(
            path, "is empty", f"Give it a name a person can read. {FIX}", value=value
        )


def check_choice(path: str, value: object, choices: Collection[str], why: str) -> None:
    """``value`` is one of ``choices``; ``why`` says what the field means."""
    if not isinstance(value, str) or value not in choices:
        listed = ", ".join(repr(c) for c in choices)
        raise ResultSchemaError(path, f"is not one of {listed}", f"{why} {FIX}", value=value)


def check_int(path: str, value: object, *, minimum: int | None = None) -> int:
    """``value`` is an int (a bool is not), at least ``minimum`` when given."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise ResultSchemaError(path, "is not an int", FIX, value=value)
    if minimum is not None and value < minimum:
        raise ResultSchemaError(path, f"is below {minimum}", FIX, value=value)
    return value


def as_float(path: str, value: object, *, minimum: float | None = None) -> float:
    """``value`` as a finite float; an int is accepted, a bool or a NaN is not."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ResultSchemaError(path, "is not a number", FIX, value=value)
    number = float(value)
    if not math.isfinite(number):
        raise ResultSchemaError(
            path,
            "is not a finite number",
            f"Times and durations must be finite. {FIX}",
            value=value,
        )
    if minimum is not None and number < minimum:
        raise ResultSchemaError(path, f"is below {minimum}", FIX, value=value)
    return number


def as_optional_float(path: str, value: object) -> float | None:
    """``value`` as a finite float, or None (a time that has not come yet)."""
    return None if value is None else as_float(path, value)


def as_tuple(path: str, value: object, item_type: type[T] | tuple[type, ...]) -> tuple[T, ...]:
    """``value`` (a tuple or a list) as a tuple whose every item is an ``item_type``."""
    if not isinstance(value, tuple | list):
        raise ResultSchemaError(path, f"is not a list of {_type_name(item_type)}", FIX, value=value)
    for index, item in enumerate(value):
        wrong_bool = isinstance(item, bool) and item_type is int
        if wrong_bool or not isinstance(item, item_type):
            raise ResultSchemaError(
                f"{path}[{index}]", f"is not a {_type_name(item_type)}", FIX, value=item
            )
    return tuple(value)


def check_utc_timestamp(path: str, value: object) -> None:
    """``value`` is an ISO 8601 timestamp in UTC, such as ``'2024-05-01T12:00:00+00:00'``."""
    fix = "Write it with datetime.now(UTC).isoformat(), e.g. '2024-05-01T12:00:00+00:00'. " + FIX
    if not isinstance(value, str):
        raise ResultSchemaError(path, "is not an ISO 8601 UTC timestamp", fix, value=value)
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise ResultSchemaError(path, "is not an ISO 8601 timestamp", fix, value=value) from None
    offset = moment.utcoffset()
    if offset is None or offset.total_seconds() != 0:
        raise ResultSchemaError(path, "is not in UTC (offset +00:00 or Z)", fix, value=value)


def fields_of(
    data: object, path: str, what: str, required: Collection[str], optional: Collection[str]
) -> dict[str, Any]:
    """The fields of the JSON object ``data``: all ``required`` ones, no unknown ones."""
    if not isinstance(data, Mapping):
        raise ResultSchemaError(path, f"is not an object ({what})", FIX, value=data)
    for name in required:
        if name not in data:
            raise ResultSchemaError(
                f"{path}.{name}",
                "is missing",
                f"Every {what} has the fields {', '.join(required)}. {FIX}",
            )
    known = set(required) | set(optional)
    for name in data:
        if name not in known:
            raise ResultSchemaError(
                f"{path}.{name}",
                f"is not a field of {what}",
                f"The known fields are {', '.join(sorted(known))}; remove it, or check that "
                "the document is a chaosflow result",
            )
    return dict(data)


def items_of(data: object, path: str) -> list[Any]:
    """The items of the JSON array ``data``."""
    if not isinstance(data, list):
        raise ResultSchemaError(path, "is not a list", FIX, value=data)
    return data

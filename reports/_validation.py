"""Turning pydantic's validation errors into a :class:`ResultSchemaError` a person can act on.

pydantic reports every problem with its location (``("invariants", 0, "verdict")``), the bad
input and a message; the report names the first one as a path (``result.invariants[0].verdict``)
with the value, in the words of ``docs/reports.md``, and says what to do.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from ._errors import FIX, ResultSchemaError

_UTC_FIX = "Write it with datetime.now(UTC).isoformat(), e.g. '2024-05-01T12:00:00+00:00'."


def check_utc_timestamp(value: str) -> str:
    """``value`` if it is an ISO 8601 timestamp in UTC; a ValueError saying how to write one."""
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(f"is not an ISO 8601 timestamp. {_UTC_FIX}") from None
    offset = moment.utcoffset()
    if offset is None or offset.total_seconds() != 0:
        raise ValueError(f"is not in UTC (offset +00:00 or Z). {_UTC_FIX}")
    return value


def _path(root: str, loc: Sequence[int | str]) -> str:
    text = root
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else f".{part}"
    return text


def _known_fields(model: type[BaseModel], loc: Sequence[int | str]) -> list[str] | None:
    # The field names the record holding ``loc`` accepts, read from the model's JSON Schema.
    schema: dict[str, Any] = model.model_json_schema(by_alias=True)
    definitions = schema.get("$defs", {})
    node: Any = schema
    for part in loc[:-1]:
        node = _resolve(node, definitions)
        if isinstance(part, int):
            node = node.get("items", {})
        else:
            node = node.get("properties", {}).get(str(part), {})
    node = _resolve(node, definitions)
    properties = node.get("properties")
    return sorted(properties) if isinstance(properties, Mapping) else None


def _resolve(node: Any, definitions: Mapping[str, Any]) -> Any:
    for _ in range(8):  # a $ref, or an anyOf [ref, null], a few levels deep at most
        if not isinstance(node, Mapping):
            return {}
        if "$ref" in node:
            node = definitions.get(str(node["$ref"]).rsplit("/", 1)[-1], {})
        elif "anyOf" in node:
            node = next((n for n in node["anyOf"] if n.get("type") != "null"), {})
        else:
            return node
    return node


def _problem(detail: ErrorDetails, model: type[BaseModel]) -> tuple[str, str, bool]:
    """(problem, fix, show the value?) for one pydantic error."""
    kind = detail["type"]
    loc = detail["loc"]
    message = detail["msg"]
    if kind == "missing":
        return "is missing", f"Every such record has this field. {FIX}", False
    if kind == "extra_forbidden":
        known = _known_fields(model, loc)
        listed = f"The known fields are {', '.join(known)}; " if known else ""
        return (
            "is not a field of this record",
            f"{listed}remove it, or check that the document is a chaosflow result.",
            False,
        )
    if kind == "value_error":
        reason = message.removeprefix("Value error, ")
        if reason.startswith("is "):  # a field check such as the timestamp's: show the value
            problem, _, fix = reason.partition(". ")
            return problem, f"{fix} {FIX}".strip(), True
        return reason, FIX, False
    return message[0].lower() + message[1:], FIX, True


def schema_error(error: ValidationError, root: str, model: type[BaseModel]) -> ResultSchemaError:
    """The first problem in ``error`` (raised validating ``model``) as a
    :class:`ResultSchemaError` whose path starts at ``root``."""
    detail = error.errors(include_url=False)[0]
    problem, fix, show = _problem(detail, model)
    path = _path(root, detail["loc"])
    if show:
        return ResultSchemaError(path, problem, fix, value=detail["input"])
    return ResultSchemaError(path, problem, fix)

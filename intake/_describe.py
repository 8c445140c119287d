"""A pydantic ValidationError in the project's error style: where, the field path, the value,
what is allowed. Every verb that validates a model formats its errors here."""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping, Sequence
from typing import Any

from pydantic import BaseModel, ValidationError

MAX_SHOWN = 5
_MAX_VALUE = 80
# Parts pydantic adds to a location for a union's members ("int", "function-after[...]"):
# not fields the user wrote.
_UNION_MEMBER = re.compile(
    r"^(int|float|str|bool|none|list\[.*|dict\[.*|literal\[.*|function-.*|constrained-.*|"
    r"lax-.*|json-.*|tagged-union\[.*|is-instance\[.*|chain\[.*|nullable\[.*)$"
)


def field_path(
    loc: Sequence[int | str],
    union_tags: Collection[str] = (),
    union_fields: Collection[str] = (),
) -> str:
    """``('faults', 0, 'trigger', 'at')`` as ``faults[0].trigger.at``.

    A tagged union's tag, which pydantic puts in the path right after a list index
    (``faults[0].step.params``) or after a field in ``union_fields`` (``shape.ramp.up_s``), is
    left out when it is one of ``union_tags``.
    """
    text = ""
    previous: int | str | None = None
    for index, part in enumerate(loc):
        tag = part in union_tags and (isinstance(previous, int) or previous in union_fields)
        previous = part
        if part == "[key]":  # pydantic's mark for "the key before me is at fault"
            continue
        if index + 1 < len(loc) and loc[index + 1] == "[key]":
            text += f" key {part!r}"
        elif isinstance(part, int):
            text += f"[{part}]"
        elif not tag and not _UNION_MEMBER.match(str(part)):
            text += f".{part}" if text else str(part)
    return text


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= _MAX_VALUE else text[: _MAX_VALUE - 3] + "..."


def describe_validation_error(
    error: ValidationError,
    where: str,
    *,
    model: type[BaseModel] | None = None,
    flags: Mapping[str, str] | None = None,
    union_tags: Collection[str] = (),
    union_fields: Collection[str] = (),
    at: str = "",
) -> str:
    """One line per problem (at most ``MAX_SHOWN``): ``where: path=value: what is allowed.``

    ``at`` is where the validated value sits in a larger input (``services.card``); paths
    start with it.

    ``model`` lets an unknown key be answered with the keys allowed there; ``flags`` maps a
    top-level field to the command-line flag it came from (``{"users": "--users"}``);
    ``union_tags`` are the tags of tagged unions, left out of paths (see :func:`field_path`).
    """
    merged: dict[str, list[str]] = {}
    values: dict[str, Any] = {}
    kinds: dict[str, str] = {}
    for problem in error.errors(include_url=False):
        loc = tuple(problem["loc"])
        path = field_path(loc, union_tags, union_fields)
        if at:
            path = f"{at}.{path}" if path and not path.startswith("[") else f"{at}{path}"
        value = problem.get("input")
        context = problem.get("ctx") or {}
        message = str(problem["msg"]).removeprefix("Value error, ")
        message = message.replace("Input should be", "must be").replace("Input ", "it ")
        message = message.replace("String should match pattern", "must match the pattern")
        if problem["type"] == "string_pattern_mismatch" and model is not None:
            about = _schema_at(model, loc).get("description")
            message += f" ({about})" if about else ""
        if problem["type"] in ("union_tag_invalid", "union_tag_not_found"):
            # The tag is the field at fault ("kind"), not the whole mapping around it.
            key = str(context.get("discriminator", "")).strip("'")
            path = f"{path}.{key}" if path else key
            value = value.get(key) if isinstance(value, Mapping) else value
            expected = context.get("expected_tags")
            message = f"is not known; use one of {expected}" if expected else message
        if problem["type"] == "extra_forbidden":
            allowed = _allowed_keys(model, loc[:-1]) if model is not None else None
            message = "is not a field here; remove it or check its spelling" + (
                f" (allowed: {', '.join(allowed)})" if allowed else ""
            )
        elif problem["type"] == "missing":
            about = _schema_at(model, loc).get("description") if model is not None else None
            message = "is missing; add it" + (f" ({about})" if about else "")
        elif problem["type"] == "union_tag_not_found":
            message = f"is missing; add it ({context.get('discriminator', '')} names the variant)"
        merged.setdefault(path, [])
        if message not in merged[path]:
            merged[path].append(message)
        values.setdefault(path, value)
        kinds.setdefault(path, "missing" if "not_found" in problem["type"] else problem["type"])
    lines = []
    for path, messages in list(merged.items())[:MAX_SHOWN]:
        flag = ""
        if flags and path.split(".")[0].split("[")[0] in flags:
            flag = f" (from {flags[path.split('.')[0].split('[')[0]]})"
        reason = "; or ".join(messages)
        if kinds[path] == "missing":
            lines.append(f"{where}: {path or 'the document'} {reason}.")
        elif path:
            lines.append(f"{where}: {path}={_shown(values[path])}{flag}{_verb(reason)}.")
        else:
            lines.append(f"{where}: {reason}.")
    more = len(merged) - MAX_SHOWN
    if more > 0:
        lines.append(f"{where}: and {more} more problem(s); fix these first.")
    return "\n".join(lines)


def _verb(reason: str) -> str:
    # "path=value is not a field here" reads on; any other reason ("must be ...") after a colon.
    return f" {reason}" if reason.startswith("is ") else f": {reason}"


def _allowed_keys(model: type[BaseModel], loc: Sequence[int | str]) -> list[str] | None:
    """The properties the model's JSON Schema allows at ``loc`` (None when it cannot tell)."""
    node = _schema_at(model, loc)
    return sorted(node["properties"]) if "properties" in node else None


def _schema_at(model: type[BaseModel], loc: Sequence[int | str]) -> Any:
    """The part of the model's JSON Schema at ``loc`` ({} when it cannot tell)."""
    try:
        schema = model.model_json_schema()
        definitions = schema.get("$defs", {})
        node: Any = schema
        for part in loc:
            node = _resolve(node, definitions)
            mapping = node.get("discriminator", {}).get("mapping", {})
            if part in mapping:  # a tagged union's tag: follow that variant
                node = {"$ref": mapping[part]}
                continue
            if isinstance(part, int):
                node = node["items"]
            elif "properties" in node and part in node["properties"]:
                node = node["properties"][part]
            elif isinstance(node.get("additionalProperties"), dict):
                node = node["additionalProperties"]
            else:
                return {}
        return _resolve(node, definitions)
    except (KeyError, TypeError, AttributeError):
        return {}


def _resolve(node: Any, definitions: Mapping[str, Any]) -> Any:
    for _ in range(16):  # bounded: a schema's references are shallow
        if "$ref" in node:
            node = definitions[node["$ref"].rsplit("/", 1)[-1]]
        elif "discriminator" in node:
            return node
        elif "anyOf" in node or "oneOf" in node:
            options = node.get("anyOf") or node.get("oneOf")
            with_properties = [n for n in options if "$ref" in n or "properties" in n]
            if not with_properties:
                return node
            node = with_properties[0]
        else:
            return node
    return node

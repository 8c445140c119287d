"""Plain JSON values: what a run's input (and any free-form part of a file) may hold.

A run's input travels through the store as JSON text and reaches the services a step calls, so
it is held to what JSON carries faithfully: objects with string keys, arrays, strings (UTF-8,
no lone surrogate), finite numbers, booleans and null; at most ``MAX_DEPTH`` levels deep and
``MAX_JSON_BYTES`` long once encoded (the HTTP API's own body limit).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Annotated, Any

from pydantic import AfterValidator

from ._errors import InputError

MAX_DEPTH = 64
MAX_JSON_BYTES = 1024 * 1024


def check_json_value(value: Any, where: str = "input") -> Any:
    """``value`` if it is plain, finite, bounded JSON; else :class:`InputError` naming the path."""
    _walk(value, where, 0)
    size = len(json.dumps(value, ensure_ascii=False).encode("utf-8", "surrogatepass"))
    if size > MAX_JSON_BYTES:
        raise InputError(
            f"{where} is {size} bytes as JSON, more than the limit of {MAX_JSON_BYTES}; keep "
            "large data elsewhere and pass a reference to it."
        )
    return value


def _walk(value: Any, where: str, depth: int) -> None:
    if depth > MAX_DEPTH:
        raise InputError(
            f"{where} is nested more than {MAX_DEPTH} levels deep; flatten it (at most "
            f"{MAX_DEPTH} levels of objects and arrays)."
        )
    if value is None or isinstance(value, bool | int):
        return
    if isinstance(value, float):
        if not math.isfinite(value):
            raise InputError(
                f"{where}={value!r} is not a finite number, which JSON cannot carry; use a "
                "finite number (or a string, if you mean the text)."
            )
        return
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise InputError(
                f"{where} contains a lone surrogate, which cannot be stored as UTF-8 text."
            ) from None
        return
    if isinstance(value, Mapping):
        for key, item in value.items():
            if not isinstance(key, str):
                raise InputError(
                    f"{where} has the key {key!r} ({type(key).__name__}); JSON object keys are "
                    "strings: quote it."
                )
            _walk(key, f"{where} key", depth + 1)
            _walk(item, f"{where}.{key}", depth + 1)
        return
    if isinstance(value, list | tuple):
        for index, item in enumerate(value):
            _walk(item, f"{where}[{index}]", depth + 1)
        return
    raise InputError(
        f"{where}={value!r} is a {type(value).__name__}, which is not a JSON value; use a "
        "string, a number, true/false, null, a list or a mapping."
    )


def _pydantic_check(value: Any) -> Any:
    try:
        return check_json_value(value, "value")
    except InputError as error:
        # pydantic adds the field path itself; the message keeps the inner path and the rule.
        raise ValueError(str(error).removeprefix("value").lstrip(". ") or str(error)) from None


# A field of a pydantic model that holds any plain JSON value under the rules above.
JsonValue = Annotated[Any, AfterValidator(_pydantic_check)]
JsonObject = Annotated[dict[str, Any], AfterValidator(_pydantic_check)]

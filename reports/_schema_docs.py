"""The published schema files: the JSON Schema and its field-by-field page, made from the model.

``make schema`` writes both into ``docs/schema/``; a test checks that the committed files equal
what the model makes, so the documentation cannot drift from the code.
"""

from __future__ import annotations

import json
from os import PathLike
from pathlib import Path
from typing import Any, Final

from ._schema import result_json_schema

SCHEMA_FILES: Final = ("chaosflow-report-1.json", "chaosflow-report-1.md")
"""The files :func:`write_schema_files` writes: the JSON Schema, and the field reference."""


def json_schema_text() -> str:
    """The JSON Schema of the result document, as committed (two-space indent, final newline)."""
    return json.dumps(result_json_schema(), indent=2, ensure_ascii=False) + "\n"


def _type(node: dict[str, Any]) -> str:
    if "$ref" in node:
        return f"[{node['$ref'].rsplit('/', 1)[-1]}](#{node['$ref'].rsplit('/', 1)[-1].lower()})"
    if "anyOf" in node:
        return " or ".join(_type(n) for n in node["anyOf"])
    if "const" in node:
        return f"`{json.dumps(node['const'])}`"
    if "enum" in node:
        return " \\| ".join(f"`{json.dumps(v)}`" for v in node["enum"])
    kind = node.get("type", "any")
    if kind == "array":
        return f"list of {_type(node.get('items', {}))}"
    if kind == "object" and "additionalProperties" in node:
        extra = node["additionalProperties"]
        return f"object of {_type(extra)}" if isinstance(extra, dict) else "object"
    return str(kind)


def _table(name: str, schema: dict[str, Any]) -> list[str]:
    required = set(schema.get("required", []))
    lines = [f"### {name}", "", schema.get("description", "").strip().split("\n")[0], ""]
    lines += ["| field | type | required | meaning |", "|---|---|---|---|"]
    for field, node in schema.get("properties", {}).items():
        meaning = node.get("description", "")
        if "default" in node and field not in required:
            meaning += f" (default `{json.dumps(node['default'])}`)"
        lines.append(
            f"| `{field}` | {_type(node)} | {'yes' if field in required else 'no'} | "
            f"{meaning.replace('|', '/')} |"
        )
    return [*lines, ""]


def field_reference() -> str:
    """The field-by-field page of the result document, made from the model's descriptions."""
    schema = result_json_schema()
    lines = [
        "# The result document, field by field (chaosflow-report/1)",
        "",
        "Generated from the pydantic model `reports.ResilienceResult` by `make schema`; the JSON",
        "Schema beside this page (`chaosflow-report-1.json`) is generated from the same model.",
        "Read `docs/reports.md` for what the verdict and the score mean.",
        "",
        "## The document",
        "",
    ]
    lines += _table("ResilienceResult", schema)[2:]
    lines += ["## Records", ""]
    for name, definition in sorted(schema.get("$defs", {}).items()):
        lines += _table(name, definition)
    return "\n".join(lines).rstrip("\n") + "\n"


def write_schema_files(folder: str | PathLike[str]) -> list[Path]:
    """Write the JSON Schema and the field reference into ``folder``; return their paths."""
    target = Path(folder)
    target.mkdir(parents=True, exist_ok=True)
    paths = [target / name for name in SCHEMA_FILES]
    paths[0].write_text(json_schema_text(), encoding="utf-8")
    paths[1].write_text(field_reference(), encoding="utf-8")
    return paths

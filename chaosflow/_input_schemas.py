"""The JSON Schemas of the inputs people write by hand, for editors and docs.

``docs/schemas/scenario-file.json`` and ``docs/schemas/fault-plan.json`` are generated from the
models that validate those files (``scenarios.ScenarioFileModel``, ``faults.FaultPlanModel``);
``make schema`` rewrites them and a test checks that the committed files match the models.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"


def input_schemas() -> dict[str, dict[str, Any]]:
    """File name -> JSON Schema, for every hand-written input with a published schema."""
    from faults import FaultPlanModel
    from scenarios import ScenarioFileModel

    schemas = {
        "scenario-file.json": ScenarioFileModel.model_json_schema(),
        "fault-plan.json": FaultPlanModel.model_json_schema(),
    }
    for name, schema in schemas.items():
        schema["$schema"] = SCHEMA_DIALECT
        schema["$id"] = f"https://chaosflow.invalid/schemas/{name}"
    return schemas


def render_schema(schema: dict[str, Any]) -> str:
    """A schema as the committed text: sorted keys, two-space indent, final newline."""
    return json.dumps(schema, indent=2, sort_keys=True) + "\n"


def write_input_schemas(folder: str | Path) -> list[Path]:
    """Write every input schema under ``folder``; returns the paths written."""
    target = Path(folder)
    target.mkdir(parents=True, exist_ok=True)
    written = []
    for name, schema in input_schemas().items():
        path = target / name
        path.write_text(render_schema(schema), encoding="utf-8")
        written.append(path)
    return written

"""Loading a load profile from YAML: read, apply the command line's overrides, validate, import.

Everything that can be known before the run is checked here, so a bad profile fails at once
with a :class:`ProfileError` naming the field and the value: the model's bounds and rules, the
inputs file, the workflow and the input generator (both imported), and, through callables the
composition root passes, the invariant names and the fault windows' own parameters.
"""

from __future__ import annotations

import importlib
import json
import random
from collections.abc import Callable, Iterable, Mapping, Sequence
from os import PathLike
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from intake import (
    InputError,
    check_json_value,
    describe_validation_error,
    load_yaml,
    read_yaml_file,
)

from ._errors import ProfileError
from ._profile import SHAPES, InputGenerator, LoadProfile

MAX_INPUTS = 100_000
MAX_INPUT_FILE_BYTES = 20 * 1024 * 1024
FaultCheck = Callable[[Sequence[Mapping[str, Any]]], None]


def load_profile(
    path: str | PathLike[str],
    *,
    users: int | None = None,
    duration_s: float | None = None,
    invariants: Iterable[str] | None = None,
    check_faults: FaultCheck | None = None,
) -> LoadProfile:
    """The profile at ``path`` with ``users``/``duration_s`` overriding its own; validated.

    ``invariants`` are the checker names a profile may ask for; ``check_faults`` validates the
    fault windows' parameters (the fault plan's own rules) and raises with a message if wrong.
    """
    source = Path(path)
    where = f"Load profile {str(source)!r}"
    try:
        data = read_yaml_file(source, where)  # bounded, plain data only
    except InputError as error:
        raise ProfileError(str(error)) from None
    if not isinstance(data, dict):
        raise ProfileError(f"{where} must be a mapping of fields, not {type(data).__name__}.")
    data.setdefault("name", source.stem)
    overridden = set()
    for field, value in (("users", users), ("duration_s", duration_s)):
        if value is not None:
            data[field] = value
            overridden.add(field)
    inputs = data.get("inputs")
    if isinstance(inputs, dict) and set(inputs) == {"file"}:
        data["inputs_file"] = str(inputs["file"])
        data["inputs"] = _read_inputs(where, source.parent / str(inputs["file"]))
    try:
        profile = LoadProfile.model_validate(data)
    except ValidationError as error:
        flags = {name: f"--{name.removesuffix('_s')}" for name in overridden}
        raise ProfileError(
            describe_validation_error(
                error,
                where,
                model=LoadProfile,
                flags=flags,
                union_tags=SHAPES,
                union_fields=("shape",),
            )
        ) from None
    _import_checks(where, profile)
    if invariants is not None and profile.invariants is not None:
        known = list(invariants)
        unknown = [name for name in profile.invariants if name not in known]
        if unknown:
            raise ProfileError(
                f"{where}: invariants={unknown!r} are not checkers; use any of {', '.join(known)}."
            )
    if check_faults is not None and profile.faults:
        try:
            check_faults(profile.faults)
        except Exception as error:  # the fault plan's own validation, whatever it raises
            raise ProfileError(f"{where}: faults: {error}") from None
    return profile


def _read_inputs(where: str, path: Path) -> list[Any]:
    try:
        if path.stat().st_size > MAX_INPUT_FILE_BYTES:
            raise ProfileError(
                f"{where}: inputs.file={str(path)!r} is over {MAX_INPUT_FILE_BYTES} bytes; use "
                "inputs: {generator: module:attr} for large input sets."
            )
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise ProfileError(
            f"{where}: inputs.file={str(path)!r} cannot be read ({error.strerror or error}). "
            "Paths are relative to the profile's folder."
        ) from None
    try:
        if path.suffix == ".jsonl":
            items: Any = [
                json.loads(line, parse_constant=_not_json)
                for line in text.splitlines()
                if line.strip()
            ]
        else:  # JSON is YAML
            items = load_yaml(text, f"inputs.file={str(path)!r}")
        check_json_value(items, "inputs.file")
    except (ValueError, RecursionError) as error:  # InputError is a ValueError
        raise ProfileError(
            f"{where}: inputs.file={str(path)!r} is not JSON, JSON lines or YAML: {error}"
        ) from None
    if not isinstance(items, list) or not items:
        raise ProfileError(
            f"{where}: inputs.file={str(path)!r} must hold a non-empty list of inputs."
        )
    if len(items) > MAX_INPUTS:
        raise ProfileError(
            f"{where}: inputs.file={str(path)!r} holds {len(items)} inputs, more than "
            f"{MAX_INPUTS}; use inputs: {{generator: module:attr}} instead."
        )
    return items


def import_object(spec: str) -> Any:
    """The object that ``module:attr`` names (attr may be dotted)."""
    module_name, _, attribute = spec.partition(":")
    found: Any = importlib.import_module(module_name)
    for part in attribute.split("."):
        found = getattr(found, part)
    return found


def _import_checks(where: str, profile: LoadProfile) -> None:
    # Imported here, not with the package: the locustfile imports loadtests and must stay light.
    from orchestrator import import_workflow

    try:
        import_workflow(profile.workflow)
    except Exception as error:  # an import runs the user's module, which may raise anything
        raise ProfileError(
            f"{where}: workflow={profile.workflow!r} does not import: {error}"
        ) from None
    if isinstance(profile.inputs, InputGenerator):
        spec = profile.inputs.generator
        try:
            generator = import_object(spec)
            sample = generator(random.Random(profile.seed), 0)
            json.dumps(sample)
        except Exception as error:
            raise ProfileError(
                f"{where}: inputs.generator={spec!r} does not work: {type(error).__name__}: "
                f"{error}. It must be a callable (rng, index) -> dict of JSON values."
            ) from None
        if not isinstance(sample, dict):
            raise ProfileError(
                f"{where}: inputs.generator={spec!r} returned {sample!r}, not a dict."
            )


def _not_json(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")

"""The command line's options as pydantic models: one per verb that takes numbers or JSON.

argparse parses the words; :func:`check_options` then holds each verb's values to stated
bounds (a finite, positive ``--lease-seconds``, a ``--port`` that is a TCP port, a
``--crash-at`` whose NTH is a number), so a bad option exits 2 naming the flag, the value and
what is allowed, before anything opens a store or binds a socket.
"""

from __future__ import annotations

import argparse
import json
from typing import Annotated, Any, Final

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from intake import InputError, check_json_value, describe_validation_error

MAX_SEED: Final = 2**63 - 1
MAX_WORKER_SECONDS: Final = 7 * 86_400.0  # a week: a worker that should run on is restarted
MAX_THREADS: Final = 64


def _seconds(*, gt: float | None = None, ge: float | None = None, le: float) -> Any:
    return Field(gt=gt, ge=ge, le=le, allow_inf_nan=False)


class _Options(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class SeedOptions(_Options):
    """``--seed`` of ``run`` and ``demo``."""

    seed: Annotated[int, Field(ge=0, le=MAX_SEED)] | None = None


class WorkerOptions(_Options):
    """``chaosflow worker``'s numbers and its ``--crash-at POINT[:STEP[:NTH]]``."""

    lease_seconds: Annotated[float, _seconds(gt=0, le=3_600)] = 30.0
    store_wait: Annotated[float, _seconds(ge=0, le=MAX_WORKER_SECONDS)] = 60.0
    max_seconds: Annotated[float, _seconds(gt=0, le=MAX_WORKER_SECONDS)] = 3600.0
    crash_nth: Annotated[int, Field(ge=1, le=1_000_000)] = 1
    health_interval: Annotated[float, _seconds(gt=0, le=86_400)] | None = None
    concurrency: Annotated[int, Field(ge=1, le=MAX_THREADS)] = 1


class ServeOptions(_Options):
    """``chaosflow serve``'s numbers."""

    port: Annotated[int, Field(ge=0, le=65_535)] = 8080
    workers: Annotated[int, Field(ge=0, le=MAX_THREADS)] = 1
    lease_seconds: Annotated[float, _seconds(gt=0, le=3_600)] = 30.0
    max_seconds: Annotated[float, _seconds(gt=0, le=MAX_WORKER_SECONDS)] | None = None


_MODELS: dict[str, type[_Options]] = {
    "run": SeedOptions,
    "demo": SeedOptions,
    "worker": WorkerOptions,
    "serve": ServeOptions,
}
# ``load --users/--duration`` are fields of the profile: its model checks them and names the
# flag ("users=0 (from --users): ...").


def check_options(args: argparse.Namespace) -> str | None:
    """A message naming the first bad option of ``args`` (None when they are all good)."""
    values = dict(vars(args))
    if args.verb == "worker" and args.crash_at:
        nth = args.crash_at.split(":")[2:] or ["1"]
        if len(args.crash_at.split(":")) > 3 or not nth[0].isdigit():
            return (
                f"--crash-at={args.crash_at!r}: NTH={':'.join(nth)!r} must be a whole number >= 1; "
                "write POINT[:STEP[:NTH]], e.g. after_action:charge_payment:2."
            )
        values["crash_nth"] = int(nth[0])
    if args.verb == "submit":
        return _check_input(args.input)
    model = _MODELS.get(str(args.verb))
    if model is None:
        return None
    try:
        model.model_validate({k: v for k, v in values.items() if v is not None})
    except ValidationError as error:
        flags = {name: "--" + name.replace("_", "-") for name in model.model_fields}
        flags["crash_nth"] = "--crash-at"
        text = describe_validation_error(error, "option")
        for name, flag in flags.items():  # name the flag as typed: --lease-seconds, not a field
            text = text.replace(f"option: {name}=", f"{flag}=")
        return text.replace("option: ", "")
    return None


def parse_run_input(text: str) -> dict[str, Any]:
    """``submit --input``: a JSON object of plain, finite, bounded values (else InputError)."""
    try:
        payload = json.loads(text, parse_constant=_not_json)
    except (ValueError, RecursionError) as error:
        raise InputError(f"--input={text[:80]!r} is not JSON ({error}).") from None
    if not isinstance(payload, dict):
        raise InputError(f"--input={text[:80]!r} must be a JSON object, e.g. '{{\"amount\": 5}}'.")
    check_json_value(payload, "--input")
    return payload


def _check_input(text: str) -> str | None:
    try:
        parse_run_input(text)
    except InputError as error:
        return str(error)
    return None


def _not_json(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number; send a finite number")

"""The ``services:`` entry of a scenario file: which services a real-mode run starts, and how.

A service is the user's own (a command line that starts it) or one of the bundled example
services (``scenarios.http_service``, started the same way, from a command line of its own):

```yaml
services:
  stock: {}                                  # a bundled example service
  payment: {ignore_keys: true}               # ... that ignores idempotency keys
  card:                                      # your own service
    command: ["{python}", -m, card_service, --port, "{port}", --db, "{folder}/card.db"]
    health: /health                          # a path on the service, or a URL with {port}
    env: {CARD_MODE: test}
    cwd: services/card                       # relative to the scenario file
    start_timeout: 30
    probe:                                   # optional: read what it applied after the run
      sql: "SELECT key, run_id, step, at FROM charges"
      url: "sqlite:///{folder}/card.db"
```

Placeholders in ``command``, ``env``, ``health`` and the probe: ``{port}`` (the port chaosflow
chose and the service must listen on; also in ``$PORT``), ``{folder}`` (a folder of the
service's own in the run's folder, kept across restarts), ``{ledger}`` (the run's effect
ledger), ``{name}``, ``{python}`` (the interpreter chaosflow runs on, for a Python service in
the same environment). Every entry is validated with pydantic when the file loads; an error names
the field path and the value.
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from intake import describe_validation_error

from .._errors import ScenarioDefinitionError

# The services of the example order saga: the default when a scenario names none.
DEFAULT_SERVICES = ("stock", "payment", "shipping")
PLACEHOLDERS = ("port", "folder", "ledger", "name", "python")


class ProbeSpec(BaseModel):
    """An effect probe: where to read, after the run, what a service applied.

    ``sql`` (with ``url``, a SQLAlchemy URL of the service's database) or ``http`` (a path on
    the service, or a URL, answering a JSON list). Each row or object is one effect with the
    columns ``key``, ``run_id``, ``step`` and optionally ``kind`` (``apply``, the default, or
    ``compensate``), ``at`` (the service's own wall-clock time, seconds since the epoch) and
    ``payload``; ``columns`` renames them (``{run_id: order_ref}``).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    sql: str | None = None
    url: str | None = None
    http: str | None = None
    columns: dict[Literal["key", "run_id", "step", "kind", "at", "payload"], str] = Field(
        default_factory=dict
    )

    @model_validator(mode="after")
    def _one_source(self) -> ProbeSpec:
        if (self.sql is None) == (self.http is None):
            raise ValueError("give exactly one of sql (with url) or http")
        if self.sql is not None and not self.url:
            raise ValueError("a sql probe needs url: the SQLAlchemy URL of the service's database")
        if self.http is not None and self.url is not None:
            raise ValueError("url belongs to a sql probe; an http probe names its path in http")
        return self


class ServiceSpec(BaseModel):
    """One service of a real-mode run: a bundled example service, or the user's own command."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(max_length=64)
    # The command line; None: the bundled example service of this name.
    command: tuple[str, ...] | None = None
    health: str = "/health"
    env: dict[str, str] = Field(default_factory=dict)
    cwd: str | None = None
    start_timeout: float = Field(default=30.0, gt=0, le=600)
    # Bundled example services only: apply every call, ignoring idempotency keys.
    ignore_keys: bool = False
    probe: ProbeSpec | None = None

    @field_validator("name")
    @classmethod
    def _identifier(cls, name: str) -> str:
        if not name.isidentifier():
            raise ValueError("must be an identifier, e.g. 'payment'")
        return name

    @field_validator("command", mode="before")
    @classmethod
    def _split(cls, command: Any) -> Any:
        if isinstance(command, str):
            command = shlex.split(command)  # never a shell: signals reach the service itself
        if isinstance(command, list | tuple) and not command:
            raise ValueError("must name a program, e.g. [python, -m, my_service]")
        return command

    @field_validator("health")
    @classmethod
    def _health(cls, health: str) -> str:
        if not (health.startswith("/") or health.startswith("http://")):
            raise ValueError("must be a path on the service (/health) or a URL with {port}")
        return health

    @model_validator(mode="after")
    def _bundled_or_own(self) -> ServiceSpec:
        if self.command is None and (self.env or self.cwd or self.probe):
            raise ValueError(
                "env, cwd and probe belong to a service of your own: give it a command"
            )
        if self.command is not None and self.ignore_keys:
            raise ValueError("ignore_keys is for the bundled example services, not a command")
        return self

    @property
    def bundled(self) -> bool:
        """Whether this is a bundled example service (started from ``scenarios.http_service``)."""
        return self.command is None

    @property
    def honour_keys(self) -> bool:
        """Whether a bundled example service honours idempotency keys."""
        return not self.ignore_keys


def parse_services(
    services: Any, *, where: str = "", base: Path | None = None
) -> tuple[ServiceSpec, ...]:
    """Validate a scenario file's ``services`` value: a list of names (or of entries with a
    ``name``), or a mapping of name to entry. ``base`` is the folder a relative ``cwd`` is in."""
    prefix = f"Scenario file {where!r}: " if where else ""
    where_text = f"Scenario file {where!r}" if where else "A service entry"
    if services is None:
        return tuple(ServiceSpec(name=name) for name in DEFAULT_SERVICES)
    entries: list[tuple[str, Any]] = []
    if isinstance(services, list):
        for index, item in enumerate(services):
            if isinstance(item, Mapping):
                entries.append((f"services[{index}]", dict(item)))
            else:
                entries.append((f"services[{index}]", {"name": item}))
    elif isinstance(services, Mapping):
        for name, options in services.items():
            if options is not None and not isinstance(options, Mapping):
                raise ScenarioDefinitionError(
                    f"{prefix}services.{name}={options!r} must be a mapping of settings "
                    "(command, health, env, cwd, start_timeout, probe; or ignore_keys for a "
                    "bundled example service), or empty."
                )
            entries.append((f"services.{name}", {"name": name, **(options or {})}))
    else:
        raise ScenarioDefinitionError(
            f"{prefix}services={services!r} must be a list of service names, or a mapping of "
            "name to its settings ({ignore_keys: true} or {command: [...], health: /health})."
        )
    specs: list[ServiceSpec] = []
    for root, data in entries:
        try:
            spec = ServiceSpec.model_validate(data)
        except ValidationError as error:
            raise ScenarioDefinitionError(
                describe_validation_error(error, where_text, model=ServiceSpec, at=root)
                + " See the README's real-mode section for "
                "the fields of a service entry."
            ) from None
        if spec.cwd is not None and base is not None and not Path(spec.cwd).is_absolute():
            spec = spec.model_copy(update={"cwd": str(base / spec.cwd)})
        specs.append(spec)
    names = [spec.name for spec in specs]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise ScenarioDefinitionError(
            f"{prefix}services names {twice!r} more than once; each service needs a name of "
            "its own (it names the proxy in front of it)."
        )
    return tuple(specs)


def as_specs(services: Any) -> tuple[ServiceSpec, ...]:
    """``services`` as specs: specs pass through; ``(name, honour_keys)`` pairs (the older form
    of :class:`RealSettings`) become bundled example services."""
    specs = []
    for item in services:
        if isinstance(item, ServiceSpec):
            specs.append(item)
        else:
            name, honour = item
            specs.append(ServiceSpec(name=str(name), ignore_keys=not honour))
    return tuple(specs)

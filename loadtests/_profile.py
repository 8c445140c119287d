"""The load profile: one pydantic model per part, validated when the profile is loaded.

A profile names the workflow (``module:attr``), the inputs, the shape, how many users and for
how long, the fault windows (the fault plan format of scenarios, each ``trigger: {at: S}`` with a
``duration``), the thresholds and the recovery band. Every bound is checked here, so a profile
that loads is one that runs and ends by itself. :func:`loadtests.load_profile` reads the YAML;
this module only declares the shape of the data and the rules between its fields.
"""

from __future__ import annotations

import math
import os
import re
from typing import Annotated, Any, Final, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from intake import JsonObject

from ._shapes import SHAPES, peak_users

MAX_USERS: Final = 10_000
MAX_USERS_PER_PROCESS: Final = 1_000  # one Locust process (one core) drives at most this many
MAX_SECONDS: Final = 3600.0  # a load run is bounded: longer soaks belong to a scheduled job
MAX_RATE: Final = 1_000.0  # iterations per second of the open model
MAX_RUNS: Final = 1_000_000
MAX_WORKERS: Final = 64  # orchestrator worker processes
MAX_LOCUST_WORKERS: Final = 32
# Fault kinds a load run applies from outside the workers, on a timer.
LOAD_FAULT_KINDS: Final = ("network", "partition", "process")
STORE_PROXY: Final = "store"
# The figures a threshold may name (see docs/load.md for each definition).
METRICS: Final = (
    "completed",
    "completion_rate",
    "compensation_rate",
    "dropped_iterations",
    "e2e_max_ms",
    "e2e_p50_ms",
    "e2e_p95_ms",
    "e2e_p99_ms",
    "errors",
    "failed",
    "retry_amplification",
    "rolled_back",
    "submit_max_ms",
    "submit_p50_ms",
    "submit_p95_ms",
    "submit_p99_ms",
    "submitted",
    "throughput_completed_per_s",
    "throughput_submitted_per_s",
    "time_to_recover_s",
    "unfinished",
)
OPERATORS: Final = ("<", "<=", ">", ">=")
_SPEC = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_][\w.]*$")


class _Model(BaseModel):
    # No NaN or infinity anywhere: a bound like le=3600 does not refuse NaN by itself.
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class Steady(_Model):
    """``users`` users from the start to the end."""

    kind: Literal["steady"]


class Ramp(_Model):
    """From ``start_users`` up to ``users`` over ``up_s`` (default: the whole run), held, then
    down to none over the last ``down_s``."""

    kind: Literal["ramp"]
    start_users: int = Field(default=0, ge=0)
    up_s: float | None = Field(default=None, ge=0)
    down_s: float = Field(default=0.0, ge=0)


class Step(_Model):
    """``step_users`` more users every ``every_s`` seconds, up to ``users``."""

    kind: Literal["step"]
    step_users: int = Field(ge=1)
    every_s: float = Field(gt=0)


class Spike(_Model):
    """``base_users``, and ``users`` for ``for_s`` seconds from ``at_s``."""

    kind: Literal["spike"]
    base_users: int = Field(ge=0)
    at_s: float = Field(ge=0)
    for_s: float = Field(gt=0)


class Soak(_Model):
    """Up to ``users`` over ``up_s``, then held: a long run that shows drift."""

    kind: Literal["soak"]
    up_s: float = Field(default=10.0, ge=0)


class ArrivalRate(_Model):
    """The open model: ``arrival_rate`` iterations a second on at most ``users`` users."""

    kind: Literal["arrival_rate"]


Shape = Annotated[Steady | Ramp | Step | Spike | Soak | ArrivalRate, Field(discriminator="kind")]


class Follow(_Model):
    """How a user follows a run: polls from ``poll_s`` backing off to ``max_poll_s``; a run not
    ended after ``timeout_s`` is counted ``unfinished``."""

    poll_s: float = Field(default=0.05, gt=0, le=5)
    max_poll_s: float = Field(default=0.5, gt=0, le=10)
    timeout_s: float = Field(default=60.0, gt=0, le=600)


class InputGenerator(_Model):
    """Inputs made by a callable ``(rng: random.Random, index: int) -> dict``."""

    generator: str


class StoreUrl(_Model):
    """An empty database at ``url`` (PostgreSQL: the workers reach it through a proxy).
    ``${VAR}`` in the URL is read from the environment."""

    url: str = Field(min_length=1)

    @field_validator("url")
    @classmethod
    def _expand(cls, value: str) -> str:
        expanded = os.path.expandvars(value)
        if "$" in expanded:
            raise ValueError(
                "names an environment variable that is not set; set it, or write the URL"
            )
        return expanded


class Api(_Model):
    """Where ``chaosflow load`` serves the HTTP API the users load."""

    host: str = "127.0.0.1"
    port: int = Field(default=0, ge=0, le=65535)
    token: str | None = Field(default=None, min_length=8)
    # The URL Locust users reach it at, when not http://host:port (remote Locust workers).
    url: str | None = None


class Distributed(_Model):
    """A Locust master and ``workers`` Locust worker processes on this host, plus
    ``remote_workers`` started by hand on other hosts (see docs/load.md)."""

    workers: int = Field(default=0, ge=0, le=MAX_LOCUST_WORKERS)
    remote_workers: int = Field(default=0, ge=0, le=MAX_LOCUST_WORKERS)
    bind_host: str = "127.0.0.1"
    port: int = Field(default=0, ge=0, le=65535)

    @property
    def processes(self) -> int:
        """How many Locust processes generate load: the workers, or the one local process."""
        return max(1, self.workers + self.remote_workers)


class Band(_Model):
    """Recovered means throughput at least ``1 - throughput`` of the baseline and p99 at most
    ``1 + p99`` times the baseline (fractions)."""

    throughput: float = Field(default=0.2, gt=0, lt=1)
    p99: float = Field(default=0.5, gt=0, le=100)


class Recovery(_Model):
    """How time to recover is measured (docs/load.md, "Time to recover")."""

    band: Band = Field(default_factory=Band)
    baseline_s: float = Field(default=5.0, ge=1, le=600)
    window_s: float = Field(default=3.0, ge=1, le=60)
    warmup_s: float = Field(default=2.0, ge=0, le=600)


class Threshold(_Model):
    """``metric op value``: a pass/fail criterion; a broken one makes the verdict invalid."""

    metric: str
    op: str
    value: float

    @model_validator(mode="after")
    def _known(self) -> Threshold:
        if self.metric not in METRICS:
            raise ValueError(
                f"metric={self.metric!r} is not a figure of a load run; use one of "
                f"{', '.join(METRICS)}"
            )
        if self.op not in OPERATORS:
            raise ValueError(f"op={self.op!r} is not one of {' '.join(OPERATORS)}")
        if not math.isfinite(self.value):
            raise ValueError(f"value={self.value!r} is not a finite number")
        return self

    def describe(self) -> str:
        """``e2e_p99_ms < 2000``."""
        return f"{self.metric} {self.op} {self.value:g}"


class LoadProfile(_Model):
    """A whole load profile, every bound checked: what to load, how hard, how long, which
    faults, what must hold. Load one with :func:`loadtests.load_profile`."""

    name: str = Field(min_length=1, max_length=200)
    workflow: str
    inputs: list[JsonObject] | InputGenerator
    # Where the inputs were read from, when they came from a file (set by load_profile).
    inputs_file: str | None = None
    user: Literal["http", "python"] = "http"
    shape: Shape
    users: int = Field(ge=1, le=MAX_USERS)
    arrival_rate: float | None = Field(default=None, gt=0, le=MAX_RATE)
    duration_s: float = Field(ge=1, le=MAX_SECONDS)
    spawn_rate: float | None = Field(default=None, gt=0, le=MAX_USERS)
    think_time_s: tuple[float, float] = (0.0, 0.1)
    follow: Follow = Field(default_factory=Follow)
    request_timeout_s: float = Field(default=10.0, gt=0, le=300)
    max_runs: int = Field(default=100_000, ge=1, le=MAX_RUNS)
    drain_s: float = Field(default=15.0, ge=0, le=600)
    progress_bound_s: float = Field(default=60.0, ge=1, le=MAX_SECONDS)
    workers: int = Field(default=2, ge=1, le=MAX_WORKERS)
    lease_s: float = Field(default=5.0, gt=0, le=600)
    # None: a SQLite file of the run's own (``store: sqlite`` in YAML); else an empty database.
    store: StoreUrl | None = None
    services: tuple[str, ...] = ()
    api: Api = Field(default_factory=Api)
    distributed: Distributed = Field(default_factory=Distributed)
    faults: tuple[dict[str, Any], ...] = ()
    thresholds: tuple[Threshold, ...] = ()
    recovery: Recovery = Field(default_factory=Recovery)
    invariants: tuple[str, ...] | None = None
    seed: int = 0

    @field_validator("shape", mode="before")
    @classmethod
    def _shape_by_name(cls, value: Any) -> Any:
        # `shape: steady` is short for `shape: {kind: steady}`.
        if isinstance(value, str):
            value = {"kind": value}
        if isinstance(value, dict) and value.get("kind") not in SHAPES:
            raise ValueError(
                f"kind={value.get('kind')!r} is not a shape; use one of {', '.join(SHAPES)}"
            )
        return value

    @field_validator("store", mode="before")
    @classmethod
    def _store(cls, value: Any) -> Any:
        if value in (None, "sqlite"):
            return None
        if not isinstance(value, dict):
            raise ValueError("must be sqlite, or {url: URL} of an empty database")
        return value

    @field_validator("workflow")
    @classmethod
    def _spec(cls, value: str) -> str:
        if not _SPEC.match(value):
            raise ValueError("must be module:attribute, e.g. examples.order_saga:order_saga")
        return value

    @field_validator("inputs", mode="before")
    @classmethod
    def _inputs(cls, value: Any) -> Any:
        if isinstance(value, dict) and set(value) == {"generator"}:
            if not isinstance(value["generator"], str) or not _SPEC.match(value["generator"]):
                raise ValueError("inputs.generator must be module:attribute")
            return value
        if not isinstance(value, list) or not value:
            raise ValueError(
                "must be a non-empty list of inputs, {file: PATH} or {generator: module:attr}"
            )
        for index, item in enumerate(value):
            if not isinstance(item, dict):
                raise ValueError(f"inputs[{index}]={item!r} is not a mapping")
        return value

    @field_validator("thresholds", mode="before")
    @classmethod
    def _thresholds(cls, value: Any) -> Any:
        # `thresholds: {e2e_p99_ms: "< 2000"}` (k6 style), or a list of them per metric.
        if not isinstance(value, dict):
            return value
        parsed = []
        for metric, criteria in value.items():
            for criterion in criteria if isinstance(criteria, list) else [criteria]:
                match = re.fullmatch(r"\s*(<=|>=|<|>)\s*(\S+)\s*", str(criterion))
                if match is None:
                    raise ValueError(
                        f"thresholds.{metric}={criterion!r} must be 'OP NUMBER', e.g. '< 2000'"
                    )
                try:
                    number = float(match.group(2))
                except ValueError:
                    raise ValueError(
                        f"thresholds.{metric}={criterion!r}: {match.group(2)!r} is not a number"
                    ) from None
                parsed.append({"metric": metric, "op": match.group(1), "value": number})
        return parsed

    @field_validator("services")
    @classmethod
    def _service_names(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for name in value:
            if not name.isidentifier() or name == STORE_PROXY:
                raise ValueError(f"service name={name!r} must be an identifier other than 'store'")
        return value

    @model_validator(mode="after")
    def _between_fields(self) -> LoadProfile:
        from ._profile_rules import check_profile  # the rules between fields, in one place

        check_profile(self)
        return self

    # -- views -------------------------------------------------------------------------------

    @property
    def peak_users(self) -> int:
        """The most users the shape ever runs at once."""
        return peak_users(self.shape.model_dump(), self.users, self.duration_s)

    @property
    def fault_targets(self) -> tuple[str, ...]:
        """What a fault window may target: the store's proxy (PostgreSQL), each service's
        proxy, each worker slot."""
        store = (STORE_PROXY,) if self.networked_store else ()
        return (*store, *self.services, *(f"worker-{n}" for n in range(self.workers)))

    @property
    def store_url(self) -> str | None:
        """The store's URL, or ``None`` for a SQLite file of the run's own."""
        return self.store.url if self.store is not None else None

    @property
    def networked_store(self) -> bool:
        """Whether the store is reached over the network (a URL that is not SQLite)."""
        return self.store_url is not None and not self.store_url.startswith("sqlite")

"""The whole durable schema, as SQLAlchemy Core tables, in one place."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import (
    BigInteger,
    Column,
    Connection,
    Float,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
)

SCHEMA_VERSION = 4

# The migration path: MIGRATIONS[n] turns a store at version n - 1 into version n. A store older
# than SCHEMA_VERSION is migrated step by step inside one transaction when it is opened; a newer
# one is refused. The functions live in _migrations.py and are registered there.
#
# Versions: 1 the first. 2 errors as records (``cf_steps.error`` and the new
# ``compensation_error`` hold JSON: type, message, code, attempt, definite), the run's failure
# summary (``cf_runs.failure``), the run state ``compensated`` renamed ``rolled_back`` (and its
# event ``run_compensated`` renamed ``run_rolled_back``), indexes for listing runs. 3 the
# orchestration patterns' shared state: ``cf_rate_limits`` (a token bucket per named limit),
# ``cf_runs.priority``, and a stall policy's ``deadline``, ``stall_policy`` and ``stalled_at``.
# 4 ``cf_canaries``: each canary version's state (stopped or not).
MIGRATIONS: dict[int, Callable[[Connection], None]] = {}

# What the id columns hold; the HTTP API refuses longer ids before they reach the database.
ID_LENGTH = 128

metadata = MetaData()

# SQLite only auto-increments an INTEGER PRIMARY KEY; PostgreSQL wants 64 bits for a long log.
_Seq = BigInteger().with_variant(Integer(), "sqlite")

meta = Table(
    "cf_meta",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("value", String(256), nullable=False),
)

runs = Table(
    "cf_runs",
    metadata,
    Column("run_id", String(ID_LENGTH), primary_key=True),
    Column("workflow", String(ID_LENGTH), nullable=False),
    Column("version", Integer, nullable=False),
    Column("state", String(32), nullable=False),
    Column("input", Text, nullable=False),
    Column("correlation_id", String(ID_LENGTH)),
    # A child run started by a sub-workflow step points at the step that waits for it.
    Column("parent_run_id", String(128)),
    Column("parent_step", String(128)),
    # Retries spent by all steps of the run, against the workflow's retry budget.
    Column("retries_used", Integer, nullable=False, default=0),
    # Claims take higher priorities first within a workflow (see _priorities; version 3).
    Column("priority", Integer, nullable=False, default=0, server_default="0"),
    # A stall policy's deadline, the policy, and when it fired (see _stall; version 3).
    Column("deadline", Float),
    Column("stall_policy", String(16)),
    Column("stalled_at", Float),
    Column("created_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
    # Why the run did not complete, as JSON (the failed step and its error, or the cancel),
    # written once, when the run leaves ``running``.
    Column("failure", Text),
)

steps = Table(
    "cf_steps",
    metadata,
    Column("run_id", String(128), primary_key=True),
    Column("step", String(128), primary_key=True),
    Column("state", String(32), nullable=False),
    # Attempts of the current purpose (action, then compensation): a claim increments it.
    Column("attempt", Integer, nullable=False, default=0),
    # A fresh token on every claim fences late writes from a worker whose lease was taken over.
    Column("lease_token", String(36)),
    Column("lease_owner", String(128)),
    Column("lease_expires_at", Float),
    Column("not_before", Float, nullable=False, default=0.0),
    Column("output", Text),
    # The last error of the action and of the compensation, each a JSON StepError record.
    Column("error", Text),
    Column("compensation_error", Text),
    Column("updated_at", Float, nullable=False),
)

events = Table(
    "cf_events",
    metadata,
    Column("seq", _Seq, primary_key=True, autoincrement=True),
    Column("run_id", String(128), nullable=False),
    Column("step", String(128)),
    Column("kind", String(64), nullable=False),
    Column("attempt", Integer, nullable=False, default=0),
    Column("worker_id", String(128)),
    Column("at", Float, nullable=False),
    Column("detail", Text, nullable=False, default="{}"),
)

breakers = Table(
    "cf_breakers",
    metadata,
    Column("resource", String(128), primary_key=True),
    Column("state", String(16), nullable=False),
    Column("failures", Integer, nullable=False),
    Column("opened_at", Float),
)

# A token bucket per named rate limit, shared by every worker of the store (see _rate_limits).
rate_limits = Table(
    "cf_rate_limits",
    metadata,
    Column("name", String(128), primary_key=True),
    Column("tokens", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
)

# A canary version's shared state: a row once its first run ended, locked by each judgement so
# that two workers judge in turn; ``stopped_at`` set once it failed too often, which every
# submitter reads (see _canary; version 4).
canaries = Table(
    "cf_canaries",
    metadata,
    Column("workflow", String(ID_LENGTH), primary_key=True),
    Column("version", Integer, primary_key=True),
    Column("stopped_at", Float),
    Column("detail", Text, nullable=False, default="{}"),
)

Index("cf_steps_claimable", steps.c.state, steps.c.not_before)
Index("cf_events_by_run", events.c.run_id, events.c.seq)
# Listing runs: newest first, optionally of one state, workflow or correlation id.
RUN_INDEXES = (
    Index("cf_runs_by_created", runs.c.created_at, runs.c.run_id),
    Index("cf_runs_by_state", runs.c.state, runs.c.created_at),
    Index("cf_runs_by_workflow", runs.c.workflow, runs.c.created_at),
    Index("cf_runs_by_correlation", runs.c.correlation_id),
)

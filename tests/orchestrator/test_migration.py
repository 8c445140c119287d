"""A version-1 store, as chaosflow wrote it before issue 12, opened by this version.

Its runs must read back: ``compensated`` as ``rolled_back`` (in the runs and in the log), each
step's error text as a record (whose purpose the log decides), and each run's failure summary
rebuilt from its events. On SQLite and PostgreSQL.
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import (
    Column,
    Float,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    create_engine,
    insert,
    inspect,
    select,
    text,
    update,
)

from orchestrator import (
    Orchestrator,
    RateLimit,
    RunState,
    Step,
    StepError,
    StepState,
    Store,
    Workflow,
)
from orchestrator._schema import SCHEMA_VERSION, meta

V1 = MetaData()
Table("cf_meta", V1, Column("key", String(64), primary_key=True), Column("value", String(256)))
V1_RUNS = Table(
    "cf_runs",
    V1,
    Column("run_id", String(128), primary_key=True),
    Column("workflow", String(128), nullable=False),
    Column("version", Integer, nullable=False),
    Column("state", String(32), nullable=False),
    Column("input", Text, nullable=False),
    Column("correlation_id", String(128)),
    Column("parent_run_id", String(128)),
    Column("parent_step", String(128)),
    Column("retries_used", Integer, nullable=False, default=0),
    Column("created_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
)
V1_STEPS = Table(
    "cf_steps",
    V1,
    Column("run_id", String(128), primary_key=True),
    Column("step", String(128), primary_key=True),
    Column("state", String(32), nullable=False),
    Column("attempt", Integer, nullable=False, default=0),
    Column("lease_token", String(36)),
    Column("lease_owner", String(128)),
    Column("lease_expires_at", Float),
    Column("not_before", Float, nullable=False, default=0.0),
    Column("output", Text),
    Column("error", Text),
    Column("updated_at", Float, nullable=False),
)
V1_EVENTS = Table(
    "cf_events",
    V1,
    Column("seq", Integer, primary_key=True, autoincrement=True),
    Column("run_id", String(128), nullable=False),
    Column("step", String(128)),
    Column("kind", String(64), nullable=False),
    Column("attempt", Integer, nullable=False, default=0),
    Column("worker_id", String(128)),
    Column("at", Float, nullable=False),
    Column("detail", Text, nullable=False, default="{}"),
)


def write_version_1_store(url: str) -> None:
    engine = create_engine(url)
    V1.create_all(engine)
    runs = [("old-rolled", "compensated"), ("old-broken", "compensation_failed")]
    runs += [("old-cancelled", "cancelled"), ("old-done", "completed")]
    steps: list[dict[str, Any]] = [
        # old-rolled: b failed for good and was compensated; a was compensated.
        {"run_id": "old-rolled", "step": "a", "state": "compensated", "error": None},
        {"run_id": "old-rolled", "step": "b", "state": "compensated", "error": "Refused: no"},
        # old-broken: b failed; a's compensation then failed, overwriting the error column.
        {"run_id": "old-broken", "step": "a", "state": "compensation_failed", "error": "E: down"},
        {"run_id": "old-broken", "step": "b", "state": "failed", "error": "KeyError: 'sku'"},
        {"run_id": "old-cancelled", "step": "a", "state": "compensated", "error": None},
        {"run_id": "old-cancelled", "step": "b", "state": "skipped", "error": None},
        {"run_id": "old-done", "step": "a", "state": "completed", "error": None},
        {"run_id": "old-done", "step": "b", "state": "completed", "error": None},
    ]
    log: list[tuple[str, str | None, str, int, dict[str, Any]]] = [
        ("old-rolled", None, "run_submitted", 0, {}),
        ("old-rolled", "b", "step_retry_scheduled", 1, {"error": "Refused: no", "attempt": 1}),
        ("old-rolled", "b", "step_failed", 2, {"error": "Refused: no", "attempt": 2}),
        ("old-rolled", None, "run_compensating", 0, {}),
        ("old-rolled", "a", "step_compensated", 1, {}),
        ("old-rolled", "b", "step_compensated", 1, {}),
        ("old-rolled", None, "run_compensated", 0, {}),
        ("old-broken", None, "run_submitted", 0, {}),
        ("old-broken", "b", "step_failed", 1, {"error": "KeyError: 'sku'", "attempt": 1}),
        ("old-broken", None, "run_compensating", 0, {}),
        ("old-broken", "a", "compensation_retry_scheduled", 1, {"error": "E: down"}),
        ("old-broken", "a", "compensation_failed", 2, {"error": "E: down", "attempt": 2}),
        ("old-broken", None, "run_compensation_failed", 0, {}),
        ("old-cancelled", None, "run_submitted", 0, {}),
        ("old-cancelled", None, "cancel_requested", 0, {"reason": "customer asked"}),
        ("old-cancelled", None, "run_cancelled", 0, {}),
        ("old-done", None, "run_completed", 0, {}),
    ]
    with engine.begin() as conn:
        conn.execute(insert(meta).values(key="schema_version", value="1"))
        for n, (run_id, state) in enumerate(runs):
            conn.execute(
                insert(V1_RUNS).values(
                    run_id=run_id,
                    workflow="legacy",
                    version=1,
                    state=state,
                    input="{}",
                    retries_used=0,
                    created_at=100.0 + n,
                    updated_at=200.0 + n,
                )
            )
        conn.execute(insert(V1_STEPS), [{**s, "attempt": 2, "updated_at": 1.0} for s in steps])
        conn.execute(
            insert(V1_EVENTS),
            [
                {
                    "run_id": r,
                    "step": s,
                    "kind": k,
                    "attempt": a,
                    "at": 1.0,
                    "detail": json.dumps(d),
                }
                for r, s, k, a, d in log
            ],
        )
    engine.dispose()


def test_a_version_1_store_reads_back_with_the_new_names_and_records(store_url: str) -> None:
    write_version_1_store(store_url)
    orch = Orchestrator(store_url)
    try:
        with orch.store.engine.connect() as conn:
            version = conn.execute(select(meta.c.value)).scalar()
        assert version == str(SCHEMA_VERSION) == "4"

        rolled = orch.status("old-rolled")
        assert rolled.state == RunState.ROLLED_BACK
        assert rolled.errors == {"b": StepError("Refused", "no", None, 2, False)}
        assert rolled.failure is not None and rolled.failure.step == "b"
        assert rolled.failure.error == StepError("Refused", "no", None, 2, False)
        kinds = [e.kind for e in orch.events("old-rolled")]
        assert kinds[-1] == "run_rolled_back" and "run_compensated" not in kinds

        broken = orch.status("old-broken")
        assert broken.state == RunState.COMPENSATION_FAILED
        assert broken.steps["a"] == StepState.COMPENSATION_FAILED
        # The log says a's error came from its compensation: it moves to that column.
        assert broken.compensation_errors == {
            "a": StepError("E", "down", None, 2, False, "compensation")
        }
        assert broken.errors == {"b": StepError("KeyError", "'sku'", None, 1, False)}
        assert broken.failure is not None
        assert broken.failure.step == "b"
        assert set(broken.failure.compensation_failures) == {"a"}

        cancelled = orch.status("old-cancelled")
        assert cancelled.failure is not None
        assert cancelled.failure.reason == "cancelled: customer asked"
        assert orch.status("old-done").failure is None

        listed = orch.list_runs(state="rolled_back")
        assert [r.run_id for r in listed.runs] == ["old-rolled"]
        assert orch.list_runs(state=RunState.COMPENSATION_FAILED).runs[0].failure is not None
    finally:
        orch.store.dispose()
    # Opening it again migrates nothing twice.
    again = Orchestrator(store_url)
    assert again.status("old-rolled").state == RunState.ROLLED_BACK
    again.store.dispose()


def test_a_version_2_store_gains_the_rate_limit_table_and_keeps_its_runs(store_url: str) -> None:
    wf = Workflow("old", [Step("a", lambda ctx: "a")])
    orch = Orchestrator(store_url)
    run_id = orch.submit(wf, {})
    orch.store.dispose()
    engine = create_engine(store_url)
    with engine.begin() as conn:
        conn.execute(text("DROP TABLE cf_rate_limits"))
        conn.execute(update(meta).where(meta.c.key == "schema_version").values(value="2"))
    engine.dispose()
    # Opened as a reader does (nothing created first): the migration alone adds the table.
    store = Store(store_url)
    try:
        store.create_schema(create=False)
        assert inspect(store.engine).has_table("cf_rate_limits")
        with store.engine.connect() as conn:
            assert conn.execute(select(meta.c.value)).scalar() == str(SCHEMA_VERSION)
    finally:
        store.dispose()
    orch = Orchestrator(store_url)
    try:
        orch.register(wf)
        assert orch.status(run_id).steps["a"] == StepState.READY
        limited = Workflow("new", [Step("a", lambda ctx: "a", rate_limit=RateLimit("api", 1))])
        new_run = orch.submit(limited, {})
        orch.run_until_quiet(max_seconds=30)
        assert orch.status(new_run).state == RunState.COMPLETED
    finally:
        orch.store.dispose()


def test_a_version_3_store_gains_the_canary_table_and_keeps_its_runs(store_url: str) -> None:
    wf = Workflow("old", [Step("a", lambda ctx: "a")])
    orch = Orchestrator(store_url)
    run_id = orch.submit(wf, {})
    orch.store.dispose()
    engine = create_engine(store_url)
    with engine.begin() as conn:
        conn.execute(text("DROP TABLE cf_canaries"))
        conn.execute(update(meta).where(meta.c.key == "schema_version").values(value="3"))
    engine.dispose()
    store = Store(store_url)
    try:
        store.create_schema(create=False)  # as a reader opens it: the migration alone
        assert inspect(store.engine).has_table("cf_canaries")
        with store.engine.connect() as conn:
            assert conn.execute(select(meta.c.value)).scalar() == "4"
    finally:
        store.dispose()
    orch = Orchestrator(store_url)
    try:
        orch.register(wf)
        orch.run_until_quiet(max_seconds=30)
        assert orch.status(run_id).state == RunState.COMPLETED
    finally:
        orch.store.dispose()

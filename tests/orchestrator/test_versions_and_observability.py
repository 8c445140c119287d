"""Versions, store errors, and structured event logs."""

from __future__ import annotations

import json
import logging
import socket
from pathlib import Path

import pytest

from orchestrator import (
    JsonEventLog,
    ManualClock,
    Orchestrator,
    RegistryError,
    RunState,
    Step,
    StepContext,
    StoreError,
    Workflow,
    trace_id_for,
)
from tests.orchestrator.conftest import OrchestratorFactory


def tag(label: str):  # type: ignore[no-untyped-def]
    def action(ctx: StepContext) -> str:
        return label

    return action


def test_a_run_finishes_on_the_version_it_started_with(
    make_orchestrator: OrchestratorFactory,
) -> None:
    v1 = Workflow("order", [Step("a", tag("v1-a")), Step("b", tag("v1-b"), after=("a",))])
    v2 = Workflow(
        "order", [Step("a", tag("v2-a")), Step("c", tag("v2-c"), after=("a",))], version=2
    )
    orch = make_orchestrator(clock=ManualClock(0.0))
    orch.register(v1)
    old = orch.submit("order", {})
    orch.register(v2)
    new = orch.submit("order", {})  # the latest version by default
    orch.run_until_quiet(max_seconds=60)
    assert orch.status(old).version == 1
    assert orch.status(old).outputs == {"a": "v1-a", "b": "v1-b"}
    assert orch.status(new).outputs == {"a": "v2-a", "c": "v2-c"}
    assert orch.status(new).state == RunState.COMPLETED


def test_another_definition_under_an_existing_version_is_refused(
    make_orchestrator: OrchestratorFactory,
) -> None:
    orch = make_orchestrator(clock=None)
    orch.register(Workflow("order", [Step("a", tag("a"))]))
    orch.register(Workflow("order", [Step("a", tag("other action, same shape"))]))
    with pytest.raises(RegistryError, match=r"'order' v1 is already registered with a different"):
        orch.register(Workflow("order", [Step("a", tag("a")), Step("b", tag("b"))]))


def test_unknown_workflow_names_what_is_registered(make_orchestrator: OrchestratorFactory) -> None:
    orch = make_orchestrator(clock=None)
    orch.register(Workflow("order", [Step("a", tag("a"))]))
    with pytest.raises(RegistryError, match=r"'refund' is not registered .*registered: 'order' v1"):
        orch.submit("refund", {})


def test_unreachable_database_names_the_url_with_the_password_masked() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # nothing listens here once the socket closes
    url = f"postgresql+psycopg://alice:s3cret@127.0.0.1:{port}/shop?connect_timeout=2"
    with pytest.raises(
        StoreError, match=rf"Cannot reach the store at .*alice:\*\*\*@127.0.0.1:{port}"
    ) as info:
        Orchestrator(url)
    assert "s3cret" not in str(info.value)


def test_events_are_logged_as_json_with_correlation_and_trace_ids(
    make_orchestrator: OrchestratorFactory, caplog: pytest.LogCaptureFixture
) -> None:
    orch = make_orchestrator(clock=ManualClock(5.0))
    orch.hooks.add_listener(JsonEventLog())
    wf = Workflow("logged", [Step("a", tag("a"))])
    with caplog.at_level(logging.INFO, logger="chaosflow.events"):
        run_id = orch.submit(wf, {}, correlation_id="order-42")
        orch.run_until_quiet(max_seconds=60)
    lines = [json.loads(r.getMessage()) for r in caplog.records if r.name == "chaosflow.events"]
    assert [line["event"] for line in lines] == [
        "run_submitted",
        "step_claimed",
        "before_action",
        "after_action",
        "after_commit",
        "run_finished",
    ]
    assert {line["correlation_id"] for line in lines} == {"order-42"}
    assert {line["trace_id"] for line in lines} == {trace_id_for(run_id)}
    assert len(trace_id_for(run_id)) == 32
    assert lines[1]["step"] == "a" and lines[1]["attempt"] == 1


def test_an_older_store_is_migrated_and_a_newer_one_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sqlalchemy import update

    from orchestrator import _schema
    from orchestrator._schema import meta

    url = f"sqlite:///{tmp_path / 's.db'}"
    first = Orchestrator(url)
    with first.store.transaction() as tx:
        tx.conn.execute(update(meta).values(value="0"))
    first.store.dispose()
    applied: list[int] = []
    monkeypatch.setitem(_schema.MIGRATIONS, 1, lambda conn: applied.append(1))
    Orchestrator(url).store.dispose()
    assert applied == [1]
    with Orchestrator(url).store.transaction() as tx:
        tx.conn.execute(update(meta).values(value="99"))
    with pytest.raises(StoreError, match="has schema version 99, newer than"):
        Orchestrator(url)

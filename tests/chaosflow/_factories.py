"""Workflow factories for test_cli_hardening: one marked, one not, one that returns junk."""

from __future__ import annotations

from orchestrator import Step, Workflow, workflow_factory

CALLS: list[str] = []


def _noop(_ctx: object) -> None:
    return None


@workflow_factory
def made_by_factory() -> Workflow:
    CALLS.append("made_by_factory")
    return Workflow("factory-made", [Step("only", _noop)])


def unmarked() -> Workflow:
    CALLS.append("unmarked")
    return Workflow("never", [Step("only", _noop)])


@workflow_factory
def wrong_factory() -> Workflow:
    CALLS.append("wrong_factory")
    return 5  # type: ignore[return-value]

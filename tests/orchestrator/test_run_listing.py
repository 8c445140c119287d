"""Finding runs: filters by state, workflow, time and correlation id, and keyset paging."""

from __future__ import annotations

import warnings

import pytest

from orchestrator import (
    ManualClock,
    Orchestrator,
    RunState,
    Step,
    StepContext,
    Workflow,
    create_app,
)
from tests.orchestrator.conftest import OrchestratorFactory

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")
    from fastapi.testclient import TestClient


def act(ctx: StepContext) -> dict[str, bool]:
    if ctx.input.get("fail"):
        raise RuntimeError("told to fail")
    return {"ok": True}


PAY = Workflow("pay", [Step("a", act)])
SHIP = Workflow("ship", [Step("a", act)])


def populate(make: OrchestratorFactory) -> tuple[Orchestrator, ManualClock]:
    """Ten runs one second apart: pay-0..pay-5 (pay-4 fails), ship-0..ship-3."""
    clock = ManualClock(1000.0)
    orch = make(clock=clock)
    orch.register(PAY, SHIP)
    for n in range(6):
        orch.submit("pay", {"fail": n == 4}, run_id=f"pay-{n}", correlation_id=f"order-{n % 2}")
        clock.advance(1)
    for n in range(4):
        orch.submit("ship", {}, run_id=f"ship-{n}")
        clock.advance(1)
    return orch, clock


def ids(page: object) -> list[str]:
    return [run.run_id for run in page.runs]  # type: ignore[attr-defined]


def test_runs_are_listed_newest_first_and_filtered(make_orchestrator: OrchestratorFactory) -> None:
    orch, _ = populate(make_orchestrator)
    assert ids(orch.list_runs()) == [f"ship-{n}" for n in (3, 2, 1, 0)] + [
        f"pay-{n}" for n in (5, 4, 3, 2, 1, 0)
    ]
    assert ids(orch.list_runs(workflow="ship")) == ["ship-3", "ship-2", "ship-1", "ship-0"]
    assert ids(orch.list_runs(correlation_id="order-1")) == ["pay-5", "pay-3", "pay-1"]
    # pay-n was created at 1000 + n, ship-n at 1006 + n: since is inclusive, until exclusive.
    assert ids(orch.list_runs(since=1003, until=1006)) == ["pay-5", "pay-4", "pay-3"]
    assert ids(orch.list_runs(since=1009)) == ["ship-3"]
    orch.run_until_quiet(max_seconds=60)
    assert ids(orch.list_runs(state=RunState.ROLLED_BACK)) == ["pay-4"]
    (failed,) = orch.list_runs(state="rolled_back").runs
    assert failed.failure is not None and "told to fail" in failed.failure
    assert len(orch.list_runs(state="completed").runs) == 9
    assert ids(orch.list_runs(workflow="pay", correlation_id="order-0", state="completed")) == [
        "pay-2",
        "pay-0",
    ]


def test_pages_follow_each_other_without_gaps_or_repeats(
    make_orchestrator: OrchestratorFactory,
) -> None:
    orch, clock = populate(make_orchestrator)
    orch.submit("pay", {}, run_id="pay-tie")  # the same created_at as no other...
    orch.submit("ship", {}, run_id="ship-tie")  # ...but as this one: ties are broken by id
    seen: list[str] = []
    cursor = None
    for _ in range(10):
        page = orch.list_runs(limit=3, cursor=cursor)
        seen += ids(page)
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
        orch.submit("pay", {}, run_id=f"late-{len(seen)}")  # new runs do not shift pages
        clock.advance(1)
    assert seen[:2] == ["ship-tie", "pay-tie"]
    assert sorted(seen) == sorted(
        [f"pay-{n}" for n in range(6)] + [f"ship-{n}" for n in range(4)] + ["pay-tie", "ship-tie"]
    )
    assert len(seen) == len(set(seen)) == 12


def test_bad_listing_arguments_name_the_argument(make_orchestrator: OrchestratorFactory) -> None:
    orch, _ = populate(make_orchestrator)
    with pytest.raises(ValueError, match=r"state='compensated' .*renamed 'rolled_back'"):
        orch.list_runs(state="compensated")
    with pytest.raises(ValueError, match=r"limit=0 must be a whole number from 1 to 1000"):
        orch.list_runs(limit=0)
    with pytest.raises(ValueError, match=r"cursor='nope' is not of the form"):
        orch.list_runs(cursor="nope")
    with pytest.raises(ValueError, match=r"since=inf must be a time"):
        orch.list_runs(since=float("inf"))


def test_get_runs_lists_and_pages_over_http(make_orchestrator: OrchestratorFactory) -> None:
    orch, _ = populate(make_orchestrator)
    with TestClient(create_app(orch)) as client:
        first = client.get("/runs", params={"workflow": "pay", "limit": 4})
        assert first.status_code == 200
        body = first.json()
        assert [r["run_id"] for r in body["runs"]] == ["pay-5", "pay-4", "pay-3", "pay-2"]
        assert body["runs"][0]["state"] == "running" and body["runs"][0]["failure"] is None
        rest = client.get(
            "/runs", params={"workflow": "pay", "limit": 4, "cursor": body["next_cursor"]}
        ).json()
        assert [r["run_id"] for r in rest["runs"]] == ["pay-1", "pay-0"]
        assert rest["next_cursor"] is None
        assert client.get("/runs", params={"since": 1008}).json()["runs"][0]["run_id"] == "ship-3"
        for bad in ({"state": "compensated"}, {"limit": 0}, {"cursor": "nope"}, {"since": "inf"}):
            refused = client.get("/runs", params=bad)
            assert refused.status_code == 422, bad
            assert set(refused.json()) == {"error", "problems"}

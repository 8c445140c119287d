"""What the HTTP API promises, case by case: one error shape, declared statuses, bounded ids,
security in the document only with a token, no 500 from any input, JSON request logs."""

from __future__ import annotations

import json
import logging
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from examples.order_saga import DEMO_ORDERS, order_saga
from orchestrator import HTTP_LOGGER, Orchestrator, Step, StepContext, Workflow, create_app
from tests.orchestrator.conftest import OrchestratorFactory

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")
    from fastapi.testclient import TestClient

ORDER = DEMO_ORDERS[0]


@pytest.fixture
def orchestrator(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Orchestrator]:
    monkeypatch.setenv("CHAOSFLOW_LEDGER", str(tmp_path / "effects.db"))
    orch = Orchestrator(f"sqlite:///{tmp_path / 'store.db'}")
    orch.register(order_saga)
    yield orch
    orch.store.dispose()


@pytest.fixture
def client(orchestrator: Orchestrator) -> Iterator[TestClient]:
    with TestClient(create_app(orchestrator)) as test_client:
        yield test_client


def only_error(response: Any) -> str:
    """The error message of a response whose body is exactly ``{"error": ...}``."""
    body = response.json()
    assert set(body) == {"error"}, body
    assert isinstance(body["error"], str) and body["error"]
    return str(body["error"])


def test_unknown_routes_wrong_methods_and_undecodable_bodies_answer_the_one_shape(
    client: TestClient,
) -> None:
    missing = client.get("/nowhere")
    assert missing.status_code == 404
    assert "There is no route GET /nowhere" in only_error(missing)
    wrong = client.delete("/runs")
    assert wrong.status_code == 405
    assert wrong.headers["allow"] == "GET, POST"  # both routes of the path, not the first one's
    assert "DELETE /runs is not allowed" in only_error(wrong)
    assert client.put("/health").status_code == 405
    undecodable = client.post(
        "/runs", content=b'{"workflow": "\xff"}', headers={"Content-Type": "application/json"}
    )
    assert undecodable.status_code == 400
    assert "could not be decoded" in only_error(undecodable)


def test_a_validation_error_names_each_field_and_echoes_no_input(client: TestClient) -> None:
    response = client.post("/runs", json={"workflow": "", "input": [], "extra": 1})
    assert response.status_code == 422
    body = response.json()
    assert set(body) == {"error", "problems"}
    where = {tuple(p["loc"]) for p in body["problems"]}
    assert {("body", "workflow"), ("body", "input"), ("body", "extra")} <= where
    assert all(set(p) == {"loc", "msg", "type"} for p in body["problems"])


def test_a_lone_surrogate_or_a_nul_is_a_422_not_a_500(client: TestClient) -> None:
    bodies = [
        '{"workflow": "order", "run_id": "\\ud800"}',
        '{"workflow": "order", "input": {"name": "\\udfff"}}',
        '{"workflow": "order", "input": {"\\ud800": 1}}',
        '{"workflow": "order", "input": {"n": NaN}}',
        '{"workflow": "order", "run_id": "a\\u0000b"}',
        '{"workflow": "order", "correlation_id": "\\u0000"}',
    ]
    for body in bodies:
        response = client.post(
            "/runs", content=body.encode(), headers={"Content-Type": "application/json"}
        )
        assert response.status_code == 422, body
        assert "problems" in response.json()
    assert client.get("/runs/a%00b").status_code == 422
    assert client.get("/runs/%ED%A0%80").status_code == 404  # decoded as U+FFFD: no such run


def test_ids_are_bounded_to_what_the_store_holds(make_orchestrator: OrchestratorFactory) -> None:
    orch = make_orchestrator()
    orch.register(Workflow("w", [Step("a", lambda ctx: None)]))
    longest = "r" * 128
    with TestClient(create_app(orch)) as client:
        ok = client.post(
            "/runs", json={"workflow": "w", "run_id": longest, "correlation_id": "c" * 128}
        )
        assert ok.status_code == 202, ok.text  # the store (PostgreSQL too) holds 128
        assert client.get(f"/runs/{longest}").json()["correlation_id"] == "c" * 128
        for field in ("run_id", "correlation_id", "workflow"):
            too_long = client.post("/runs", json={"workflow": "w", field: "x" * 129})
            assert too_long.status_code == 422, field
            assert "at most 128 characters" in too_long.json()["error"]
        assert client.get(f"/runs/{'r' * 129}").status_code == 422
        assert client.get(f"/runs/{'r' * 129}/events").status_code == 422


def test_answers_that_json_cannot_carry_as_they_are_are_still_answered(
    tmp_path: Path,
) -> None:
    def odd(ctx: StepContext) -> dict[str, str]:
        return {"text": "half a pair: \udc80"}

    def nan(ctx: StepContext) -> float:
        return float("nan")

    orch = Orchestrator(f"sqlite:///{tmp_path / 'store.db'}")
    orch.register(Workflow("odd", [Step("a", odd)]), Workflow("nan", [Step("a", nan)]))
    orch.submit("odd", {}, run_id="o1")
    orch.submit("nan", {}, run_id="n1")
    orch.run_until_quiet(max_seconds=30)
    with TestClient(create_app(orch)) as client:
        odd_status = client.get("/runs/o1")
        assert odd_status.status_code == 200
        odd_status.content.decode("utf-8")  # the answer is valid UTF-8 ...
        # ... carrying the half pair as a JSON escape, which reads back as it was.
        assert odd_status.json()["outputs"]["a"]["text"] == "half a pair: \udc80"
        # NaN is not JSON: the step failed for good with an error saying so.
        nan_status = client.get("/runs/n1").json()
        assert nan_status["state"] == "rolled_back"
        assert nan_status["errors"]["a"]["type"] == "orchestrator.SerializationError"
    orch.store.dispose()


EXPECTED = {
    ("post", "/runs"): {"202", "400", "404", "409", "413", "422", "503"},
    ("get", "/runs"): {"200", "413", "422", "503"},
    ("get", "/runs/{run_id}"): {"200", "404", "413", "422", "503"},
    ("post", "/runs/{run_id}/cancel"): {"200", "404", "409", "413", "422", "503"},
    ("get", "/runs/{run_id}/events"): {"200", "404", "413", "422", "503"},
    ("get", "/health"): {"200", "413", "503"},
}


def declared(document: dict[str, Any]) -> dict[tuple[str, str], set[str]]:
    return {
        (method, path): set(operation["responses"])
        for path, operations in document["paths"].items()
        for method, operation in operations.items()
    }


def test_every_route_declares_every_status_and_security_only_with_a_token(
    orchestrator: Orchestrator,
) -> None:
    with TestClient(create_app(orchestrator)) as open_client:
        document = open_client.get("/openapi.json").json()
    assert declared(document) == EXPECTED
    assert "securitySchemes" not in document.get("components", {})
    assert all("security" not in op for ops in document["paths"].values() for op in ops.values())
    error_ref = document["paths"]["/runs"]["post"]["responses"]["409"]["content"]
    assert error_ref["application/json"]["schema"]["$ref"].endswith("/ErrorBody")

    with TestClient(create_app(orchestrator, token="t0ken")) as guarded_client:
        guarded = guarded_client.get("/openapi.json").json()
    assert guarded["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"
    for (method, path), statuses in declared(guarded).items():
        expected = EXPECTED[(method, path)] | ({"401"} if path != "/health" else set())
        assert statuses == expected, (method, path)
        assert ("security" in guarded["paths"][path][method]) == (path != "/health")


def test_each_request_is_logged_as_a_json_line(
    client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger=HTTP_LOGGER)
    client.post("/runs", json={"workflow": "order", "input": ORDER, "run_id": "logged"})
    client.get("/runs/logged")
    client.get("/nowhere")
    lines = [json.loads(r.getMessage()) for r in caplog.records if r.name == HTTP_LOGGER]
    assert [(line["method"], line["path"], line["status"]) for line in lines] == [
        ("POST", "/runs", 202),
        ("GET", "/runs/logged", 200),
        ("GET", "/nowhere", 404),
    ]
    assert all(line["event"] == "http_request" and line["ms"] >= 0 for line in lines)


def test_a_run_submitted_over_http_carries_its_priority(client: TestClient) -> None:
    created = client.post("/runs", json={"workflow": "order", "input": ORDER, "priority": 10})
    assert created.status_code in (201, 202), created.text
    status = client.get(f"/runs/{created.json()['run_id']}").json()
    assert status["priority"] == 10
    # JSON Schema's integer: 7.0 is 7.
    again = client.post("/runs", json={"workflow": "order", "input": ORDER, "priority": 7.0})
    assert client.get(f"/runs/{again.json()['run_id']}").json()["priority"] == 7
    for bad in (1001, "high", "7", 1.5, True):
        refused = client.post("/runs", json={"workflow": "order", "input": ORDER, "priority": bad})
        assert refused.status_code == 422, bad
        assert ("body", "priority") in {tuple(p["loc"]) for p in refused.json()["problems"]}

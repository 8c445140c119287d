"""The HTTP API: in process through TestClient, and once for real under uvicorn in a subprocess."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import time
import warnings
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from examples.order_saga import DEMO_ORDERS, order_saga
from orchestrator import MAX_BODY_BYTES, Orchestrator, create_app, input_digest, serve_http

with warnings.catch_warnings():
    # This starlette wants the `httpx2` fork for its TestClient; httpx works and is what we ship.
    warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")
    from fastapi.testclient import TestClient

from tests._servers import start_server

ROOT = Path(__file__).resolve().parents[2]
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


def test_submit_answers_202_with_a_run_id_and_the_run_is_stored(
    client: TestClient, orchestrator: Orchestrator
) -> None:
    response = client.post("/runs", json={"workflow": "order", "input": ORDER})
    assert response.status_code == 202
    run_id = response.json()["run_id"]
    assert orchestrator.status(run_id).workflow == "order"


def test_resubmitting_a_run_id_is_idempotent_and_another_input_a_409(
    client: TestClient, orchestrator: Orchestrator
) -> None:
    body = {"workflow": "order", "input": ORDER, "run_id": "order-42", "correlation_id": "c-1"}
    first = client.post("/runs", json=body)
    again = client.post("/runs", json=body)
    assert first.status_code == again.status_code == 202
    assert first.json() == again.json() == {"run_id": "order-42"}
    other = client.post("/runs", json={**body, "input": DEMO_ORDERS[1]})
    assert other.status_code == 409
    error = other.json()["error"]
    assert input_digest(ORDER) in error and input_digest(DEMO_ORDERS[1]) in error
    assert len(orchestrator.runs()) == 1
    assert json.loads(orchestrator.store.run("order-42").input) == ORDER  # type: ignore[union-attr]


def test_status_gives_the_run_as_to_dict_does(
    client: TestClient, orchestrator: Orchestrator
) -> None:
    run_id = client.post(
        "/runs", json={"workflow": "order", "input": ORDER, "correlation_id": "c-7"}
    ).json()["run_id"]
    response = client.get(f"/runs/{run_id}")
    assert response.status_code == 200
    body = response.json()
    assert body == orchestrator.status(run_id).to_dict()
    assert body["state"] == "running"
    assert body["correlation_id"] == "c-7"
    assert set(body["steps"]) == {"reserve_stock", "charge_payment", "ship"}


def test_unknown_run_is_a_404_with_a_json_error(client: TestClient) -> None:
    for path in ("/runs/nope", "/runs/nope/events"):
        response = client.get(path)
        assert response.status_code == 404
        assert "'nope'" in response.json()["error"]


def test_unknown_workflow_is_a_404_naming_it_and_the_registered_ones(client: TestClient) -> None:
    response = client.post("/runs", json={"workflow": "refund", "input": {}})
    assert response.status_code == 404
    error = response.json()["error"]
    assert "'refund'" in error
    assert "'order' v1" in error


@pytest.mark.parametrize(
    "content",
    [b"{not json", b'{"workflow": "order", "input": [1, 2]}', b'{"input": {}}', b"[]"],
    ids=["malformed", "input-not-an-object", "no-workflow", "not-an-object"],
)
def test_bad_bodies_are_422_with_an_error_never_a_500(client: TestClient, content: bytes) -> None:
    response = client.post("/runs", content=content, headers={"Content-Type": "application/json"})
    assert response.status_code == 422
    assert "not valid" in response.json()["error"]


def test_bodies_over_one_mebibyte_are_413(client: TestClient, orchestrator: Orchestrator) -> None:
    big = {"workflow": "order", "input": {"blob": "x" * MAX_BODY_BYTES}}
    response = client.post("/runs", json=big)
    assert response.status_code == 413
    assert "limit of 1048576 bytes" in response.json()["error"]

    def chunks() -> Iterator[bytes]:  # no Content-Length: the limit holds while streaming
        yield b'{"workflow": "order", "input": {"blob": "'
        for _ in range(MAX_BODY_BYTES // 65536 + 1):
            yield b"x" * 65536
        yield b'"}}'

    streamed = client.post("/runs", content=chunks(), headers={"Content-Type": "application/json"})
    assert streamed.status_code == 413
    assert orchestrator.runs() == []


def test_a_token_is_required_on_every_route_but_health(orchestrator: Orchestrator) -> None:
    with TestClient(create_app(orchestrator, token="s3cret")) as client:
        submit = {"workflow": "order", "input": ORDER, "run_id": "r1"}
        assert client.post("/runs", json=submit).status_code == 401
        wrong = client.get("/runs/r1", headers={"Authorization": "Bearer guess"})
        assert wrong.status_code == 401
        assert "bearer token" in wrong.json()["error"]
        assert wrong.headers["WWW-Authenticate"] == "Bearer"
        assert client.get("/runs/r1/events").status_code == 401
        assert client.get("/health").status_code == 200

        auth = {"Authorization": "Bearer s3cret"}
        assert client.post("/runs", json=submit, headers=auth).status_code == 202
        assert client.get("/runs/r1", headers=auth).status_code == 200
        assert client.get("/runs/r1/events", headers=auth).status_code == 200


def test_a_blank_token_is_refused(orchestrator: Orchestrator) -> None:
    with pytest.raises(ValueError, match="token=' ' is blank"):
        create_app(orchestrator, token=" ")


def test_health_is_ok_and_503_when_the_store_is_gone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CHAOSFLOW_LEDGER", str(tmp_path / "effects.db"))
    folder = tmp_path / "store"
    folder.mkdir()
    orch = Orchestrator(f"sqlite:///{folder / 'store.db'}")
    with TestClient(create_app(orch)) as client:
        health = client.get("/health").json()
        assert health["status"] == "ok"
        assert health["workers"] == {"count": 0, "busy": 0, "idle": 0, "steps_handled": 0}
        assert health["limits"] == {}
        orch.store.dispose()
        shutil.rmtree(folder)  # SQLite cannot open a file in a folder that is gone
        response = client.get("/health")
        assert response.status_code == 503
        assert "cannot be reached" in response.json()["error"]


def test_events_show_the_run_completing(client: TestClient, orchestrator: Orchestrator) -> None:
    run_id = client.post("/runs", json={"workflow": "order", "input": ORDER}).json()["run_id"]
    orchestrator.run_until_quiet(max_seconds=10)
    events = client.get(f"/runs/{run_id}/events").json()
    kinds = [event["kind"] for event in events]
    assert kinds[-1] == "run_completed"
    assert [event["seq"] for event in events] == sorted(event["seq"] for event in events)
    assert set(events[0]) == {"seq", "step", "kind", "attempt", "worker_id", "at", "detail"}
    assert client.get(f"/runs/{run_id}").json()["state"] == "completed"


def test_the_openapi_document_lists_the_routes(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    assert {"/runs", "/runs/{run_id}", "/runs/{run_id}/events", "/health"} <= set(paths)


@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.5", "example.com"])
def test_serving_beyond_loopback_needs_a_token(orchestrator: Orchestrator, host: str) -> None:
    with pytest.raises(ValueError, match="token is required when not on loopback"):
        serve_http(orchestrator, host=host)


def stop_server(process: subprocess.Popen[bytes]) -> int:
    """Stop the server as an operator would (SIGTERM) and return its exit code.

    uvicorn shuts down gracefully (the workers stop in the app's lifespan), then re-raises the
    signal, so the process ends with -SIGTERM.
    """
    process.terminate()
    try:
        return process.wait(timeout=120)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)
        raise


def test_a_real_server_runs_a_submitted_order_to_completion(tmp_path: Path) -> None:
    process, url = start_server(
        f"sqlite:///{tmp_path / 'store.db'}", tmp_path / "effects.db", tmp_path, workers=1
    )
    try:
        with httpx.Client(base_url=url, timeout=60) as http:
            health = http.get("/health").json()
            assert health["status"] == "ok", health
            submitted = http.post("/runs", json={"workflow": "order", "input": ORDER})
            assert submitted.status_code == 202
            run_id = submitted.json()["run_id"]
            deadline = time.monotonic() + 180  # generous: ends when the run does
            state = None
            while time.monotonic() < deadline:
                state = http.get(f"/runs/{run_id}").json()["state"]
                if state == "completed":
                    break
                time.sleep(0.1)
            assert state == "completed"
            # The server's worker thread shows in its health: one worker, its steps counted.
            workers = http.get("/health").json()["workers"]
            assert workers["count"] == 1 and workers["steps_handled"] >= 3, workers
    finally:
        code = stop_server(process)
    errors = (tmp_path / "server.err").read_text()
    assert code == -signal.SIGTERM, errors
    assert "Traceback" not in errors


def test_a_bounded_server_stops_by_itself(tmp_path: Path) -> None:
    process, url = start_server(
        f"sqlite:///{tmp_path / 'store.db'}",
        tmp_path / "effects.db",
        tmp_path,
        workers=2,
        max_seconds=1,
    )
    try:
        code = process.wait(timeout=180)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)
    assert code == 0, (tmp_path / "server.err").read_text()
    assert url.startswith("http://127.0.0.1:")


def test_cancel_over_http_compensates_and_refuses_an_ended_run(
    client: TestClient, orchestrator: Orchestrator
) -> None:
    run_id = client.post("/runs", json={"workflow": "order", "input": ORDER}).json()["run_id"]
    worker = orchestrator.worker()
    assert worker.tick() and worker.tick()  # stock reserved, payment charged
    response = client.post(f"/runs/{run_id}/cancel")
    assert response.status_code == 200
    assert response.json()["state"] == "cancelling"
    orchestrator.run_until_quiet(max_seconds=30)
    assert client.get(f"/runs/{run_id}").json()["state"] == "cancelled"
    again = client.post(f"/runs/{run_id}/cancel")
    assert again.status_code == 409
    assert "cannot take event 'cancel' in state 'cancelled'" in again.json()["error"]
    assert client.post("/runs/nope/cancel").status_code == 404


def test_serve_logs_each_request_and_each_step_failure_as_json_lines(tmp_path: Path) -> None:
    process, url = start_server(
        f"sqlite:///{tmp_path / 'store.db'}", tmp_path / "effects.db", tmp_path, workers=1
    )
    refused = {**ORDER, "address": "undeliverable"}
    try:
        with httpx.Client(base_url=url, timeout=60) as http:
            run_id = http.post("/runs", json={"workflow": "order", "input": refused}).json()[
                "run_id"
            ]
            deadline = time.monotonic() + 180  # generous: ends when the run does
            status: dict[str, object] = {}
            while time.monotonic() < deadline:
                status = http.get(f"/runs/{run_id}").json()
                if status["state"] == "rolled_back":
                    break
                time.sleep(0.1)
            assert status["state"] == "rolled_back"
    finally:
        stop_server(process)
    lines = [
        json.loads(line)
        for line in (tmp_path / "server.err").read_text().splitlines()
        if line.startswith("{")
    ]
    requests = [line for line in lines if line["event"] == "http_request"]
    assert ("POST", "/runs", 202) in {(r["method"], r["path"], r["status"]) for r in requests}
    assert all({"ms", "at", "client"} <= set(r) for r in requests)
    (failure,) = [line for line in lines if line["event"] == "step_failed"]
    assert failure["run_id"] == run_id and failure["step"] == "ship"
    assert failure["type"] == "examples.order_saga.ShippingRefused"
    assert (failure["code"], failure["definite"]) == ("address_refused", True)
    assert failure["trace_id"] and failure["workflow"] == "order"

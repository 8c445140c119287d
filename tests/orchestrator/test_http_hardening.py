"""What a server without a token allows, and where a token comes from: the Host header is checked
against the bound address (DNS rebinding), /docs is off unless asked for (it loads a CDN), and
the token comes from --token, --token-file or $CHAOSFLOW_TOKEN. A real `chaosflow serve`."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from examples.order_saga import DEMO_ORDERS, order_saga
from orchestrator import Orchestrator
from orchestrator._http import build_app
from orchestrator._http_plumbing import host_name

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")
    from fastapi.testclient import TestClient

from tests._servers import start_server

SUBMIT = {"workflow": "order", "input": DEMO_ORDERS[0]}


@pytest.fixture
def orchestrator(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Orchestrator]:
    monkeypatch.setenv("CHAOSFLOW_LEDGER", str(tmp_path / "effects.db"))
    orch = Orchestrator(f"sqlite:///{tmp_path / 'store.db'}")
    orch.register(order_saga)
    yield orch
    orch.store.dispose()


@pytest.mark.parametrize(
    ("header", "name"),
    [
        ("127.0.0.1:8080", "127.0.0.1"),
        ("LOCALHOST", "localhost"),
        ("[::1]:80", "::1"),
        ("::1", "::1"),
        ("evil.example:8080", "evil.example"),
        ("", ""),
    ],
)
def test_the_host_name_is_read_without_its_port(header: str, name: str) -> None:
    assert host_name(header) == name


def test_a_foreign_host_is_refused_on_every_route(orchestrator: Orchestrator) -> None:
    app = build_app(orchestrator, None, None, allowed_hosts=frozenset({"127.0.0.1", "localhost"}))
    with TestClient(app, base_url="http://localhost:9999") as client:
        assert client.get("/health").status_code == 200
        for method, path in (("GET", "/runs"), ("POST", "/runs"), ("POST", "/runs/x/cancel")):
            answer = client.request(
                method, path, json=SUBMIT, headers={"Host": "rebind.attacker.example"}
            )
            assert answer.status_code == 421, answer.text
            assert "Host='rebind.attacker.example' is not a name" in answer.json()["error"]
        assert orchestrator.list_runs().runs == ()  # the refused submit made no run


def test_docs_are_off_unless_asked_for(orchestrator: Orchestrator) -> None:
    with TestClient(build_app(orchestrator, None, None)) as client:
        assert client.get("/docs").status_code == 404
        assert client.get("/openapi.json").status_code == 200
    with TestClient(build_app(orchestrator, None, None, docs=True)) as client:
        assert client.get("/docs").status_code == 200


@pytest.mark.slow
def test_a_real_server_without_a_token_checks_the_host(tmp_path: Path) -> None:
    process, url = start_server(
        f"sqlite:///{tmp_path / 'store.db'}", tmp_path / "effects.db", tmp_path, workers=0
    )
    try:
        port = url.rsplit(":", 1)[1]
        with httpx.Client(base_url=url, timeout=60) as client:
            assert client.get("/health").status_code == 200
            assert client.get("/health", headers={"Host": f"localhost:{port}"}).status_code == 200
            refused = client.post("/runs", json=SUBMIT, headers={"Host": f"evil.test:{port}"})
            assert refused.status_code == 421
            assert client.get("/runs").json()["runs"] == []
            assert client.get("/docs").status_code == 404
    finally:
        process.terminate()
        process.wait(timeout=60)


@pytest.mark.slow
@pytest.mark.parametrize("source", ["env", "file"])
def test_a_real_server_takes_its_token_from_the_environment_or_a_file(
    tmp_path: Path, source: str
) -> None:
    secret = "s3cret-from-" + source
    token_file = tmp_path / "token"
    token_file.write_text(secret + "\n")
    process, url = start_server(
        f"sqlite:///{tmp_path / 'store.db'}",
        tmp_path / "effects.db",
        tmp_path,
        workers=0,
        extra=("--token-file", str(token_file)) if source == "file" else (),
        env_extra={"CHAOSFLOW_TOKEN": secret} if source == "env" else None,
    )
    try:
        with httpx.Client(base_url=url, timeout=60) as client:
            for method, path in (("POST", "/runs"), ("POST", "/runs/x/cancel"), ("GET", "/runs")):
                assert client.request(method, path, json=SUBMIT).status_code == 401
            auth = {"Authorization": f"Bearer {secret}"}
            assert client.post("/runs", json=SUBMIT, headers=auth).status_code == 202
            # With a token the Host is not what guards it: any name may carry a valid token.
            other = {**auth, "Host": "chaosflow.internal"}
            assert client.get("/runs", headers=other).status_code == 200
    finally:
        process.terminate()
        process.wait(timeout=60)

"""PostgreSQL and Toxiproxy as containers: for machines with a Docker engine (users' CI).

These are the only tests that may skip: on a machine without a Docker engine they say so, and
the same components are tested as local processes in the other integration tests.
"""

from __future__ import annotations

import socket

import pytest
from sqlalchemy import create_engine, text

from faults import ContainerPostgres, ContainerToxiproxy, docker_available

AVAILABLE, REASON = docker_available()
needs_docker = pytest.mark.skipif(not AVAILABLE, reason=f"docker tests skipped: {REASON}")


def test_docker_available_says_why_not(monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed once the block ends: nothing answers there
    monkeypatch.setenv("DOCKER_HOST", f"tcp://127.0.0.1:{port}")
    available, reason = docker_available()
    assert not available
    assert reason.startswith("no Docker engine is reachable")


@pytest.mark.docker
@needs_docker
def test_postgres_in_a_container_restarts_and_keeps_its_data() -> None:
    with ContainerPostgres() as server:
        url = server.create_database()
        engine = create_engine(url)
        with engine.begin() as conn:
            conn.execute(text("CREATE TABLE t (v int)"))
            conn.execute(text("INSERT INTO t VALUES (7)"))
        server.restart()
        engine.dispose()
        with engine.connect() as conn:
            assert conn.execute(text("SELECT v FROM t")).scalar_one() == 7
        engine.dispose()


@pytest.mark.docker
@needs_docker
def test_toxiproxy_in_a_container_adds_latency() -> None:
    with ContainerToxiproxy() as server:
        client = server.client()
        proxy = client.create_proxy("api", "127.0.0.1:8474", listen="0.0.0.0:20000")
        with proxy.toxic("latency", latency=200):
            assert proxy.toxics() == {"latency_downstream": "latency"}
        assert server.host_port(20000) > 0

"""chaosflow's pytest plugin (registered through the ``pytest11`` entry point).

It adds the ``chaos`` marker, the ``--chaos-seed`` and ``--chaos-report`` options, and fixtures
for an orchestrator on a temporary SQLite store and for the effect ledger. Heavy imports happen
inside the fixtures, so loading the plugin costs every pytest run nothing.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from faults import LocalPostgresCluster, ToxiproxyClient, ToxiproxyServer
    from orchestrator import Orchestrator
    from scenarios import EffectLedger


def pytest_addoption(parser: pytest.Parser) -> None:
    """The plugin's command-line options."""
    group = parser.getgroup("chaosflow", "chaos testing of workflows")
    group.addoption(
        "--chaos-seed",
        type=int,
        default=0,
        help="seed for chaos scenarios' schedulers and fault plans (default 0)",
    )
    group.addoption(
        "--chaos-report", default=None, metavar="DIR", help="write chaos scenario reports under DIR"
    )


def pytest_configure(config: pytest.Config) -> None:
    """Register the ``chaos`` marker."""
    config.addinivalue_line(
        "markers", "chaos: a chaos scenario test run through the chaosflow plugin"
    )


@pytest.fixture
def chaos_seed(request: pytest.FixtureRequest) -> int:
    """The seed given with --chaos-seed."""
    return int(request.config.getoption("--chaos-seed"))


@pytest.fixture
def effect_ledger(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> EffectLedger:
    """A fresh effect ledger, which RecordingServices without one of their own write to."""
    from scenarios import LEDGER_ENV, EffectLedger

    ledger = EffectLedger(tmp_path / "effects.db")
    monkeypatch.setenv(LEDGER_ENV, str(ledger.path))
    return ledger


@pytest.fixture
def chaos_orchestrator(tmp_path: Path) -> Iterator[Orchestrator]:
    """An orchestrator on a temporary SQLite file (WAL, full sync), disposed afterwards."""
    from orchestrator import Orchestrator

    orchestrator = Orchestrator(f"sqlite:///{tmp_path / 'store.db'}")
    yield orchestrator
    orchestrator.store.dispose()


# -- real components ---------------------------------------------------------------------------
# Session-wide servers started once, with per-test isolation (a fresh database, a reset proxy
# set). A missing component is an error that says how to get it, never a skip.


@pytest.fixture(scope="session")
def postgres_cluster() -> Iterator[LocalPostgresCluster]:
    """A throwaway PostgreSQL cluster for the session (initdb + pg_ctl, loopback, free port)."""
    from faults import LocalPostgresCluster

    with LocalPostgresCluster() as cluster:
        yield cluster


@pytest.fixture(scope="session")
def postgres_url(request: pytest.FixtureRequest) -> str:
    """A PostgreSQL URL: $CHAOSFLOW_POSTGRES_URL, or the session's throwaway cluster."""
    from faults import postgres_url_from_env

    url = postgres_url_from_env()
    if url:
        return url
    cluster: LocalPostgresCluster = request.getfixturevalue("postgres_cluster")
    return cluster.url


@pytest.fixture
def fresh_postgres_url(request: pytest.FixtureRequest) -> str:
    """A new, empty database of its own for one test, on the session's server."""
    from faults import postgres_url_from_env

    if postgres_url_from_env():
        return _create_database(str(postgres_url_from_env()))
    cluster: LocalPostgresCluster = request.getfixturevalue("postgres_cluster")
    return cluster.create_database()


def _create_database(url: str) -> str:
    import uuid

    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    name = f"t_{uuid.uuid4().hex[:12]}"
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    engine.dispose()
    return make_url(url).set(database=name).render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def toxiproxy_server() -> Iterator[ToxiproxyServer]:
    """The real Toxiproxy server (the pinned build in .tools/bin) on a free loopback port."""
    from faults import ToxiproxyServer

    with ToxiproxyServer() as server:
        yield server


@pytest.fixture
def toxiproxy(toxiproxy_server: ToxiproxyServer) -> Iterator[ToxiproxyClient]:
    """A client of the session's Toxiproxy; every proxy is deleted after the test."""
    client = toxiproxy_server.client()
    yield client
    client.reset()
    for proxy in client.proxies():
        proxy.delete()

"""chaosflow's pytest plugin, registered through the ``pytest11`` entry point.

It adds the ``chaos`` marker; the ``--chaos-seed``, ``--chaos-profile`` and ``--chaos-report``
options; the ``chaos`` fixture that runs scenarios and fails a test with its anomalies and replay
token; fixtures for an orchestrator on a temporary SQLite store, the effect ledger, a throwaway
PostgreSQL and the real Toxiproxy server; and a report of every scenario at session end. Heavy
imports happen inside the fixtures, so loading the plugin costs every pytest run nothing.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

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
    group.addoption(
        "--chaos-profile",
        default=None,
        metavar="NAME",
        help="load this Hypothesis settings profile (e.g. ci, nightly)",
    )


_OUTCOMES = pytest.StashKey[list[Any]]()


def pytest_configure(config: pytest.Config) -> None:
    """Register the ``chaos`` marker; load the Hypothesis profile asked for."""
    config.addinivalue_line(
        "markers", "chaos: a chaos scenario test run through the chaosflow plugin"
    )
    config.stash[_OUTCOMES] = []
    profile = config.getoption("--chaos-profile", default=None)
    if profile:
        from hypothesis import settings

        try:
            settings.load_profile(profile)
        except Exception as error:  # InvalidArgument: an unknown profile
            raise pytest.UsageError(
                f"--chaos-profile={profile!r}: {error}. Register it with "
                "hypothesis.settings.register_profile, or use 'ci' or 'nightly'."
            ) from None


class ChaosRunner:
    """Runs scenarios for a test; a failure fails the test with its anomalies and replay token."""

    def __init__(self, config: pytest.Config, seed: int) -> None:
        self._config = config
        self.seed = seed

    def run(self, scenario: Any) -> Any:
        """Run ``scenario`` (in the simulation) and fail the test unless it is valid."""
        from dataclasses import replace

        from scenarios import run_in_process

        outcome = run_in_process(replace(scenario, seed=self.seed))
        self._config.stash[_OUTCOMES].append(outcome)
        if outcome.verdict != "valid":
            lines = [
                f"chaos scenario {scenario.name!r} is {outcome.verdict}",
                f"faults: {outcome.scenario.plan.describe()}",
            ]
            for anomaly in outcome.judgement.anomalies:
                lines.append(
                    f"  {anomaly.kind} run={anomaly.run_id} steps={list(anomaly.steps)}: "
                    f"{anomaly.detail}"
                )
            lines.append(f"replay token: {outcome.scenario.replay_token()}")
            lines.append("fault plan (YAML):")
            lines.append(outcome.scenario.plan.to_yaml())
            pytest.fail("\n".join(lines), pytrace=False)
        return outcome


@pytest.fixture
def chaos(request: pytest.FixtureRequest) -> ChaosRunner:
    """Run chaos scenarios from a test: ``chaos.run(Scenario(...))``."""
    return ChaosRunner(request.config, int(request.config.getoption("--chaos-seed")))


def pytest_sessionfinish(session: pytest.Session) -> None:
    """Write a report of every chaos scenario the session ran, if --chaos-report was given."""
    folder = session.config.getoption("--chaos-report", default=None)
    outcomes = session.config.stash.get(_OUTCOMES, [])
    if not folder or not outcomes:
        return
    import reports

    from ._results import outcome_to_result

    for index, outcome in enumerate(outcomes):
        target = Path(folder) / f"{index:03d}-{outcome.scenario.name}"
        reports.write_reports(outcome_to_result(outcome), target)


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

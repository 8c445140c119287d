"""chaosflow's pytest plugin, registered through the ``pytest11`` entry point.

It adds the ``chaos`` marker; the ``--chaos-seed``, ``--chaos-profile`` and ``--chaos-report``
options; the ``chaos`` fixture that runs scenarios and fails a test with its anomalies and replay
token; ``chaos_*.yaml`` scenario files collected as test items (one per case, so pytest-xdist
spreads them); fixtures for an orchestrator on a temporary SQLite store or the throwaway
PostgreSQL, the test's fault plan, recording services and their effect ledger, and the real
Toxiproxy server; and a report of every scenario at session end. Heavy
imports happen inside the fixtures, so loading the plugin costs every pytest run nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from faults import FaultPlan, LocalPostgresCluster, ToxiproxyClient, ToxiproxyServer
    from orchestrator import Orchestrator
    from scenarios import EffectLedger, RecordingService


def pytest_addoption(parser: pytest.Parser) -> None:
    """The plugin's command-line options."""
    group = parser.getgroup("chaosflow", "chaos testing of workflows")
    group.addoption(
        "--chaos-seed",
        type=int,
        default=None,
        help="seed for chaos scenarios' schedulers and fault plans (default: 0 for the chaos "
        "fixture, each file's own seed for scenario files)",
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

        from scenarios import register_profiles

        register_profiles()  # default, ci and nightly, unless the project registered its own
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
            pytest.fail(describe_failure(outcome), pytrace=False)
        return outcome

    def search(self, scenario: Any, *, max_examples: int = 50, max_runs: int = 200) -> Any:
        """Search fault plans that break ``scenario``; fail with the smallest one found.

        Single crash points first, then Hypothesis over combinations, shrunk; bounded by
        ``max_runs`` scenario runs, so the same seed searches the same way.
        """
        from dataclasses import replace

        from scenarios import search

        found = search(
            replace(scenario, seed=self.seed), max_examples=max_examples, max_runs=max_runs
        )
        if found.failing is not None:
            self._config.stash[_OUTCOMES].append(found.failing)
            pytest.fail(
                f"search tried {found.tried} fault plans; the smallest that fails:\n"
                + describe_failure(found.failing),
                pytrace=False,
            )
        return found


def describe_failure(outcome: Any) -> str:
    """What a person needs when a scenario fails: anomalies, the faults, the replay token."""
    scenario = outcome.scenario
    lines = [
        f"chaos scenario {scenario.name!r} (seed {scenario.seed}) is {outcome.verdict}",
        f"faults: {scenario.plan.describe()}",
    ]
    for result in outcome.judgement.results:
        if result.verdict != "valid" and not result.anomalies:
            lines.append(f"  {result.checker}: {result.verdict} ({result.note})")
    for anomaly in outcome.judgement.anomalies:
        lines.append(
            f"  {anomaly.kind} run={anomaly.run_id} steps={list(anomaly.steps)} "
            f"events={list(anomaly.event_seqs)}: {anomaly.detail}"
        )
    from scenarios import describe_scenario

    token = scenario.replay_token()
    lines.append(f"replay token: {token}")
    if scenario.replayable():
        lines.append(f"replay: chaosflow replay {token}")
    else:
        lines.append(
            f"replay: rerun this test with --chaos-seed {scenario.seed} (its workflow is not a "
            "module attribute, so the token alone cannot rebuild it)"
        )
    lines.append("the failing scenario, as YAML:")
    lines.append(describe_scenario(scenario, outcome).rstrip())
    lines.append("its fault plan, to paste into a scenario file or a FaultPlan.from_yaml:")
    lines.append(scenario.plan.to_yaml().rstrip())
    return "\n".join(lines)


@pytest.fixture
def chaos(request: pytest.FixtureRequest) -> ChaosRunner:
    """Run chaos scenarios from a test: ``chaos.run(Scenario(...))`` or ``chaos.search(...)``."""
    return ChaosRunner(request.config, int(request.config.getoption("--chaos-seed") or 0))


# -- scenario files as test items ---------------------------------------------------------------
# A file named chaos_*.yaml is collected like a test module: one item per case it asks for (each
# crash point of an exploration is an item), so pytest-xdist spreads a suite over its workers.


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    """Collect ``chaos_*.yaml`` scenario files."""
    if file_path.suffix in (".yaml", ".yml") and file_path.name.startswith("chaos_"):
        return ScenarioFileCollector.from_parent(parent, path=file_path)
    return None


class ScenarioFileCollector(pytest.File):
    """A scenario file: its cases, within the file's example budget."""

    def collect(self) -> Iterator[pytest.Item]:
        from scenarios import check_runnable, load_scenario_file

        spec = load_scenario_file(self.path)  # a bad file is a collection error naming the problem
        check_runnable(spec)  # as is one that cannot run in its mode
        option = self.config.getoption("--chaos-seed")
        seed = spec.seed if option is None else int(option)
        if spec.explore == "search":
            yield ScenarioCaseItem.from_parent(
                self, name=f"{spec.name}[search]", spec=spec, case=None, seed=seed
            )
            return
        for index, case in enumerate(spec.cases(seed=seed)):
            if index >= spec.budget.examples:
                break
            added = case.plan.faults[len(spec.plan.faults) :]
            label = ",".join(f"{f.trigger.point}:{f.trigger.step}" for f in added)
            name = f"{spec.name}[{label}]" if label else spec.name
            yield ScenarioCaseItem.from_parent(self, name=name, spec=spec, case=case, seed=seed)


class ScenarioCaseItem(pytest.Item):
    """One case of a scenario file: run, judged, failed with its anomalies and replay token."""

    def __init__(self, *, spec: Any, case: Any, seed: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.spec = spec
        self.case = case
        self.seed = seed
        self.add_marker("chaos")

    def runtest(self) -> None:
        from scenarios import run_case, search

        if self.case is None:
            found = search(
                self.spec.base_scenario(seed=self.seed), max_examples=self.spec.budget.examples
            )
            if found.failing is not None:
                self.config.stash[_OUTCOMES].append(found.failing)
                raise ScenarioCaseFailed(
                    f"search tried {found.tried} fault plans; the smallest that fails:\n"
                    + describe_failure(found.failing)
                )
            return
        outcome = run_case(self.spec, self.case)  # in the file's mode: sim, or real processes
        self.config.stash[_OUTCOMES].append(outcome)
        if outcome.verdict != "valid":
            raise ScenarioCaseFailed(describe_failure(outcome))

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> str:
        """The scenario's own account of the failure, not a traceback into the runner."""
        if isinstance(excinfo.value, ScenarioCaseFailed):
            return str(excinfo.value)
        return str(super().repr_failure(excinfo))

    def reportinfo(self) -> tuple[Path, int, str]:
        """Where the case comes from, for pytest's report."""
        return self.path, 0, f"scenario {self.name}"


class ScenarioCaseFailed(Exception):
    """A scenario case that is not valid."""


def pytest_sessionfinish(session: pytest.Session) -> None:
    """Write a report of every chaos scenario the session ran, if --chaos-report was given."""
    folder = session.config.getoption("--chaos-report", default=None)
    outcomes = session.config.stash.get(_OUTCOMES, [])
    if not folder or not outcomes:
        return
    import reports

    from ._results import result_and_history

    # Under pytest-xdist every worker writes its own reports: name them apart. The worker id
    # comes from this session's config, not the environment, which a pytest started inside a
    # test under xdist would inherit.
    worker = getattr(session.config, "workerinput", {}).get("workerid")
    prefix = f"{worker}-" if worker else ""
    for index, outcome in enumerate(outcomes):
        target = Path(folder) / f"{prefix}{index:03d}-{outcome.scenario.name}"
        bundle = result_and_history([outcome])
        reports.write_reports(bundle.result, target, history=bundle.history)


@pytest.fixture
def chaos_seed(request: pytest.FixtureRequest) -> int:
    """The seed given with --chaos-seed (0 when none was given)."""
    return int(request.config.getoption("--chaos-seed") or 0)


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


@pytest.fixture
def chaos_orchestrator_postgres(fresh_postgres_url: str) -> Iterator[Orchestrator]:
    """An orchestrator on a new database of the throwaway PostgreSQL, disposed afterwards."""
    from orchestrator import Orchestrator

    orchestrator = Orchestrator(fresh_postgres_url)
    yield orchestrator
    orchestrator.store.dispose()


@pytest.fixture
def fault_plan(request: pytest.FixtureRequest, chaos_seed: int) -> FaultPlan:
    """The test's fault plan: ``@pytest.mark.chaos(plan="faults.yaml")`` (a path relative to
    the test file, or a FaultPlan), else an empty plan; seeded with --chaos-seed."""
    from faults import FaultPlan

    marker = request.node.get_closest_marker("chaos")
    given = marker.kwargs.get("plan") if marker is not None else None
    if given is None:
        return FaultPlan().with_seed(chaos_seed)
    if isinstance(given, FaultPlan):
        return given.with_seed(chaos_seed)
    path = Path(request.node.path).parent / str(given)
    try:
        text = path.read_text()
    except OSError as error:
        raise pytest.UsageError(
            f"@pytest.mark.chaos(plan={given!r}): cannot read {path} ({error.strerror}); give a "
            "path relative to the test file, or a FaultPlan."
        ) from None
    return FaultPlan.from_yaml(text).with_seed(chaos_seed)


@pytest.fixture
def recording_service(effect_ledger: EffectLedger) -> Callable[..., RecordingService]:
    """Make recording services that write to the test's effect ledger:
    ``recording_service("payment", honour_keys=False)``."""
    from scenarios import RecordingService

    def make(name: str, **options: Any) -> RecordingService:
        return RecordingService(name, effect_ledger, **options)

    return make


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

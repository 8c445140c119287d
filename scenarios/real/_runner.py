"""Real mode: the same scenario with worker processes, a store on disk, Toxiproxy and SIGKILL.

What the simulation twins, real mode does for real:

| part | real mode |
|---|---|
| store | a SQLite file in the run's folder, or an empty PostgreSQL database (a URL) |
| workers | ``scenario.workers`` processes (``scenarios.real_worker``), forked by the runner |
| services | the example services over HTTP (``scenarios.http_service``), one ledger for all |
| network | a Toxiproxy server of the run's own, one proxy per service, named after it |
| crash faults | a SIGKILL of the worker process at the hook point; a fresh process replaces it |
| process faults | SIGKILL, SIGSTOP/SIGCONT, restart of the worker process in the slot named |
| step, store faults | installed inside each worker process from the plan |
| clock faults | refused: they need the simulation's virtual clock |

Times (fault triggers, ``heal_after``, ``progress_bound``) are wall-clock seconds from the start.
The runner submits the inputs itself, with the run ids the simulation uses, and judges the
History (the store's event log and the ledger the services wrote) with the same checkers.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy.engine import make_url

from faults import (
    FaultPlan,
    InjectedFault,
    Nemesis,
    ProcessFaultInjector,
    Proxy,
    ToxiproxyClient,
    ToxiproxyError,
    ToxiproxyInjector,
    ToxiproxyServer,
)
from orchestrator import Orchestrator, OrchestratorError, import_workflow, masked_url

from .._errors import ScenarioDefinitionError
from .._outcome import ScenarioOutcome, judge
from .._scenario import Scenario, decode_replay_token, encode_replay_token
from ..effects import LEDGER_ENV, SERVICE_URL_ENV, EffectLedger
from ._fault_journal import journal_records
from ._processes import ServiceProcess, WorkerPool, start_services

REAL_DB_ENV = "CHAOSFLOW_REAL_DB_URL"
# The services of the example order saga: the default when a scenario names none.
DEFAULT_SERVICES = ("stock", "payment", "shipping")
# The kinds the runner carries out from the parent process, on a timer.
RUNNER_KINDS = ("network", "partition", "process")
# The proxy between the worker processes and a networked store (PostgreSQL); the runner itself
# reads the store directly, so a fault on the store's network never blinds the checkers.
STORE_PROXY = "store"


def _is_networked(db_url: str | None) -> bool:
    return db_url is not None and not make_url(db_url).get_backend_name().startswith("sqlite")


_POLL = 0.1


@dataclass(frozen=True)
class RealSettings:
    """What real mode needs beyond the scenario: the services to start and the store."""

    # (name, honour_keys) per example service; each gets a Toxiproxy proxy of the same name.
    services: tuple[tuple[str, bool], ...] = tuple((name, True) for name in DEFAULT_SERVICES)
    # A PostgreSQL (or SQLite) URL of an empty store; None: a SQLite file in the run's folder.
    db_url: str | None = None


def real_settings(services: Any = None, store: Any = None, *, where: str = "") -> RealSettings:
    """Validate a scenario file's ``services`` and ``store`` keys into :class:`RealSettings`.

    ``services`` is a list of names, or a mapping of name to ``{ignore_keys: bool}``;
    ``store`` is ``{url: ...}``. Without ``store``, ``$CHAOSFLOW_REAL_DB_URL`` is used, else a
    SQLite file.
    """
    prefix = f"Scenario file {where!r}: " if where else ""
    chosen: list[tuple[str, bool]] = []
    if services is None:
        chosen = [(name, True) for name in DEFAULT_SERVICES]
    elif isinstance(services, list):
        chosen = [(str(name), True) for name in services]
    elif isinstance(services, Mapping):
        for name, options in services.items():
            options = options or {}
            if not isinstance(options, Mapping) or set(options) - {"ignore_keys"}:
                raise ScenarioDefinitionError(
                    f"{prefix}services.{name}={options!r} may only set ignore_keys: true|false."
                )
            chosen.append((str(name), not bool(options.get("ignore_keys", False))))
    else:
        raise ScenarioDefinitionError(
            f"{prefix}services={services!r} must be a list of service names, or a mapping of "
            "name to {ignore_keys: true|false}."
        )
    for name, _ in chosen:
        if not name.isidentifier():
            raise ScenarioDefinitionError(
                f"{prefix}service name={name!r} must be an identifier, e.g. 'payment'."
            )
    if store is not None and (not isinstance(store, Mapping) or set(store) != {"url"}):
        raise ScenarioDefinitionError(
            f"{prefix}store={store!r} must be a mapping with one key, url: "
            "postgresql+psycopg://user@host:5432/db."
        )
    url = str(store["url"]) if store is not None else os.environ.get(REAL_DB_ENV) or None
    return RealSettings(tuple(chosen), url)


def validate_real(scenario: Scenario, settings: RealSettings, workflow_spec: str | None) -> str:
    """Refuse what real mode cannot run, before anything starts; returns the workflow spec."""
    name = scenario.name
    if scenario.generated is not None:
        raise ScenarioDefinitionError(
            f"Scenario {name!r} was generated by a strategy; its workflow exists only in this "
            "process, so worker processes cannot import it. Run it with mode sim."
        )
    if not workflow_spec:
        raise ScenarioDefinitionError(
            f"Scenario {name!r} names no workflow spec: real mode starts worker processes that "
            "import the workflow by module:attribute. Pass workflow_spec='module:attribute' "
            "(a scenario file's workflow: key does this)."
        )
    try:
        imported = import_workflow(workflow_spec)
    except OrchestratorError as error:
        raise ScenarioDefinitionError(f"Scenario {name!r}: {error}") from None
    if imported.name != scenario.workflow.name:
        raise ScenarioDefinitionError(
            f"Scenario {name!r}: workflow_spec={workflow_spec!r} names workflow "
            f"{imported.name!r}, but the scenario runs {scenario.workflow.name!r}."
        )
    services = [service for service, _ in settings.services]
    slots = [f"worker-{slot}" for slot in range(scenario.workers)]
    for index, fault in enumerate(scenario.plan.faults):
        where = f"Scenario {name!r} faults[{index}] ({fault.describe()})"
        if fault.kind == "clock":
            raise ScenarioDefinitionError(
                f"{where}: clock faults need the simulation's virtual clock and are not "
                "available in real mode. Run it with mode sim, or remove the clock fault."
            )
        if fault.kind in RUNNER_KINDS and fault.trigger.at is None:
            raise ScenarioDefinitionError(
                f"{where}: in real mode {fault.kind} faults strike on a timer from the runner; "
                "give the fault trigger: {at: <seconds>} instead of a hook point."
            )
        proxies = [*services, *([STORE_PROXY] if _is_networked(settings.db_url) else [])]
        if fault.kind in ("network", "partition") and fault.target not in proxies:
            raise ScenarioDefinitionError(
                f"{where}: target={fault.target!r} is not a proxy of this run; real mode puts "
                f"one proxy in front of each service and, on PostgreSQL, one named "
                f"{STORE_PROXY!r} in front of the store: {', '.join(proxies)}."
            )
        if fault.kind == "process" and fault.target not in slots:
            raise ScenarioDefinitionError(
                f"{where}: target={fault.target!r} names no worker; workers: {', '.join(slots)}."
            )
    return workflow_spec


def real_replay_token(scenario: Scenario) -> str:
    """The scenario's replay token, marked so that a replay reruns it in real mode."""
    fields = decode_replay_token(scenario.replay_token())
    fields["mode"] = "real"
    return encode_replay_token(fields)


def run_real(
    scenario: Scenario,
    workdir: str | os.PathLike[str] | None = None,
    *,
    workflow_spec: str | None = None,
    settings: RealSettings | None = None,
    toxiproxy: ToxiproxyClient | None = None,
) -> ScenarioOutcome:
    """Run ``scenario`` with real processes in ``workdir`` (a temp dir by default); judge it.

    ``toxiproxy`` is a client of a running server to create the proxies on; by default the run
    starts a server of its own. Every child process and proxy is gone when this returns.
    """
    settings = settings or RealSettings()
    spec = validate_real(scenario, settings, workflow_spec)
    if workdir is None:
        with tempfile.TemporaryDirectory(prefix="chaosflow-real-") as tmp:
            return run_real(
                scenario, tmp, workflow_spec=spec, settings=settings, toxiproxy=toxiproxy
            )
    folder = Path(workdir)
    (folder / "logs").mkdir(parents=True, exist_ok=True)
    db_url = settings.db_url or f"sqlite:///{folder / 'store.db'}"
    orchestrator = Orchestrator(db_url)
    try:
        existing = len(orchestrator.store.runs())
        if existing:
            raise ScenarioDefinitionError(
                f"Scenario {scenario.name!r}: the store at {masked_url(db_url)!r} already holds "
                f"{existing} run(s); real mode needs an empty store. Give it a fresh database."
            )
        orchestrator.register(scenario.workflow)
        with _Rig(scenario, settings, folder, toxiproxy) as rig:
            return _run(scenario, spec, orchestrator, db_url, folder, rig)
    finally:
        orchestrator.store.dispose()


class _Rig:
    """The services and their proxies: started on entry, all gone on exit."""

    def __init__(
        self,
        scenario: Scenario,
        settings: RealSettings,
        folder: Path,
        toxiproxy: ToxiproxyClient | None,
    ) -> None:
        self.scenario, self.settings, self.folder = scenario, settings, folder
        self.ledger = EffectLedger(folder / "effects.db")
        self.server = None if toxiproxy is not None else ToxiproxyServer(seed=scenario.seed)
        self.client = toxiproxy
        self.services: list[ServiceProcess] = []
        self.proxies: list[Proxy] = []
        self.urls: dict[str, str] = {}
        # The URL the workers use: through the store's proxy when the store is networked.
        self.worker_db_url: str | None = None

    def __enter__(self) -> _Rig:
        try:
            if self.server is not None:
                self.client = self.server.start().client()
            assert self.client is not None
            self.services = start_services(
                self.settings.services, self.ledger.path, self.folder / "logs"
            )
            for service in self.services:
                proxy = self.client.create_proxy(service.name, service.address)
                self.proxies.append(proxy)
                self.urls[service.name] = f"http://127.0.0.1:{proxy.listen_port}"
            if _is_networked(self.settings.db_url):
                url = make_url(str(self.settings.db_url))
                upstream = f"{url.host or '127.0.0.1'}:{url.port or 5432}"
                proxy = self.client.create_proxy(STORE_PROXY, upstream)
                self.proxies.append(proxy)
                self.worker_db_url = url.set(
                    host="127.0.0.1", port=proxy.listen_port
                ).render_as_string(hide_password=False)
        except BaseException:
            self.__exit__()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            for proxy in self.proxies:
                try:
                    proxy.delete()
                except ToxiproxyError:
                    if self.server is None:  # on a server of its own, stopping it deletes them
                        raise
        finally:
            for service in self.services:
                service.process.stop()
            if self.server is not None:
                self.server.stop()


def _run(
    scenario: Scenario,
    spec: str,
    orchestrator: Orchestrator,
    db_url: str,
    folder: Path,
    rig: _Rig,
) -> ScenarioOutcome:
    # Imported here, not with the package: ``python -m scenarios.real_worker`` runs it as main.
    from .. import real_worker

    started_wall = time.perf_counter()
    started_at = datetime.now(UTC).isoformat(timespec="seconds")
    plan_file = folder / "plan.json"
    plan_file.write_text(json.dumps(scenario.plan.to_dict()))
    # How long a worker may live at most: the heal, the progress bound and a margin.
    lifetime = 60.0 + scenario.heal_after + scenario.progress_bound
    env = {
        LEDGER_ENV: str(rig.ledger.path),
        **{SERVICE_URL_ENV.format(name=n.upper()): url for n, url in rig.urls.items()},
    }

    def argv(slot: str, generation: int) -> list[str]:
        return [
            *("--db", rig.worker_db_url or db_url, "--workflow", spec, "--slot", slot),
            *("--generation", str(generation), "--plan", str(plan_file)),
            *("--folder", str(folder), "--origin", repr(origin)),
            *("--heal-after", repr(scenario.heal_after)),
            *("--lease-seconds", repr(scenario.lease_seconds)),
            # A worker the runner could not stop ends by itself.
            *("--max-seconds", repr(lifetime)),
            *("--seed", str(scenario.seed)),
        ]

    slots = [f"worker-{slot}" for slot in range(scenario.workers)]
    # No pooled store connection of the runner's may be shared with a forked worker.
    pool = WorkerPool(
        slots, real_worker.main, argv, env, folder / "logs", orchestrator.store.engine.dispose
    )
    assert rig.client is not None
    network = ToxiproxyInjector(rig.client)
    origin = time.time()
    nemesis = Nemesis(
        FaultPlan(
            tuple(f for f in scenario.plan.faults if f.kind in RUNNER_KINDS), scenario.plan.seed
        ),
        {
            "network": network,
            "partition": network,
            "process": ProcessFaultInjector(pool.pid_of, pool.restart),
        },
        origin=origin,
    )
    acknowledged = [
        orchestrator.submit(
            scenario.workflow, payload, run_id=f"{scenario.name}-{scenario.seed}-{index:04d}"
        )
        for index, payload in enumerate(scenario.inputs)
    ]
    try:
        pool.start()
        deadline = _drive(scenario, orchestrator, pool, nemesis, origin)
    finally:
        try:
            nemesis.heal_all(time.time())
        finally:
            pool.stop(folder / "stop")
    timeline = sorted(
        [*nemesis.timeline, *journal_records(folder / "faults.jsonl")], key=_fault_time
    )
    meta = {
        "mode": "real",
        "store": masked_url(db_url),
        "services": {
            s.name: {"url": rig.urls[s.name], "pid": s.process.pid, "honour_keys": s.honour_keys}
            for s in rig.services
        },
        "worker_exits": [vars(e) for e in pool.exits],
        "respawns": pool.respawns,
    }
    return judge(
        scenario,
        "real",
        orchestrator,
        rig.ledger,
        acknowledged,
        progress_deadline=deadline,
        token=real_replay_token(scenario),
        started=(started_at, started_wall),
        faults=timeline,
        origin=origin,
        meta=meta,
    )


def _drive(
    scenario: Scenario,
    orchestrator: Orchestrator,
    pool: WorkerPool,
    nemesis: Nemesis,
    origin: float,
) -> float:
    """Strike and heal the runner's faults, replace dead workers, until every run has ended
    (and every timed fault has struck) or the progress bound passes; returns that bound."""
    heal_at = origin + scenario.heal_after
    deadline = heal_at + scenario.progress_bound
    last_strike = max(
        (f.trigger.at for f in scenario.plan.faults if f.trigger.at is not None), default=0.0
    )
    healed = False
    while True:
        now = time.time()
        if not healed and now >= heal_at:
            nemesis.heal_all(now)
            healed = True
        nemesis.tick(now)
        pool.reap()
        if now >= deadline:
            return deadline
        if now >= origin + last_strike and orchestrator.unfinished_runs() == 0:
            return deadline
        time.sleep(_POLL)


def _fault_time(record: InjectedFault) -> float:
    return record.at

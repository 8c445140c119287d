"""Real mode: the same scenario with worker processes, a store on disk, Toxiproxy and SIGKILL.

What the simulation twins, real mode does for real:

| part | real mode |
|---|---|
| store | a SQLite file in the run's folder, or an empty PostgreSQL database (a URL) |
| workers | ``scenario.workers`` processes (``scenarios.real_worker``), forked by the runner |
| services | your own (a command line) or the bundled examples, each a process group |
| network | a Toxiproxy server of the run's own, one proxy per service, named after it |
| crash faults | a SIGKILL of the worker process at the hook point; a fresh process replaces it |
| process faults | SIGKILL, SIGSTOP/SIGCONT, restart of a worker slot or of a service |
| step, store faults | installed inside each worker process from the plan |
| clock faults | refused: they need the simulation's virtual clock |

Network, partition and process faults strike on a timer from the runner, or at a hook point:
the worker that reaches it asks the runner and waits until the fault is in force (``_aimed``).
Times (fault triggers, ``heal_after``, ``progress_bound``) are wall-clock seconds from the start.
The runner submits the inputs itself, with the run ids the simulation uses; once every run has
ended it lets the services settle (no new effect for ``settle.quiet`` seconds), reads the effect
probes, and judges the History (the store's event log, the ledger, the probes) with the same
checkers. Anything that breaks in the harness itself raises :class:`HarnessError`, never a verdict.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from collections.abc import Callable
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
from orchestrator import Orchestrator, masked_url

from .._errors import HarnessError, ScenarioDefinitionError
from .._outcome import ScenarioOutcome, judge
from .._scenario import Scenario
from ..effects import LEDGER_ENV, SERVICE_URL_ENV, EffectLedger
from ._aimed import RUNNER_KINDS, AimedMailbox
from ._fault_journal import journal_records
from ._probes import ObservedEffects, read_probe
from ._processes import WorkerPool
from ._services import ServiceProcess, start_services
from ._settings import STORE_PROXY, RealSettings, is_networked, real_replay_token, validate_real

# How often the runner looks at the store, the aimed-fault requests and the clock.
_POLL = 0.02


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
    Raises :class:`HarnessError` when the harness itself fails (no verdict).
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
        if settings.logs_dir is not None:
            _keep_logs(folder / "logs", Path(settings.logs_dir), scenario)


def _keep_logs(logs: Path, into: Path, scenario: Scenario) -> None:
    base = into / f"{scenario.name}-{scenario.seed}"
    target, number = base, 1
    while target.exists():  # one folder per case of an explored file
        number += 1
        target = base.with_name(f"{base.name}-{number}")
    shutil.copytree(logs, target)


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

    def service(self, name: str) -> ServiceProcess | None:
        """The running service ``name``, if the run has one."""
        return next((s for s in self.services if s.name == name), None)

    def __enter__(self) -> _Rig:
        try:
            if self.server is not None:
                self.client = self.server.start().client()
            assert self.client is not None
            self.services = start_services(
                self.settings.services,
                self.ledger.path,
                self.folder / "logs",
                folder=self.folder / "services",
            )
            for service in self.services:
                proxy = self.client.create_proxy(service.name, service.address)
                self.proxies.append(proxy)
                self.urls[service.name] = f"http://127.0.0.1:{proxy.listen_port}"
            if is_networked(self.settings.db_url):
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
                service.stop()
            if self.server is not None:
                self.server.stop()


@dataclass
class _Targets:
    """Process-fault targets by name: worker slots and services."""

    pool: WorkerPool
    rig: _Rig

    def pid_of(self, name: str) -> int:
        service = self.rig.service(name)
        return service.pid if service is not None else self.pool.pid_of(name)

    def send(self, name: str, signum: int) -> None:
        service = self.rig.service(name)
        if service is not None:
            service.signal(signum)  # the service's whole process group
        else:
            os.kill(self.pool.pid_of(name), signum)

    def restart(self, name: str) -> None:
        service = self.rig.service(name)
        if service is not None:
            service.restart()
        else:
            self.pool.restart(name)


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
    (folder / "runs.json").write_text(json.dumps(scenario.run_ids()))
    mailbox = AimedMailbox(folder)
    # How long a worker may live at most: the heal, the progress bound, the settle and a margin.
    lifetime = 60.0 + scenario.heal_after + scenario.progress_bound + rig.settings.settle.max
    env = {
        LEDGER_ENV: str(rig.ledger.path),
        **{SERVICE_URL_ENV.format(name=n.upper()): url for n, url in rig.urls.items()},
    }

    starts = [service.spec.start_timeout for service in rig.services]

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
            # A worker waits for an aimed fault at most this long: long enough for the slowest
            # service to restart.
            *("--aimed-wait", repr(30.0 + max(starts, default=0.0))),
        ]

    slots = [f"worker-{slot}" for slot in range(scenario.workers)]
    # No pooled store connection of the runner's may be shared with a forked worker.
    pool = WorkerPool(
        slots, real_worker.main, argv, env, folder / "logs", orchestrator.store.engine.dispose
    )
    assert rig.client is not None
    network = ToxiproxyInjector(rig.client)
    targets = _Targets(pool, rig)
    origin = time.time()
    # The runner's faults, and where each sits in the whole plan (aimed requests name that).
    mine = [(i, f) for i, f in enumerate(scenario.plan.faults) if f.kind in RUNNER_KINDS]
    nemesis = Nemesis(
        FaultPlan(tuple(f for _, f in mine), scenario.plan.seed),
        {
            "network": network,
            "partition": network,
            "process": ProcessFaultInjector(targets.pid_of, targets.restart, targets.send),
        },
        origin=origin,
        runs=scenario.run_ids(),
    )
    local = {whole: index for index, (whole, _) in enumerate(mine)}
    acknowledged = []
    for index, (payload, run_id) in enumerate(
        zip(scenario.inputs, scenario.run_ids(), strict=True)
    ):
        if index and scenario.submit_interval:
            time.sleep(scenario.submit_interval)  # a stream of submissions, as the file asks
        acknowledged.append(orchestrator.submit(scenario.workflow, payload, run_id=run_id))
    settle: dict[str, Any] = {}
    probed: list[dict[str, Any]] = []
    try:
        pool.start()
        deadline = _drive(scenario, orchestrator, pool, nemesis, origin, mailbox, local)
        # Healed before the settle: a worker woken from a SIGSTOP, a service let through its
        # proxy again, may still apply something, and the settle is there to see it.
        nemesis.heal_all(time.time())

        def keep_going() -> None:
            _answer_aimed(nemesis, mailbox, local, time.time())
            nemesis.tick(time.time())
            pool.reap()

        settle = _settle(rig, keep_going)
    finally:
        try:
            nemesis.heal_all(time.time())
        finally:
            pool.stop(folder / "stop")
    read_at = time.time()
    for service in rig.services:
        probed.extend(read_probe(service, read_at))
    timeline = sorted(
        [*nemesis.timeline, *journal_records(folder / "faults.jsonl")], key=_fault_time
    )
    meta = {
        "mode": "real",
        "store": masked_url(db_url),
        "services": {
            s.name: {
                "url": rig.urls[s.name],
                "pid": s.pid,
                "pids": list(s.pids),
                "starts": s.generation,
                "command": s.argv(),
                "log": s.log.name,  # in the run's logs folder (and the kept copy)
                "honour_keys": s.honour_keys,
                "probe": s.spec.probe is not None,
            }
            for s in rig.services
        },
        "worker_exits": [vars(e) for e in pool.exits],
        "respawns": pool.respawns,
        "settle": settle,
    }
    return judge(
        scenario,
        "real",
        orchestrator,
        ObservedEffects(rig.ledger, probed),
        acknowledged,
        progress_deadline=deadline,
        token=real_replay_token(scenario),
        started=(started_at, started_wall),
        faults=timeline,
        origin=origin,
        meta=meta,
    )


def _answer_aimed(
    nemesis: Nemesis, mailbox: AimedMailbox, local: dict[int, int], now: float
) -> None:
    for request in mailbox.requests():
        index = int(request["index"])
        if index not in local:
            raise HarnessError(f"A worker asked for fault {index}, which is not the runner's.")
        nemesis.strike_aimed(local[index], now, str(request["where"]), target=request["slot"])
        mailbox.done(index)


def _drive(
    scenario: Scenario,
    orchestrator: Orchestrator,
    pool: WorkerPool,
    nemesis: Nemesis,
    origin: float,
    mailbox: AimedMailbox,
    local: dict[int, int],
) -> float:
    """Strike and heal the runner's faults, answer the workers' aimed faults, replace dead
    workers, until every run has ended (and every timed fault has struck) or the progress
    bound passes; returns that bound. The store is read without its write lock
    (``Store.reading``), so a worker frozen while it holds the lock never stalls the runner."""
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
        _answer_aimed(nemesis, mailbox, local, now)
        nemesis.tick(now)
        pool.reap()
        if now >= deadline:
            return deadline
        if now >= origin + last_strike and orchestrator.unfinished_runs() == 0:
            return deadline
        time.sleep(_POLL)


def _settle(rig: _Rig, keep_going: Callable[[], None]) -> dict[str, Any]:
    """Keep everything up until no new effect appears for ``settle.quiet`` seconds (at most
    ``settle.max``); what was waited, for the result."""
    quiet, bound = rig.settings.settle.quiet, rig.settings.settle.max
    start = time.monotonic()

    def observed() -> int:
        now = time.time()
        count = len(rig.ledger.effects())
        return count + sum(len(read_probe(s, now)) for s in rig.services if s.spec.probe)

    count, since = observed(), time.monotonic()
    while time.monotonic() - since < quiet and time.monotonic() - start < bound:
        keep_going()
        time.sleep(min(0.1, max(0.01, quiet / 5)))
        latest = observed()
        if latest != count:
            count, since = latest, time.monotonic()
    waited = time.monotonic() - start
    return {
        "quiet_s": quiet,
        "max_s": bound,
        "waited_s": round(waited, 3),
        "quiet_reached": time.monotonic() - since >= quiet,
        "effects_seen": count,
    }


def _fault_time(record: InjectedFault) -> float:
    return record.at

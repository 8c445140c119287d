"""What a load run starts, and stops: the store, the services, Toxiproxy, the API, the workers.

The pieces are real mode's own (``scenarios``' worker pool, child processes and example
services, ``faults``' Toxiproxy server and injectors); this module only wires them for a load:

| part | how |
|---|---|
| store | a SQLite file in the work folder, or the empty database at ``store.url`` |
| Toxiproxy | a server of the run's own, when a fault window is network or partition |
| proxies | one per listed service; on PostgreSQL one named ``store`` for the API and workers |
| services | the example services over HTTP (``services: [...]``), one ledger for all |
| API | ``orchestrator.serve_http`` in a process of its own, no worker threads |
| workers | ``workers`` processes in slots ``worker-0``...; a SIGKILLed one is replaced |

The load's own reads of the store (drain, checkers) go direct, never through the proxy. Without
``services``, the workflow's recording doubles write the effect ledger from the workers.

Everything is stopped on exit, in reverse order, even when starting failed half-way.
"""

from __future__ import annotations

import contextlib
import time
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy.engine import make_url

from faults import (
    Injector,
    ProcessFaultInjector,
    Proxy,
    ToxiproxyClient,
    ToxiproxyError,
    ToxiproxyInjector,
    ToxiproxyServer,
    free_port,
)
from loadtests import STORE_PROXY, LoadProfile
from orchestrator import Orchestrator, Workflow, masked_url
from scenarios import (
    LEDGER_ENV,
    SERVICE_URL_ENV,
    ChildProcess,
    EffectLedger,
    ServiceProcess,
    WorkerPool,
    start_services,
)

from ._load_processes import api_main, worker_main

API_START_SECONDS = 60.0


class LoadSetupError(Exception):
    """The load run's components could not start (the message says which and why)."""


class UsedStoreError(LoadSetupError):
    """The profile's store already holds runs: bad input, since every run in it is judged."""


class LoadRig:
    """The components of one load run; a context manager that stops them all on exit."""

    def __init__(self, profile: LoadProfile, workflow: Workflow, folder: Path) -> None:
        self.profile, self.workflow, self.folder = profile, workflow, folder
        self.logs = folder / "logs"
        self.db_url = profile.store_url or f"sqlite:///{folder / 'store.db'}"
        self.orchestrator: Orchestrator | None = None
        self.ledger = EffectLedger(folder / "effects.db")
        self.server: ToxiproxyServer | None = None
        self.client: ToxiproxyClient | None = None
        self.proxies: list[Proxy] = []
        self.services: list[ServiceProcess] = []
        self.service_urls: dict[str, str] = {}
        self.worker_db_url = self.db_url
        self.api: ChildProcess | None = None
        self.api_url = ""
        self.pool: WorkerPool | None = None
        self.lifetime = 120.0 + profile.duration_s + profile.drain_s + profile.progress_bound_s

    @property
    def needs_toxiproxy(self) -> bool:
        """Whether a fault window works on a proxy."""
        return any(f.get("kind") in ("network", "partition") for f in self.profile.faults)

    def __enter__(self) -> LoadRig:
        self.logs.mkdir(parents=True, exist_ok=True)
        try:
            self._open_store()
            if self.needs_toxiproxy:
                self.server = ToxiproxyServer(seed=self.profile.seed).start()
                self.client = self.server.client()
            self._start_services()
            if self.client is not None and self.profile.networked_store:
                url = make_url(self.db_url)
                upstream = f"{url.host or '127.0.0.1'}:{url.port or 5432}"
                proxy = self.client.create_proxy(STORE_PROXY, upstream)
                self.proxies.append(proxy)
                self.worker_db_url = url.set(
                    host="127.0.0.1", port=proxy.listen_port
                ).render_as_string(hide_password=False)
            self._start_api()
            self._start_workers()
        except BaseException:
            self.__exit__()
            raise
        return self

    def _open_store(self) -> None:
        try:
            self.orchestrator = Orchestrator(self.db_url)
            existing = len(self.orchestrator.store.runs())
        except Exception as error:  # a store that cannot be reached, whatever the driver says
            raise LoadSetupError(
                f"The store at {masked_url(self.db_url)!r} cannot be opened: {error}"
            ) from None
        if existing:
            raise UsedStoreError(
                f"store.url={masked_url(self.db_url)!r} already holds {existing} run(s); a load "
                "run needs an empty database (the checkers judge every run in it). Create a "
                "fresh one."
            )
        self.orchestrator.register(self.workflow)
        self.orchestrator.store.engine.dispose()  # nothing pooled may be shared with a fork

    def _start_services(self) -> None:
        if not self.profile.services:
            return
        specs = [(name, True) for name in self.profile.services]
        self.services = start_services(specs, self.ledger.path, self.logs)
        for service in self.services:
            url = f"http://{service.address}"
            if self.client is not None:
                proxy = self.client.create_proxy(service.name, service.address)
                self.proxies.append(proxy)
                url = f"http://127.0.0.1:{proxy.listen_port}"
            self.service_urls[service.name] = url

    def _start_api(self) -> None:
        api = self.profile.api
        port = api.port or free_port(api.host)
        argv = [
            *("--db", self.worker_db_url, "--workflow", self.profile.workflow),
            *("--host", api.host, "--port", str(port), "--max-seconds", repr(self.lifetime)),
            *(("--token", api.token) if api.token else ()),
        ]
        self.api = ChildProcess(api_main, argv, {}, self.logs / "api.log")
        shown = f"[{api.host}]" if ":" in api.host else api.host
        local = f"http://{'127.0.0.1' if api.host in ('0.0.0.0', '::') else shown}:{port}"
        self.api_url = api.url or local
        deadline = time.monotonic() + API_START_SECONDS
        while time.monotonic() < deadline:
            if self.api.poll() is not None:
                raise LoadSetupError(
                    f"The HTTP API exited at start with code {self.api.returncode}: "
                    f"{_tail(self.api.log)}"
                )
            try:
                if httpx.get(f"{local}/health", timeout=2.0).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise LoadSetupError(
            f"The HTTP API did not answer on {local}/health within {API_START_SECONDS:g} s: "
            f"{_tail(self.api.log)}"
        )

    def _start_workers(self) -> None:
        assert self.orchestrator is not None
        env = {
            LEDGER_ENV: str(self.ledger.path),
            **{SERVICE_URL_ENV.format(name=n.upper()): u for n, u in self.service_urls.items()},
        }
        stop_file = self.folder / "stop"

        def argv(slot: str, generation: int) -> list[str]:
            return [
                *("--db", self.worker_db_url, "--workflow", self.profile.workflow),
                *("--worker-id", f"{slot}.{generation}", "--stop-file", str(stop_file)),
                *("--lease-seconds", repr(self.profile.lease_s)),
                *("--max-seconds", repr(self.lifetime)),
            ]

        slots = [f"worker-{n}" for n in range(self.profile.workers)]
        engine = self.orchestrator.store.engine
        self.pool = WorkerPool(slots, worker_main, argv, env, self.logs, engine.dispose)
        self.pool.start()

    def injectors(self) -> dict[str, Injector]:
        """The injectors of the fault windows: Toxiproxy for network and partition, signals
        for worker processes."""
        assert self.pool is not None
        found: dict[str, Injector] = {
            "process": ProcessFaultInjector(self.pool.pid_of, self.pool.restart)
        }
        if self.client is not None:
            network = ToxiproxyInjector(self.client)
            found.update(network=network, partition=network)
        return found

    def check_alive(self) -> None:
        """Replace dead workers; a dead API is a broken harness."""
        assert self.pool is not None and self.api is not None
        self.pool.reap()
        if self.api.poll() is not None:
            raise LoadSetupError(
                f"The HTTP API exited during the load with code {self.api.returncode}: "
                f"{_tail(self.api.log)}"
            )

    def stop_workers(self) -> None:
        """Stop every worker process (before the checkers read the store)."""
        if self.pool is not None and not self.pool.stopping:
            self.pool.stop(self.folder / "stop")

    def processes(self) -> dict[str, Any]:
        """The pid of every process this rig started, by role (workers of every generation)."""
        workers = []
        if self.pool is not None:
            workers = [e.pid for e in self.pool.exits]
            workers += [p.pid for p in self.pool.processes.values()]
        return {
            "api": self.api.pid if self.api is not None else None,
            "workers": workers,
            "services": {s.name: s.pid for s in self.services},
        }

    def pids(self) -> list[int]:
        """Every process this rig started."""
        found = self.processes()
        return [
            *([found["api"]] if found["api"] else []),
            *found["workers"],
            *found["services"].values(),
        ]

    def meta(self) -> dict[str, Any]:
        """What the result records of the rig."""
        pool = self.pool
        return {
            "store": masked_url(self.db_url),
            "api": self.api_url,
            "services": dict(self.service_urls),
            "toxiproxy": self.server.url if self.server is not None else None,
            "worker_exits": [vars(e) for e in pool.exits] if pool else [],
            "respawns": pool.respawns if pool else 0,
        }

    def __exit__(self, *exc: object) -> None:
        try:
            self.stop_workers()
        finally:
            try:
                if self.api is not None:
                    self.api.stop()
                for service in self.services:
                    service.stop()
                for proxy in self.proxies:
                    # Stopping the server below deletes it anyway.
                    with contextlib.suppress(ToxiproxyError):
                        proxy.delete()
            finally:
                if self.server is not None:
                    self.server.stop()
                if self.orchestrator is not None:
                    self.orchestrator.store.dispose()


def _tail(path: Path, size: int = 2000) -> str:
    try:
        return path.read_text(errors="replace")[-size:].strip() or "(empty log)"
    except OSError:
        return "(no log)"

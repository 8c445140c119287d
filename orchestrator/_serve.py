"""``serve_http``: the HTTP API in the foreground under uvicorn, with worker threads beside it.

It logs one JSON line per request (logger ``chaosflow.http``) and per step failure (logger
``chaosflow.failures``) to stderr, unless those loggers were given handlers of their own.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import sys
import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager

import uvicorn
from fastapi import FastAPI

from ._http import HTTP_LOGGER, build_app
from ._orchestrator import Orchestrator
from ._pool import MAX_CONCURRENCY, WorkerPool
from ._worker import FAILURE_LOGGER

_FOREVER = 10.0**9  # seconds: "until stopped" for a worker loop that needs a bound


@contextmanager
def json_lines_to_stderr(*names: str) -> Iterator[None]:
    """Write the named loggers' records (already JSON text) to stderr, one per line, meanwhile.

    A logger that has handlers already is left as its owner configured it.
    """
    added: list[tuple[logging.Logger, logging.Handler, int, bool]] = []
    for name in names:
        logger = logging.getLogger(name)
        if logger.handlers:
            continue
        handler: logging.Handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(message)s"))
        added.append((logger, handler, logger.level, logger.propagate))
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
        logger.propagate = False
    try:
        yield
    finally:
        for logger, handler, level, propagate in added:
            logger.removeHandler(handler)
            logger.setLevel(level)
            logger.propagate = propagate


def _host_names(host: str) -> frozenset[str]:
    """The names a request may give as Host for a server bound to ``host``."""
    bound = host.strip("[]").lower()
    if bound in ("0.0.0.0", "::"):  # every address: only with a token (checked above)
        return frozenset({bound})
    return (
        frozenset({bound, "localhost", "127.0.0.1", "::1"})
        if _is_loopback(host)
        else frozenset({bound})
    )


def _is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def serve_http(
    orchestrator: Orchestrator,
    *,
    host: str = "127.0.0.1",
    port: int = 8080,
    token: str | None = None,
    workers: int = 1,
    lease_seconds: float = 30.0,
    max_seconds: float | None = None,
    log_json: bool = True,
    docs: bool = False,
) -> None:
    """Serve the HTTP API in the foreground, with ``workers`` worker threads beside it (a
    :class:`WorkerPool`: for several, open the orchestrator with ``group_commit=True`` so that
    their runs share commits).

    With ``log_json`` each request and each step failure is logged to stderr as a JSON line.
    Without a token the server answers only requests whose Host header names the address it
    is bound to (``localhost``, ``127.0.0.1`` and ``::1`` on loopback), which refuses pages that
    reach it by DNS rebinding. ``docs`` serves Swagger UI at ``/docs`` (it loads from a CDN).

    Prints ``chaosflow http listening on http://HOST:PORT`` once the socket is bound (``port=0``
    picks a free port and prints it). Stops by itself after ``max_seconds`` and returns; on
    SIGINT/SIGTERM it stops the workers, then uvicorn re-raises the signal so the process ends
    with it. A worker thread that fails stops the server, and its error is raised here.
    """
    if not _is_loopback(host) and token is None:
        raise ValueError(
            f"host={host!r} is not a loopback address, so a token is required when not on "
            "loopback: anyone on the network could submit runs. Pass a token, or bind to "
            "127.0.0.1."
        )
    if not 0 <= port <= 65535:
        raise ValueError(f"port={port!r} is not a TCP port; pass 0..65535 (0 picks a free one).")
    if not 0 <= workers <= MAX_CONCURRENCY:
        raise ValueError(
            f"workers={workers!r} is out of range; pass 0 to {MAX_CONCURRENCY} worker threads."
        )
    if max_seconds is not None and not max_seconds > 0:
        raise ValueError(f"max_seconds={max_seconds!r} must be positive, or None to run on.")
    stop = threading.Event()
    failures: list[BaseException] = []
    server: uvicorn.Server | None = None

    def work() -> None:
        try:
            # The workers share a heartbeat, a doorbell and (on a group-committing store, as
            # `chaosflow serve --workers N` opens it) their commits.
            pool = WorkerPool(orchestrator, workers, lease_seconds=lease_seconds)
            pool.run(max_seconds=_FOREVER, stop_event=stop)
        except BaseException as error:  # recorded and re-raised by serve_http
            failures.append(error)
            if server is not None:
                server.should_exit = True

    @asynccontextmanager
    async def with_workers(_app: FastAPI) -> AsyncIterator[None]:
        # Workers live in the app's lifespan, so uvicorn stops them before it exits, even when
        # it re-raises SIGTERM/SIGINT after a graceful shutdown.
        threads = [threading.Thread(target=work, name="chaosflow-http-workers", daemon=True)]
        threads = threads if workers else []
        for thread in threads:
            thread.start()
        try:
            yield
        finally:
            stop.set()
            await asyncio.to_thread(_join, threads, lease_seconds + 5)

    allowed = None if token is not None else _host_names(host)
    app = build_app(orchestrator, token, lifespan=with_workers, allowed_hosts=allowed, docs=docs)
    server = uvicorn.Server(
        uvicorn.Config(app, host=host, port=port, log_level="warning", timeout_graceful_shutdown=5)
    )

    def watch(server: uvicorn.Server) -> None:
        while not server.started and not stop.wait(0.02):
            pass
        if server.started:
            print(f"chaosflow http listening on {_url(server, host, port)}", flush=True)
        if max_seconds is not None and not stop.wait(max_seconds):
            server.should_exit = True

    watcher = threading.Thread(target=watch, args=(server,), name="chaosflow-http-watch")
    watcher.daemon = True
    watcher.start()
    logs = json_lines_to_stderr(HTTP_LOGGER, FAILURE_LOGGER) if log_json else _nothing()
    try:
        with logs:
            server.run()
    finally:
        stop.set()
        watcher.join(timeout=5)
    if failures:
        raise failures[0]


@contextmanager
def _nothing() -> Iterator[None]:
    yield


def _join(threads: list[threading.Thread], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    for thread in threads:
        thread.join(timeout=max(0.0, deadline - time.monotonic()))


def _url(server: uvicorn.Server, host: str, port: int) -> str:
    # With port=0 the kernel picked the port: read it back from the bound socket.
    sockets = [sock for listener in getattr(server, "servers", []) for sock in listener.sockets]
    if sockets:
        port = sockets[0].getsockname()[1]
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}"

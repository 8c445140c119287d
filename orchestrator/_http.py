"""The orchestrator over HTTP: submit runs and follow them, for load tests and other languages.

:func:`create_app` builds a FastAPI app over one :class:`Orchestrator`; :func:`serve_http` runs it
under uvicorn in the foreground together with worker threads, which is what ``chaosflow serve``
does. Every error body is ``{"error": "..."}`` saying what happened and what to do.
"""

from __future__ import annotations

import asyncio
import hmac
import ipaddress
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

import uvicorn
from fastapi import Depends, FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from ._errors import (
    IllegalTransition,
    RegistryError,
    SerializationError,
    StoreError,
    UnknownRun,
)
from ._orchestrator import Orchestrator

MAX_BODY_BYTES = 1024 * 1024  # a run's input is a business payload, not a file upload
_FOREVER = 10.0**9  # seconds: "until stopped" for a worker loop that needs a bound

ASGIApp = Callable[
    [MutableMapping[str, Any], Callable[[], Awaitable[Any]], Callable[[Any], Awaitable[None]]],
    Awaitable[None],
]


class SubmitRequest(BaseModel):
    """The body of ``POST /runs``."""

    model_config = ConfigDict(extra="forbid")

    workflow: str = Field(min_length=1, max_length=200)
    input: dict[str, Any] = Field(default_factory=dict)
    run_id: str | None = Field(default=None, min_length=1, max_length=200)
    correlation_id: str | None = Field(default=None, max_length=200)


class SubmitResponse(BaseModel):
    """The answer to ``POST /runs``: the id of the run (new, or existing for a known run_id)."""

    run_id: str


class RunStatusBody(BaseModel):
    """A run's status, as :meth:`RunStatus.to_dict` gives it."""

    model_config = ConfigDict(extra="allow")

    run_id: str
    workflow: str
    version: int
    state: str
    steps: dict[str, str]
    outputs: dict[str, Any]
    correlation_id: str | None
    created_at: float
    updated_at: float


class EventBody(BaseModel):
    """One entry of a run's event log."""

    seq: int
    step: str | None
    kind: str
    attempt: int
    worker_id: str | None
    at: float
    detail: dict[str, Any]


class HealthBody(BaseModel):
    """The answer to ``GET /health``."""

    status: str


class _ApiError(Exception):
    """An error answered as ``{"error": message}`` with ``status``."""

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers


def _error(status: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status, headers=headers)


class _BodyLimit:
    """ASGI middleware: refuse request bodies over ``limit`` bytes with 413 before parsing them."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(
        self,
        scope: MutableMapping[str, Any],
        receive: Callable[[], Awaitable[Any]],
        send: Callable[[Any], Awaitable[None]],
    ) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.limit:
            await self._refuse(scope, receive, send, f"declares {int(declared)} bytes")
            return
        # A chunked body declares no length: buffer it up to the limit, then replay it.
        messages: list[Any] = []
        size = 0
        while True:
            message = await receive()
            messages.append(message)
            if message["type"] != "http.request":
                break
            size += len(message.get("body", b""))
            if size > self.limit:
                await self._refuse(scope, receive, send, f"is over {size} bytes")
                return
            if not message.get("more_body", False):
                break
        replay = iter(messages)

        async def replayed() -> Any:
            return next(replay, None) or await receive()

        await self.app(scope, replayed, send)

    async def _refuse(
        self,
        scope: MutableMapping[str, Any],
        receive: Callable[[], Awaitable[Any]],
        send: Callable[[Any], Awaitable[None]],
        why: str,
    ) -> None:
        response = _error(
            413,
            f"The request body {why}, more than the limit of {self.limit} bytes. "
            "Send a smaller input: keep large data elsewhere and pass a reference to it.",
        )
        await response(scope, receive, send)


def create_app(orchestrator: Orchestrator, *, token: str | None = None) -> FastAPI:
    """The HTTP API over ``orchestrator``: submit runs, read their status and event log.

    With ``token`` set, every route but ``/health`` wants ``Authorization: Bearer <token>``.
    The app starts no workers: run them beside it, or use :func:`serve_http`.
    """
    return _build_app(orchestrator, token, lifespan=None)


def _build_app(
    orchestrator: Orchestrator,
    token: str | None,
    lifespan: Callable[[FastAPI], AbstractAsyncContextManager[None]] | None,
) -> FastAPI:
    if token is not None and not token.strip():
        raise ValueError(
            f"token={token!r} is blank, which anyone could send. Pass a real secret, or None "
            "to serve without authentication on loopback."
        )
    bearer = HTTPBearer(auto_error=False, description="required when the server has a token")

    def authorised(
        credentials: HTTPAuthorizationCredentials | None = Depends(bearer),  # noqa: B008
    ) -> None:
        if token is None:
            return
        given = credentials.credentials if credentials is not None else ""
        if not hmac.compare_digest(given.encode(), token.encode()):
            raise _ApiError(
                401,
                "Missing or wrong bearer token: this server was started with a token. Send the "
                "header 'Authorization: Bearer <token>'.",
                {"WWW-Authenticate": "Bearer"},
            )

    app = FastAPI(
        title="chaosflow orchestrator",
        version="1",
        description="Submit workflow runs and follow them.",
        lifespan=lifespan,
    )
    app.add_middleware(_BodyLimit, limit=MAX_BODY_BYTES)
    _add_error_handlers(app)
    guarded = [Depends(authorised)]

    @app.post("/runs", status_code=202, dependencies=guarded)
    def submit_run(body: SubmitRequest) -> SubmitResponse:
        """Start a run of ``workflow``; resubmitting a known ``run_id`` returns it unchanged."""
        try:
            run_id = orchestrator.submit(
                body.workflow,
                body.input,
                run_id=body.run_id,
                correlation_id=body.correlation_id,
            )
        except RegistryError as error:
            raise _ApiError(404, str(error)) from None
        return SubmitResponse(run_id=run_id)

    @app.get("/runs/{run_id}", dependencies=guarded)
    def run_status(run_id: str) -> RunStatusBody:
        """The run's state, its steps' states and their outputs."""
        return RunStatusBody.model_validate(_status(orchestrator, run_id))

    @app.post("/runs/{run_id}/cancel", dependencies=guarded)
    def cancel_run(run_id: str) -> RunStatusBody:
        """Cancel a running run: what did not start is skipped, the rest is compensated."""
        try:
            status = orchestrator.cancel(run_id, reason="cancelled through the HTTP API")
        except UnknownRun as error:
            raise _ApiError(404, str(error)) from None
        except (IllegalTransition, RegistryError) as error:
            raise _ApiError(409, str(error)) from None
        return RunStatusBody.model_validate(status.to_dict())

    @app.get("/runs/{run_id}/events", dependencies=guarded)
    def run_events(run_id: str) -> list[EventBody]:
        """The run's event log, in order."""
        _status(orchestrator, run_id)
        return [
            EventBody(
                seq=row.seq,
                step=row.step,
                kind=row.kind,
                attempt=row.attempt,
                worker_id=row.worker_id,
                at=row.at,
                detail=dict(row.detail),
            )
            for row in orchestrator.events(run_id)
        ]

    @app.get("/health")
    def health() -> HealthBody:
        """``ok`` when the store answers a query; 503 when it does not."""
        with orchestrator.store.reading() as conn:
            conn.execute(text("SELECT 1"))
        return HealthBody(status="ok")

    return app


def _status(orchestrator: Orchestrator, run_id: str) -> dict[str, Any]:
    try:
        return orchestrator.status(run_id).to_dict()
    except UnknownRun as error:
        raise _ApiError(404, str(error)) from None


def _add_error_handlers(app: FastAPI) -> None:
    async def api_error(_request: Request, error: Exception) -> JSONResponse:
        assert isinstance(error, _ApiError)
        return _error(error.status, error.message, error.headers)

    async def invalid_request(_request: Request, error: Exception) -> JSONResponse:
        assert isinstance(error, RequestValidationError)
        problems = jsonable_encoder(error.errors())
        where = "; ".join(
            f"{'.'.join(str(part) for part in problem.get('loc', ()))}: {problem.get('msg')}"
            for problem in problems
        )
        body = {
            "error": f"The request is not valid ({where}). Fix it to match /openapi.json.",
            "detail": problems,
        }
        return JSONResponse(body, status_code=422)

    async def not_serialisable(_request: Request, error: Exception) -> JSONResponse:
        return _error(422, str(error))

    async def store_down(_request: Request, error: Exception) -> JSONResponse:
        reason = error.orig if isinstance(error, DBAPIError) else error
        return _error(
            503,
            f"The orchestrator's store cannot be reached ({reason}). Retry later; check that "
            "the database is running.",
        )

    app.add_exception_handler(_ApiError, api_error)
    app.add_exception_handler(RequestValidationError, invalid_request)
    app.add_exception_handler(SerializationError, not_serialisable)
    app.add_exception_handler(StoreError, store_down)
    app.add_exception_handler(DBAPIError, store_down)


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
) -> None:
    """Serve the HTTP API in the foreground, with ``workers`` worker threads beside it.

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
    if workers < 0:
        raise ValueError(f"workers={workers!r} is negative; pass 0 or more worker threads.")
    if max_seconds is not None and not max_seconds > 0:
        raise ValueError(f"max_seconds={max_seconds!r} must be positive, or None to run on.")
    stop = threading.Event()
    failures: list[BaseException] = []
    server: uvicorn.Server | None = None

    def work() -> None:
        try:
            worker = orchestrator.worker(lease_seconds=lease_seconds)
            worker.run(max_seconds=_FOREVER, stop_event=stop)
        except BaseException as error:  # recorded and re-raised by serve_http
            failures.append(error)
            if server is not None:
                server.should_exit = True

    @asynccontextmanager
    async def with_workers(_app: FastAPI) -> AsyncIterator[None]:
        # Workers live in the app's lifespan, so uvicorn stops them before it exits, even when
        # it re-raises SIGTERM/SIGINT after a graceful shutdown.
        threads = [
            threading.Thread(target=work, name=f"chaosflow-http-worker-{n}", daemon=True)
            for n in range(workers)
        ]
        for thread in threads:
            thread.start()
        try:
            yield
        finally:
            stop.set()
            await asyncio.to_thread(_join, threads, lease_seconds + 5)

    app = _build_app(orchestrator, token, lifespan=with_workers)
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
    try:
        server.run()
    finally:
        stop.set()
        watcher.join(timeout=5)
    if failures:
        raise failures[0]


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

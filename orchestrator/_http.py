"""The orchestrator over HTTP: submit runs, list them and follow them.

:func:`create_app` builds a FastAPI app over one :class:`Orchestrator`; :func:`serve_http` (in
``_serve``) runs it under uvicorn with worker threads, which is what ``chaosflow serve`` does.

What the API promises, and tests with schemathesis (all checks): every route declares every
status it answers; every error body is ``{"error": "..."}`` (plus ``problems`` for a 422),
for unknown routes, wrong methods and undecodable bodies too; no input yields a 500; bearer
security is in the document only when the server has a token.
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Path, Query, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from ._errors import (
    IllegalTransition,
    RegistryError,
    RunConflict,
    SerializationError,
    StoreError,
    UnknownRun,
)
from ._http_models import (
    CURSOR_PATTERN,
    ID_PATTERN,
    MAX_CURSOR,
    EventBody,
    HealthBody,
    RunPageBody,
    RunStatusBody,
    SubmitRequest,
    SubmitResponse,
    error_responses,
)
from ._http_plumbing import (
    HTTP_LOGGER,
    BodyLimit,
    HostCheck,
    RequestLog,
    SafeJSONResponse,
    error_response,
)
from ._orchestrator import Orchestrator
from ._schema import ID_LENGTH
from ._states import RunState
from ._status import DEFAULT_PAGE, MAX_PAGE

MAX_BODY_BYTES = 1024 * 1024  # a run's input is a business payload, not a file upload

RunId = Annotated[
    str,
    Path(min_length=1, max_length=ID_LENGTH, pattern=ID_PATTERN, description="the run's id"),
]


class _ApiError(Exception):
    """An error answered as ``{"error": message}`` with ``status``."""

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers


def create_app(orchestrator: Orchestrator, *, token: str | None = None) -> FastAPI:
    """The HTTP API over ``orchestrator``: submit runs, list them, read status and event log.

    With ``token`` set, every route but ``/health`` wants ``Authorization: Bearer <token>``
    (and only then does the OpenAPI document declare bearer security and 401 answers).
    The app starts no workers: run them beside it, or use :func:`serve_http`.
    """
    return build_app(orchestrator, token, lifespan=None)


def build_app(
    orchestrator: Orchestrator,
    token: str | None,
    lifespan: Callable[[FastAPI], AbstractAsyncContextManager[None]] | None,
    *,
    allowed_hosts: frozenset[str] | None = None,
    docs: bool = False,
) -> FastAPI:
    """The app behind :func:`create_app`, with an optional lifespan (used by ``serve_http``).

    With ``allowed_hosts`` a request whose Host header names another host is answered 421
    (``serve_http`` sets it when there is no token). ``docs`` serves Swagger UI at ``/docs``;
    off by default, since its page loads scripts from a CDN (``/openapi.json`` is always there).
    """
    if token is not None and not token.strip():
        raise ValueError(
            f"token={token!r} is blank, which anyone could send. Pass a real secret, or None "
            "to serve without authentication on loopback."
        )
    app = FastAPI(
        title="chaosflow orchestrator",
        version="2",
        description=(
            "Submit workflow runs, list them and follow them. Every error answer is "
            '`{"error": "..."}`.'
        ),
        lifespan=lifespan,
        default_response_class=SafeJSONResponse,
        docs_url="/docs" if docs else None,
        redoc_url=None,
    )
    app.add_middleware(BodyLimit, limit=MAX_BODY_BYTES)
    if allowed_hosts is not None:
        app.add_middleware(HostCheck, allowed=allowed_hosts)
    app.add_middleware(RequestLog)
    _add_error_handlers(app)
    guarded, auth = _guard(token)

    def answers(*statuses: int) -> dict[int | str, dict[str, Any]]:
        return error_responses(413, *statuses, *auth)

    @app.post(
        "/runs",
        status_code=202,
        dependencies=guarded,
        responses=answers(400, 404, 409, 422, 503),
        operation_id="submit_run",
    )
    def submit_run(body: SubmitRequest) -> SubmitResponse:
        """Start a run of ``workflow``.

        Resubmitting a known ``run_id`` with the same input returns it unchanged (202); with a
        different input it is refused with 409, naming the SHA-256 digests of both inputs.
        An unknown workflow is 404.
        """
        try:
            run_id = orchestrator.submit(
                body.workflow,
                body.input,
                run_id=body.run_id,
                correlation_id=body.correlation_id,
                priority=body.priority,
            )
        except RegistryError as error:
            raise _ApiError(404, str(error)) from None
        except RunConflict as error:
            raise _ApiError(409, str(error)) from None
        return SubmitResponse(run_id=run_id)

    @app.get("/runs", dependencies=guarded, responses=answers(422, 503), operation_id="list_runs")
    def list_runs(
        state: Annotated[RunState | None, Query(description="only runs in this state")] = None,
        workflow: Annotated[
            str | None, Query(max_length=ID_LENGTH, pattern=ID_PATTERN, description="name")
        ] = None,
        correlation_id: Annotated[
            str | None, Query(max_length=ID_LENGTH, pattern=ID_PATTERN)
        ] = None,
        since: Annotated[
            float | None,
            Query(allow_inf_nan=False, description="created at or after (epoch seconds)"),
        ] = None,
        until: Annotated[
            float | None,
            Query(allow_inf_nan=False, description="created before (epoch seconds)"),
        ] = None,
        limit: Annotated[int, Query(ge=1, le=MAX_PAGE, description="page size")] = DEFAULT_PAGE,
        cursor: Annotated[
            str | None,
            Query(
                max_length=MAX_CURSOR,
                pattern=CURSOR_PATTERN,
                description="the previous page's next_cursor",
            ),
        ] = None,
    ) -> RunPageBody:
        """Runs, newest first, filtered by state, workflow, correlation id and creation time.

        A page holds at most ``limit`` runs; ``next_cursor`` (null on the last page) fetches
        the next one. Paging is by position, so runs submitted meanwhile shift nothing.
        """
        page = orchestrator.list_runs(
            state=state,
            workflow=workflow,
            correlation_id=correlation_id,
            since=since,
            until=until,
            limit=limit,
            cursor=cursor,
        )
        return RunPageBody.model_validate(page.to_dict())

    @app.get(
        "/runs/{run_id}",
        dependencies=guarded,
        responses=answers(404, 422, 503),
        operation_id="run_status",
    )
    def run_status(run_id: RunId) -> RunStatusBody:
        """The run's state, its steps' states, outputs and last errors, and why it failed."""
        return RunStatusBody.model_validate(_status(orchestrator, run_id))

    @app.post(
        "/runs/{run_id}/cancel",
        dependencies=guarded,
        responses=answers(404, 409, 422, 503),
        operation_id="cancel_run",
    )
    def cancel_run(run_id: RunId) -> RunStatusBody:
        """Cancel a running run: what did not start is skipped, the rest is compensated.

        A run that has ended or is rolling back already is 409.
        """
        try:
            status = orchestrator.cancel(run_id, reason="cancelled through the HTTP API")
        except UnknownRun as error:
            raise _ApiError(404, str(error)) from None
        except (IllegalTransition, RegistryError) as error:
            raise _ApiError(409, str(error)) from None
        return RunStatusBody.model_validate(status.to_dict())

    @app.get(
        "/runs/{run_id}/events",
        dependencies=guarded,
        responses=answers(404, 422, 503),
        operation_id="run_events",
    )
    def run_events(run_id: RunId) -> list[EventBody]:
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

    @app.get("/health", responses=error_responses(413, 503), operation_id="health")
    def health() -> HealthBody:
        """``ok`` when the store answers a query (503 when it does not), with this process's
        workers (count, busy, idle, steps handled) and each dependency's adaptive concurrency
        limit (limit, in flight, recent latency and error rate)."""
        with orchestrator.store.reading() as conn:
            conn.execute(text("SELECT 1"))
        return HealthBody.model_validate({"status": "ok", **orchestrator.health()})

    _document(app, orchestrator)
    return app


# Where a submitted run's id leads: OpenAPI links, so clients (and schemathesis' stateful
# tests) can follow a submission to the run it made.
_RUN_LINKS = {
    name: {"operationId": operation, "parameters": {"run_id": "$response.body#/run_id"}}
    for name, operation in (
        ("status", "run_status"),
        ("events", "run_events"),
        ("cancel", "cancel_run"),
    )
}


def _document(app: FastAPI, orchestrator: Orchestrator) -> None:
    """Extend the generated OpenAPI document with links and the registered workflows' names."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = get_openapi(
                title=app.title,
                version=app.version,
                description=app.description,
                routes=app.routes,
            )
            document["paths"]["/runs"]["post"]["responses"]["202"]["links"] = _RUN_LINKS
            workflow = document["components"]["schemas"]["SubmitRequest"]["properties"]
            if orchestrator.registry.names():
                workflow["workflow"]["examples"] = orchestrator.registry.names()
            app.openapi_schema = document
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def _guard(token: str | None) -> tuple[list[Any], tuple[int, ...]]:
    """The routes' auth dependency and the statuses it adds; nothing at all without a token."""
    if token is None:
        return [], ()
    bearer = HTTPBearer(auto_error=False, description="the token the server was started with")

    def authorised(
        credentials: HTTPAuthorizationCredentials | None = Depends(bearer),  # noqa: B008
    ) -> None:
        given = credentials.credentials if credentials is not None else ""
        if not hmac.compare_digest(given.encode("utf-8", "replace"), token.encode()):
            raise _ApiError(
                401,
                "Missing or wrong bearer token: this server was started with a token. Send the "
                "header 'Authorization: Bearer <token>'.",
                {"WWW-Authenticate": "Bearer"},
            )

    return [Depends(authorised)], (401,)


def _status(orchestrator: Orchestrator, run_id: str) -> dict[str, Any]:
    try:
        return orchestrator.status(run_id).to_dict()
    except UnknownRun as error:
        raise _ApiError(404, str(error)) from None


def _problems(error: RequestValidationError) -> list[dict[str, Any]]:
    # Only where and what: echoing the input back could carry what cannot be encoded.
    return [
        {
            "loc": [part if isinstance(part, int) else str(part) for part in p.get("loc", ())],
            "msg": str(p.get("msg", "")),
            "type": str(p.get("type", "")),
        }
        for p in jsonable_encoder(error.errors(), exclude={"input", "ctx", "url"})
    ]


def _methods_on(request: Request) -> list[str]:
    methods: set[str] = set()
    for route in request.app.router.routes:
        match, _ = route.matches({**request.scope, "method": "GET"})
        if match != Match.NONE:
            methods |= set(getattr(route, "methods", None) or ())
    return sorted(methods)


def _add_error_handlers(app: FastAPI) -> None:
    async def api_error(_request: Request, error: Exception) -> JSONResponse:
        assert isinstance(error, _ApiError)
        return error_response(error.status, error.message, error.headers)

    async def http_error(request: Request, error: Exception) -> JSONResponse:
        # Starlette's own answers (unknown route, wrong method, undecodable body), reshaped.
        assert isinstance(error, StarletteHTTPException)
        where = f"{request.method} {request.url.path}"
        headers = dict(error.headers or {})
        if error.status_code == 405:
            # Starlette names the methods of the first route on the path; a path served by
            # several routes (GET and POST /runs) takes all of theirs.
            headers["Allow"] = ", ".join(_methods_on(request))
        messages = {
            404: f"There is no route {where}. The routes are listed in /openapi.json.",
            405: f"{where} is not allowed; this path takes {headers.get('Allow')}.",
            400: f"The request body of {where} could not be decoded ({error.detail}). Send "
            "UTF-8 JSON with Content-Type: application/json.",
        }
        message = messages.get(error.status_code, f"{where}: {error.detail}")
        return error_response(error.status_code, message, headers or None)

    async def invalid_request(_request: Request, error: Exception) -> JSONResponse:
        assert isinstance(error, RequestValidationError)
        problems = _problems(error)
        where = "; ".join(
            f"{'.'.join(str(part) for part in p['loc'])}: {p['msg']}" for p in problems
        )
        body = {
            "error": f"The request is not valid ({where}). Fix it to match /openapi.json.",
            "problems": problems,
        }
        return SafeJSONResponse(body, status_code=422)

    async def not_serialisable(_request: Request, error: Exception) -> JSONResponse:
        return error_response(422, str(error))

    async def store_down(_request: Request, error: Exception) -> JSONResponse:
        reason = error.orig if isinstance(error, DBAPIError) else error
        return error_response(
            503,
            f"The orchestrator's store cannot be reached ({reason}). Retry later; check that "
            "the database is running.",
        )

    async def bug(request: Request, error: Exception) -> JSONResponse:
        # Never expected: logged with its traceback, answered in the one error shape.
        logging.getLogger(HTTP_LOGGER).exception("unhandled error in %s", request.url.path)
        return error_response(
            500,
            f"The server failed on {request.method} {request.url.path} ({type(error).__name__}). "
            "This is a bug in chaosflow: please report it with the server's log.",
        )

    app.add_exception_handler(_ApiError, api_error)
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(RequestValidationError, invalid_request)
    app.add_exception_handler(SerializationError, not_serialisable)
    app.add_exception_handler(StoreError, store_down)
    app.add_exception_handler(DBAPIError, store_down)
    app.add_exception_handler(Exception, bug)

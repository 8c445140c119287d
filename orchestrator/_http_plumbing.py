"""The HTTP API's plumbing: JSON that always encodes, the body limit, the request log.

Each is plain ASGI (or a response class), so it sits in front of FastAPI without depending on it.
"""

from __future__ import annotations

import json
import logging
import math
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from fastapi.responses import JSONResponse

HTTP_LOGGER = "chaosflow.http"
request_log = logging.getLogger(HTTP_LOGGER)

ASGIApp = Callable[
    [MutableMapping[str, Any], Callable[[], Awaitable[Any]], Callable[[Any], Awaitable[None]]],
    Awaitable[None],
]


class SafeJSONResponse(JSONResponse):
    """JSON that always encodes: a lone surrogate (from a step's output, say) is escaped, and a
    non-finite number (which JSON cannot carry) becomes null, instead of failing the answer."""

    def render(self, content: Any) -> bytes:
        try:
            text_ = json.dumps(content, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
        except ValueError:
            text_ = json.dumps(_finite(content), ensure_ascii=False, separators=(",", ":"))
        return text_.encode("utf-8", "backslashreplace")


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    return value


def error_response(
    status: int, message: str, headers: dict[str, str] | None = None
) -> JSONResponse:
    """The one error shape: ``{"error": message}``."""
    return SafeJSONResponse({"error": message}, status_code=status, headers=headers)


class BodyLimit:
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
        response = error_response(
            413,
            f"The request body {why}, more than the limit of {self.limit} bytes. "
            "Send a smaller input: keep large data elsewhere and pass a reference to it.",
        )
        await response(scope, receive, send)


class RequestLog:
    """ASGI middleware: one JSON line per request (method, path, status, milliseconds)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(
        self,
        scope: MutableMapping[str, Any],
        receive: Callable[[], Awaitable[Any]],
        send: Callable[[Any], Awaitable[None]],
    ) -> None:
        if scope["type"] != "http" or not request_log.isEnabledFor(logging.INFO):
            await self.app(scope, receive, send)
            return
        started = time.monotonic()
        status = {"code": 500}  # what the client sees if the app raises before answering

        async def sending(message: Any) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            client = scope.get("client")
            line = {
                "event": "http_request",
                "at": time.time(),
                "method": scope.get("method"),
                "path": scope.get("path"),
                "status": status["code"],
                "ms": round((time.monotonic() - started) * 1000, 3),
                "client": f"{client[0]}:{client[1]}" if client else None,
            }
            request_log.info(json.dumps(line, sort_keys=True))


class HostCheck:
    """ASGI middleware: answer 421 to a request whose ``Host`` is not one of ``allowed``.

    A server without a token trusts every local process, and a browser page could reach it by
    DNS rebinding (a name of the attacker's that resolves to 127.0.0.1): its requests then
    carry that name as their Host. Checking Host against the names the server was bound under
    refuses them. Ports are not compared (the name is what rebinding changes).
    """

    def __init__(self, app: ASGIApp, allowed: frozenset[str]) -> None:
        self.app = app
        self.allowed = frozenset(name.lower() for name in allowed)

    async def __call__(
        self,
        scope: MutableMapping[str, Any],
        receive: Callable[[], Awaitable[Any]],
        send: Callable[[Any], Awaitable[None]],
    ) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        raw = dict(scope.get("headers") or []).get(b"host", b"").decode("latin-1")
        if host_name(raw) in self.allowed:
            await self.app(scope, receive, send)
            return
        response = error_response(
            421,
            f"Host={raw[:100]!r} is not a name this server was bound under "
            f"({', '.join(sorted(self.allowed))}); without a token it answers only requests "
            "addressed to it by those names (DNS rebinding). Use one of them, or start the "
            "server with a token.",
        )
        await response(scope, receive, send)


def host_name(header: str) -> str:
    """The name part of a Host header, lower-cased: '[::1]:8080' -> '::1', 'a:80' -> 'a'."""
    header = header.strip().lower()
    if header.startswith("["):
        return header[1:].split("]", 1)[0]
    return header.rsplit(":", 1)[0] if header.count(":") == 1 else header

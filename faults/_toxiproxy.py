"""The real Toxiproxy server, and the project's own small client over toxiproxy-python.

toxiproxy-python keeps the server's host and port on a class (one server per process). The
:class:`ToxiproxyClient` here points that class at its own server under a lock for each call, so
several servers can be driven from one process, and callers never touch toxiproxy-python: a
better client can replace it without changing them.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ._errors import ToxiproxyError
from ._net import free_port, port_is_free, wait_for_port
from ._toxics import STREAMS, TOXIC_ATTRIBUTES

BINARY_ENV = "CHAOSFLOW_TOXIPROXY_BIN"
_REPO_BINARY = Path(__file__).resolve().parent.parent / ".tools" / "bin" / "toxiproxy-server"
_API_LOCK = threading.RLock()  # toxiproxy-python's host and port are class attributes
API_TIMEOUT = 5.0  # seconds for one API call; toxiproxy-python itself waits forever


class _ServerFailed(Exception):
    """The API answered 5xx, which toxiproxy-python passes on as if it had succeeded."""


class _BoundedRequests:
    """Stands in for ``requests`` inside toxiproxy-python: a timeout on every call, 5xx raised."""

    def __init__(self, requests: Any, timeout: float) -> None:
        self._requests = requests
        self._timeout = timeout

    def _call(self, method: str, url: str, **kwargs: Any) -> Any:
        response = getattr(self._requests, method)(url, timeout=self._timeout, **kwargs)
        if response.status_code >= 500:
            raise _ServerFailed(
                f"{method.upper()} {url} answered {response.status_code}: {response.text.strip()}"
            )
        return response

    def get(self, url: str, **kwargs: Any) -> Any:
        return self._call("get", url, **kwargs)

    def post(self, url: str, **kwargs: Any) -> Any:
        return self._call("post", url, **kwargs)

    def delete(self, url: str, **kwargs: Any) -> Any:
        return self._call("delete", url, **kwargs)


def _refusal_advice(error: Exception, message: str) -> str:
    # toxiproxy-python maps HTTP statuses to exception types (409 is ProxyExists, even for a
    # toxic), so the server's message says which object the refusal is about.
    about_toxic = "toxic" in message.lower()
    if type(error).__name__ == "ProxyExists":
        if about_toxic:
            return "Remove the toxic first (proxy.remove_toxic(name)), or name the new one."
        return "Delete the proxy first (proxy.delete()), or give the new one another name."
    if type(error).__name__ == "NotFound":
        if about_toxic:
            return "List the proxy's toxics with proxy.toxics()."
        return "List the proxies with client.proxies()."
    return "Check the toxic's type and attributes against docs/faults.md."


def _server_message(error: Exception) -> str:
    """The server's own words from a refusal, which toxiproxy-python hands over as raw bytes."""
    raw = error.args[0] if error.args else b""
    text = raw.decode(errors="replace") if isinstance(raw, bytes) else str(raw)
    try:
        body = json.loads(text)
    except ValueError:
        return text.strip().rstrip(".") or type(error).__name__
    if isinstance(body, dict) and "error" in body:
        return f"{body['error']} (HTTP {body.get('status', '?')})"
    return text.strip().rstrip(".")


def _check_address(field: str, value: str) -> None:
    host, sep, port = value.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ToxiproxyError(
            f"Proxy {field}={value!r} is not host:port (e.g. 127.0.0.1:5432); Toxiproxy would "
            "accept it and then fail every connection."
        )


def find_binary() -> Path:
    """The toxiproxy-server binary: $CHAOSFLOW_TOXIPROXY_BIN, .tools/bin, or PATH."""
    explicit = os.environ.get(BINARY_ENV)
    # A path named explicitly is honoured as given, never silently replaced by another.
    candidates = [explicit] if explicit else [str(_REPO_BINARY), shutil.which("toxiproxy-server")]
    for candidate in candidates:
        if candidate and Path(candidate).is_file() and os.access(candidate, os.X_OK):
            return Path(candidate)
    raise ToxiproxyError(
        f"The Toxiproxy server binary was not found (looked at ${BINARY_ENV}, {_REPO_BINARY} "
        "and toxiproxy-server on PATH). Run `make tools` to build the pinned release, or set "
        f"{BINARY_ENV} to its path."
    )


def validate_toxic(
    toxic_type: str, stream: str, toxicity: float, attributes: dict[str, Any]
) -> None:
    """Refuse a toxic Toxiproxy does not have, before any call reaches the server."""
    if toxic_type not in TOXIC_ATTRIBUTES:
        raise ToxiproxyError(
            f"Toxic type={toxic_type!r} is not one Toxiproxy has; use one of "
            f"{', '.join(TOXIC_ATTRIBUTES)}."
        )
    if stream not in STREAMS:
        raise ToxiproxyError(f"Toxic stream={stream!r} must be 'upstream' or 'downstream'.")
    if not 0.0 <= toxicity <= 1.0:
        raise ToxiproxyError(f"Toxic toxicity={toxicity!r} must be within 0..1.")
    for name, value in attributes.items():
        if name not in TOXIC_ATTRIBUTES[toxic_type]:
            raise ToxiproxyError(
                f"Toxic {toxic_type!r} has no attribute {name!r}; it has "
                f"{', '.join(TOXIC_ATTRIBUTES[toxic_type])}."
            )
        if not isinstance(value, int) or value < 0:
            raise ToxiproxyError(
                f"Toxic {toxic_type!r} attribute {name}={value!r} must be a non-negative integer."
            )


class ToxiproxyServer:
    """A toxiproxy-server process on a loopback port; a context manager."""

    def __init__(
        self,
        *,
        port: int = 0,
        host: str = "127.0.0.1",
        binary: str | os.PathLike[str] | None = None,
        seed: int = 1,
    ) -> None:
        self.host = host
        self.port = port or free_port(host)
        self.binary = Path(binary) if binary else None
        self.seed = seed
        self._process: subprocess.Popen[bytes] | None = None
        self._log: Path | None = None

    @property
    def url(self) -> str:
        """The API's base URL."""
        return f"http://{self.host}:{self.port}"

    def start(self) -> ToxiproxyServer:
        """Start the server and wait until its API answers (10 s at most)."""
        binary = self.binary or find_binary()
        if not binary.is_file():
            raise ToxiproxyError(
                f"The Toxiproxy server binary {str(binary)!r} does not exist. Run `make tools`."
            )
        if not port_is_free(self.port, self.host):
            raise ToxiproxyError(
                f"Cannot start Toxiproxy on {self.host}:{self.port}: the port is taken. Pass "
                "port=0 for a free one, or stop what listens there."
            )
        fd, log = tempfile.mkstemp(prefix="toxiproxy-", suffix=".log")
        os.close(fd)
        self._log = Path(log)
        with self._log.open("wb") as out:
            self._process = subprocess.Popen(
                [str(binary), "-host", self.host, "-port", str(self.port), "-seed", str(self.seed)],
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                code, output = self._process.returncode, self._log.read_text()[-2000:]
                self.stop()
                raise ToxiproxyError(f"Toxiproxy exited at start with code {code}: {output}")
            if wait_for_port(self.port, self.host, timeout=0.2):
                with contextlib.suppress(ToxiproxyError):
                    self.client().version()
                    return self
        self.stop()
        raise ToxiproxyError(f"Toxiproxy did not answer on {self.url} within 10 s.")

    def stop(self) -> None:
        """Stop the server (and every proxy it holds)."""
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(5)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait(5)
        self._process = None
        if self._log is not None:
            self._log.unlink(missing_ok=True)

    @property
    def running(self) -> bool:
        """Whether the server process is alive."""
        return self._process is not None and self._process.poll() is None

    def client(self) -> ToxiproxyClient:
        """A client of this server."""
        return ToxiproxyClient(self.host, self.port)

    def __enter__(self) -> ToxiproxyServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class ToxiproxyClient:
    """The project's Toxiproxy client: proxies, toxics and reset, for one server."""

    def __init__(self, host: str, port: int, *, timeout: float = API_TIMEOUT) -> None:
        self.host = host
        self.port = port
        self.timeout = timeout

    @contextlib.contextmanager
    def _api(self) -> Iterator[Any]:
        import toxiproxy.api
        from toxiproxy.api import APIConsumer
        from toxiproxy.exceptions import InvalidToxic, NotFound, ProxyExists
        from toxiproxy.server import Toxiproxy

        with _API_LOCK:
            saved = (APIConsumer.host, APIConsumer.port, toxiproxy.api.requests)
            APIConsumer.host, APIConsumer.port = self.host, self.port
            if not isinstance(saved[2], _BoundedRequests):
                toxiproxy.api.requests = _BoundedRequests(saved[2], self.timeout)
            try:
                yield Toxiproxy()
            except _ServerFailed as error:
                raise ToxiproxyError(
                    f"Toxiproxy at {self.host}:{self.port} failed: {error}. The message above "
                    "is the server's; a listen address already in use is the usual cause."
                ) from None
            except (ProxyExists, NotFound, InvalidToxic) as error:
                message = _server_message(error)
                raise ToxiproxyError(
                    f"Toxiproxy at {self.host}:{self.port} refused: {message}. "
                    f"{_refusal_advice(error, message)}"
                ) from None
            except OSError as error:  # requests' ConnectionError and Timeout are OSErrors
                raise ToxiproxyError(
                    f"Toxiproxy at {self.host}:{self.port} cannot be reached or did not answer "
                    f"within timeout={self.timeout!r} s ({error}). Is the server running?"
                ) from None
            finally:
                APIConsumer.host, APIConsumer.port, toxiproxy.api.requests = saved

    def version(self) -> str:
        """The server's version string."""
        with self._api() as api:
            version = api.version()
        if version is None:
            raise ToxiproxyError(f"Toxiproxy at {self.host}:{self.port} is not running.")
        return version.decode() if isinstance(version, bytes) else str(version)

    def create_proxy(self, name: str, upstream: str, listen: str = "127.0.0.1:0") -> Proxy:
        """A new proxy from ``listen`` to ``upstream`` (port 0: Toxiproxy picks a free one)."""
        _check_address("upstream", upstream)
        _check_address("listen", listen)
        with self._api() as api:
            raw = api.create(upstream=upstream, name=name, listen=listen)
        return Proxy(self, raw.name, raw.listen, raw.upstream)

    def get_proxy(self, name: str) -> Proxy:
        """The proxy called ``name``."""
        with self._api() as api:
            raw = api.get_proxy(name)
        if raw is None:
            raise ToxiproxyError(f"Toxiproxy has no proxy named {name!r}.")
        return Proxy(self, raw.name, raw.listen, raw.upstream)

    def proxies(self) -> list[Proxy]:
        """Every proxy of the server."""
        with self._api() as api:
            raw = api.proxies()
        return [Proxy(self, p.name, p.listen, p.upstream) for p in raw.values()]

    def reset(self) -> None:
        """Enable every proxy and remove every toxic."""
        with self._api() as api:
            api.reset()


@dataclass(frozen=True)
class Proxy:
    """One proxy of a Toxiproxy server."""

    client: ToxiproxyClient
    name: str
    listen: str
    upstream: str

    @property
    def listen_host(self) -> str:
        """The host it listens on."""
        return self.listen.rsplit(":", 1)[0]

    @property
    def listen_port(self) -> int:
        """The port it listens on."""
        return int(self.listen.rsplit(":", 1)[1])

    def _raw(self, api: Any) -> Any:
        raw = api.get_proxy(self.name)
        if raw is None:
            raise ToxiproxyError(f"Toxiproxy has no proxy named {self.name!r} (any more).")
        return raw

    def add_toxic(
        self,
        toxic_type: str,
        *,
        stream: str = "downstream",
        toxicity: float = 1.0,
        name: str | None = None,
        **attributes: int,
    ) -> str:
        """Add a toxic; returns its name. Invalid toxics are refused before any call."""
        validate_toxic(toxic_type, stream, toxicity, attributes)
        toxic_name = name or f"{toxic_type}_{stream}"
        with self.client._api() as api:
            self._raw(api).add_toxic(
                type=toxic_type,
                stream=stream,
                toxicity=toxicity,
                name=toxic_name,
                attributes=attributes,
            )
        return toxic_name

    def remove_toxic(self, name: str) -> None:
        """Remove the toxic called ``name``."""
        with self.client._api() as api:
            self._raw(api).destroy_toxic(name)

    def toxics(self) -> dict[str, str]:
        """The proxy's toxics, by name, with their types."""
        with self.client._api() as api:
            return {name: toxic.type for name, toxic in self._raw(api).toxics().items()}

    def disable(self) -> None:
        """Take the proxy down: a partition (open connections drop, new ones are refused)."""
        with self.client._api() as api:
            self._raw(api).disable()

    def enable(self) -> None:
        """Bring the proxy back up."""
        with self.client._api() as api:
            self._raw(api).enable()

    def delete(self) -> None:
        """Delete the proxy."""
        with self.client._api() as api:
            self._raw(api).destroy()

    @contextlib.contextmanager
    def toxic(self, toxic_type: str, **kwargs: Any) -> Iterator[str]:
        """A toxic for the duration of the block; it is removed whatever happens."""
        name = self.add_toxic(toxic_type, **kwargs)
        try:
            yield name
        finally:
            self.remove_toxic(name)

    @contextlib.contextmanager
    def partitioned(self) -> Iterator[None]:
        """The proxy down for the duration of the block; it comes back whatever happens."""
        self.disable()
        try:
            yield
        finally:
            self.enable()

    def verify_in_path(self, timeout: float = 2.0) -> None:
        """Check that traffic really goes through this proxy: down, it must refuse connections.

        Raises ToxiproxyError if a connection to the listen address still succeeds while the
        proxy is disabled (something else answers there).
        """
        import socket

        with self.partitioned():
            try:
                with socket.create_connection(
                    (self.listen_host, self.listen_port), timeout=timeout
                ):
                    reached = True
            except OSError:
                reached = False
        if reached:
            raise ToxiproxyError(
                f"Proxy {self.name!r} is not in the path: {self.listen} accepted a connection "
                "while the proxy was disabled."
            )


class ToxiproxyInjector:
    """Carries out ``network`` and ``partition`` faults of a plan on real Toxiproxy proxies."""

    def __init__(self, client: ToxiproxyClient) -> None:
        self.client = client

    def inject(self, fault: Any) -> str:
        """Add the toxic, or take the proxy down."""
        proxy = self.client.get_proxy(fault.target)
        if fault.kind == "partition":
            proxy.disable()
            return f"proxy {proxy.name!r} disabled"
        params = fault.params
        name = proxy.add_toxic(
            params["toxic"],
            stream=params.get("stream", "downstream"),
            toxicity=float(params.get("toxicity", 1.0)),
            name=_toxic_name(fault),
            **params.get("attributes", {}),
        )
        return f"toxic {name!r} on proxy {proxy.name!r}"

    def heal(self, fault: Any) -> None:
        """Remove the toxic, or bring the proxy back."""
        proxy = self.client.get_proxy(fault.target)
        if fault.kind == "partition":
            proxy.enable()
        else:
            proxy.remove_toxic(_toxic_name(fault))


def _toxic_name(fault: Any) -> str:
    # One name per fault, so two toxics of one type on one proxy do not collide.
    return f"cf_{fault.params['toxic']}_{abs(hash(repr(fault.to_dict()))) % 10**8}"

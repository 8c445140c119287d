"""Real components as containers, for machines with a Docker engine (a user's CI).

:class:`ContainerPostgres` and :class:`ContainerToxiproxy` have the interfaces of
:class:`LocalPostgresCluster` and :class:`ToxiproxyServer`, so a test or a runner takes either. On
a machine without a Docker engine, :func:`docker_available` says so and why; the local processes
serve instead.
"""

from __future__ import annotations

import time
from typing import Any

from ._errors import FaultError
from ._toxiproxy import ToxiproxyClient

POSTGRES_IMAGE = "postgres:15"
TOXIPROXY_IMAGE = "ghcr.io/shopify/toxiproxy:2.5.0"


def docker_available() -> tuple[bool, str]:
    """Whether a Docker engine answers, and if not, why (for a skip reason)."""
    import gc
    import warnings

    # The docker SDK leaves its socket open when the engine is absent; collect it here, where
    # its ResourceWarning is expected, rather than in some later test.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)
        try:
            import docker

            client = docker.from_env(timeout=3)
            try:
                client.ping()
            finally:
                client.close()
        except Exception as error:  # the docker SDK raises many kinds; all mean "not here"
            return False, f"no Docker engine is reachable ({type(error).__name__}: {error})"
        finally:
            gc.collect()
    return True, "a Docker engine answers"


class ContainerPostgres:
    """PostgreSQL 15 in a container, with the interface of LocalPostgresCluster."""

    def __init__(self, image: str = POSTGRES_IMAGE) -> None:
        self.image = image
        self._container: Any = None

    def start(self) -> ContainerPostgres:
        """Start the container and wait until the server accepts connections."""
        from testcontainers.community.postgres import PostgresContainer

        self._container = PostgresContainer(
            self.image,
            username="chaosflow",
            password="chaosflow",
            dbname="chaosflow",
            driver="psycopg",
        )
        self._container.start()
        return self

    @property
    def url(self) -> str:
        """The SQLAlchemy URL of the ``chaosflow`` database."""
        return self.database_url("chaosflow")

    def database_url(self, database: str) -> str:
        """The SQLAlchemy URL of ``database`` in the container."""
        if self._container is None:
            raise FaultError("ContainerPostgres is not started; call start() first.")
        host = self._container.get_container_host_ip()
        port = self._container.get_exposed_port(5432)
        return f"postgresql+psycopg://chaosflow:chaosflow@{host}:{port}/{database}"

    def create_database(self, prefix: str = "t") -> str:
        """A new empty database; returns its URL."""
        import uuid

        from sqlalchemy import create_engine, text

        name = f"{prefix}_{uuid.uuid4().hex[:12]}"
        engine = create_engine(self.url, isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        engine.dispose()
        return self.database_url(name)

    def restart(self, *, down_seconds: float = 0.5) -> None:
        """Restart the container's server (connections drop, data stays)."""
        from sqlalchemy import create_engine, text

        self._container.get_wrapped_container().restart(timeout=1)
        time.sleep(down_seconds)
        deadline = time.monotonic() + 60
        while True:
            try:
                engine = create_engine(self.url)
                with engine.connect() as conn:
                    conn.execute(text("SELECT 1"))
                engine.dispose()
                return
            except Exception:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)

    def stop(self) -> None:
        """Stop and remove the container."""
        if self._container is not None:
            self._container.stop()
            self._container = None

    def __enter__(self) -> ContainerPostgres:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class ContainerToxiproxy:
    """The Toxiproxy server in a container, with the interface of ToxiproxyServer.

    Proxies listen inside the container: create them on one of ``proxy_ports`` and reach them
    from the host through :meth:`host_port`.
    """

    def __init__(
        self,
        image: str = TOXIPROXY_IMAGE,
        proxy_ports: tuple[int, ...] = (20000, 20001, 20002, 20003),
    ) -> None:
        self.image = image
        self.proxy_ports = proxy_ports
        self._container: Any = None

    def start(self) -> ContainerToxiproxy:
        """Start the container and wait until the API answers."""
        from testcontainers.core.container import DockerContainer

        self._container = DockerContainer(self.image).with_exposed_ports(8474, *self.proxy_ports)
        self._container.start()
        deadline = time.monotonic() + 30
        while True:
            try:
                self.client().version()
                return self
            except Exception:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)

    @property
    def host(self) -> str:
        """The host the API is reached on."""
        return str(self._container.get_container_host_ip())

    @property
    def port(self) -> int:
        """The host port of the API."""
        return int(self._container.get_exposed_port(8474))

    @property
    def url(self) -> str:
        """The API's base URL."""
        return f"http://{self.host}:{self.port}"

    def host_port(self, container_port: int) -> int:
        """The host port that reaches a proxy listening on ``container_port``."""
        return int(self._container.get_exposed_port(container_port))

    def client(self) -> ToxiproxyClient:
        """A client of this server."""
        return ToxiproxyClient(self.host, self.port)

    def stop(self) -> None:
        """Stop and remove the container."""
        if self._container is not None:
            self._container.stop()
            self._container = None

    def __enter__(self) -> ContainerToxiproxy:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

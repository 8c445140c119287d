"""A throwaway PostgreSQL cluster: initdb and pg_ctl in a temp dir, on a free loopback port.

``initdb`` refuses to run as root, so as root the cluster is run as the ``postgres`` account
(``runuser``). The cluster trusts local connections (it listens on 127.0.0.1 only and lives for
one test session); it can be restarted, for tests of a database that goes away under load.
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

from ._errors import PostgresClusterError
from ._net import free_port

BIN_ENV = "CHAOSFLOW_PG_BIN"
URL_ENV = "CHAOSFLOW_POSTGRES_URL"
_DEBIAN_BIN = "/usr/lib/postgresql/15/bin"
_SUPERUSER = "chaosflow"


def find_bindir() -> Path:
    """The folder with initdb and pg_ctl: $CHAOSFLOW_PG_BIN, Debian's, or pg_config's."""
    explicit = os.environ.get(BIN_ENV)
    # A folder named explicitly is honoured as given, never silently replaced by another.
    candidates = [explicit] if explicit else [_DEBIAN_BIN]
    pg_config = shutil.which("pg_config")
    if pg_config and not explicit:
        out = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True, check=False)
        candidates.append(out.stdout.strip())
    for candidate in candidates:
        if (
            candidate
            and (Path(candidate) / "initdb").is_file()
            and (Path(candidate) / "pg_ctl").is_file()
        ):
            return Path(candidate)
    raise PostgresClusterError(
        f"PostgreSQL server binaries (initdb, pg_ctl) not found in ${BIN_ENV}, {_DEBIAN_BIN} "
        "or pg_config --bindir. Install them with `apt-get install postgresql-15`, set "
        f"{BIN_ENV} to their folder, or set {URL_ENV} to a server of your own."
    )


def postgres_url_from_env() -> str | None:
    """The URL of a server the user provides instead of a throwaway cluster, if any."""
    return os.environ.get(URL_ENV) or None


class LocalPostgresCluster:
    """A PostgreSQL cluster of its own; a context manager that removes it afterwards."""

    def __init__(self, *, port: int = 0, bindir: str | os.PathLike[str] | None = None) -> None:
        self.port = port or free_port()
        self.bindir = Path(bindir) if bindir else find_bindir()
        self.root: Path | None = None
        self._as_user: list[str] = []

    @property
    def url(self) -> str:
        """The SQLAlchemy URL of the cluster's ``chaosflow`` database."""
        return self.database_url("chaosflow")

    def database_url(self, database: str) -> str:
        """The SQLAlchemy URL of ``database`` on this cluster."""
        return f"postgresql+psycopg://{_SUPERUSER}@127.0.0.1:{self.port}/{database}"

    def _run(self, *args: str, timeout: float = 60) -> str:
        command = [*self._as_user, *args]
        out = subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False)
        if out.returncode != 0:
            raise PostgresClusterError(
                f"{Path(args[0]).name} failed with code {out.returncode}: "
                f"{(out.stderr or out.stdout)[-2000:]}"
            )
        return out.stdout

    def start(self) -> LocalPostgresCluster:
        """initdb, start on the port, create the ``chaosflow`` database."""
        self.root = Path(tempfile.mkdtemp(prefix="chaosflow-pg-"))
        if os.geteuid() == 0:
            try:
                account = pwd.getpwnam("postgres")
            except KeyError:
                raise PostgresClusterError(
                    "Running as root, and there is no 'postgres' account to run PostgreSQL as "
                    "(initdb refuses root). Create one (`adduser --system postgres`) or run the "
                    "tests as another user."
                ) from None
            os.chown(self.root, account.pw_uid, account.pw_gid)
            self._as_user = ["runuser", "-u", "postgres", "--"]
        data = self.root / "data"
        self._run(
            str(self.bindir / "initdb"),
            "-D",
            str(data),
            "-A",
            "trust",
            "-U",
            _SUPERUSER,
            "--no-sync",
            "-E",
            "UTF8",
        )
        self._pg_ctl_start()
        self._createdb("chaosflow")
        return self

    def _pg_ctl_start(self) -> None:
        assert self.root is not None
        options = (
            f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 "
            "-c max_connections=200 -c fsync=on"
        )
        self._run(
            str(self.bindir / "pg_ctl"),
            "-D",
            str(self.root / "data"),
            "-o",
            options,
            "-l",
            str(self.root / "server.log"),
            "-w",
            "-t",
            "60",
            "start",
            timeout=90,
        )

    def stop(self) -> None:
        """Stop the server at once and remove the cluster's folder."""
        if self.root is None:
            return
        if (self.root / "data" / "postmaster.pid").exists():
            # Best effort: the folder goes anyway, and a half-dead server must not block that.
            subprocess.run(
                [*self._as_user, *self._pg_ctl_stop()],
                capture_output=True,
                timeout=60,
                check=False,
            )
        shutil.rmtree(self.root, ignore_errors=True)
        self.root = None

    def restart(self, *, down_seconds: float = 0.5) -> None:
        """Stop the server abruptly (as a crash would), wait, and start it again."""
        assert self.root is not None, "restart() needs a started cluster"
        self._run(*self._pg_ctl_stop())
        time.sleep(down_seconds)
        self._pg_ctl_start()

    def _pg_ctl_stop(self) -> list[str]:
        # Immediate: no checkpoint, no waiting for clients, as a crash would stop it.
        assert self.root is not None
        data = str(self.root / "data")
        return [str(self.bindir / "pg_ctl"), "-D", data, "-m", "immediate", "-w", "stop"]

    def _createdb(self, name: str) -> None:
        self._run(
            str(self.bindir / "createdb"),
            "-h",
            "127.0.0.1",
            "-p",
            str(self.port),
            "-U",
            _SUPERUSER,
            name,
        )

    def create_database(self, prefix: str = "t") -> str:
        """A new empty database; returns its URL (one per test keeps tests apart)."""
        name = f"{prefix}_{uuid.uuid4().hex[:12]}"
        self._createdb(name)
        return self.database_url(name)

    def __enter__(self) -> LocalPostgresCluster:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

"""Starting the HTTP server for tests: the real `chaosflow serve` command in a subprocess."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
LISTENING = "chaosflow http listening on "


def start_server(
    db_url: str,
    ledger: Path,
    log_dir: Path,
    *,
    workers: int,
    max_seconds: float = 120,
    token: str | None = None,
    extra: tuple[str, ...] = (),
    env_extra: dict[str, str] | None = None,
) -> tuple[subprocess.Popen[bytes], str]:
    """Start the HTTP server in a subprocess; returns it and its base URL once it listens."""
    env = {**os.environ, "CHAOSFLOW_LEDGER": str(ledger), "PYTHONPATH": str(ROOT)}
    env.pop("CHAOSFLOW_TOKEN", None)
    env.update(env_extra or {})
    stdout, stderr = log_dir / "server.out", log_dir / "server.err"
    with stdout.open("wb") as out, stderr.open("wb") as err:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "chaosflow",
                "serve",
                "--db",
                db_url,
                "--workflow",
                "examples.order_saga:order_saga",
                "--port",
                "0",
                "--workers",
                str(workers),
                "--lease-seconds",
                "5",
                "--max-seconds",
                str(max_seconds),
                *(["--token", token] if token else []),
                *extra,
            ],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=err,
        )
    # Generous: on a loaded machine the imports alone can take tens of seconds.
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        for line in stdout.read_text().splitlines():
            if line.startswith(LISTENING):
                return process, line[len(LISTENING) :]
        if process.poll() is not None:
            break
        time.sleep(0.05)
    process.kill()
    process.wait(timeout=10)
    raise AssertionError(f"the server did not start:\n{stderr.read_text()[-3000:]}")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_service(name: str, ledger: Path, *extra: str) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    log = ledger.with_suffix(".log")
    with log.open("wb") as err:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "scenarios.http_service",
                "--name",
                name,
                "--port",
                str(port),
                "--ledger",
                str(ledger),
                *extra,
            ],
            cwd=ROOT,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
            stdout=subprocess.DEVNULL,
            stderr=err,
        )
    url = f"http://127.0.0.1:{port}"
    # Generous: a loaded machine takes tens of seconds for the imports alone (issue 16 saw
    # a service miss 20 s). The loop ends as soon as the service answers.
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"service {name} exited: {log.read_text()}")
        try:
            if httpx.get(f"{url}/health", timeout=5).status_code == 200:
                return process, url
        except httpx.TransportError:
            time.sleep(0.05)
    process.kill()
    process.wait(10)
    raise AssertionError(f"service {name} did not answer on {url}")


def subprocess_env(ledger: Path | None = None, **extra: str) -> dict[str, str]:
    """The environment for a chaosflow process of a test: the repository importable, a ledger."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), **extra}
    if ledger is not None:
        env["CHAOSFLOW_LEDGER"] = str(ledger)
    return env


def worker_command(db: str, workflow: str, *extra: str) -> list[str]:
    """`chaosflow worker` on ``db`` for ``workflow``, stopping once every run has ended."""
    return [
        sys.executable,
        "-m",
        "chaosflow",
        "worker",
        "--db",
        db,
        "--workflow",
        workflow,
        "--until-idle",
        *extra,
    ]

"""Starting the HTTP server for tests: the real `chaosflow serve` command in a subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LISTENING = "chaosflow http listening on "


def start_server(
    db_url: str, ledger: Path, log_dir: Path, *, workers: int, max_seconds: float = 120
) -> tuple[subprocess.Popen[bytes], str]:
    """Start the HTTP server in a subprocess; returns it and its base URL once it listens."""
    env = {**os.environ, "CHAOSFLOW_LEDGER": str(ledger), "PYTHONPATH": str(ROOT)}
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
            ],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=err,
        )
    deadline = time.monotonic() + 30
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

"""The set-up says which prerequisite is missing and how to get it, instead of a stack trace."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "check-prereqs"


def run(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", str(SCRIPT), *args],
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        timeout=30,
    )


def test_all_present_on_this_machine() -> None:
    result = run("go", "postgres")
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""


def test_missing_go_is_named_with_the_fix(tmp_path: Path) -> None:
    # A PATH with python3 but without go.
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("python3", "bash"):
        real = subprocess.run(
            ["bash", "-c", f"command -v {tool}"], capture_output=True, text=True
        ).stdout.strip()
        (bin_dir / tool).symlink_to(real)
    result = run("go", PATH=str(bin_dir))
    assert result.returncode == 1
    assert "Go (to build the Toxiproxy server) is missing" in result.stderr
    assert "apt-get install golang-go" in result.stderr


def test_missing_postgres_is_named_with_the_fix(tmp_path: Path) -> None:
    result = run("postgres", CHAOSFLOW_PG_BIN=str(tmp_path / "nowhere"), PATH="/usr/bin:/bin")
    assert result.returncode == 1
    assert "the PostgreSQL server (initdb, pg_ctl" in result.stderr
    assert "apt-get install postgresql-15" in result.stderr

"""The store's raw single-row commit rate: one thread, one INSERT and a COMMIT, in a loop.

The ceiling for anything durable that commits once per step on one connection: on SQLite in
WAL mode with synchronous=FULL (each commit fsyncs the log), on PostgreSQL with fsync on (each
commit flushes the WAL). ``python -m bench._raw SPEC`` prints commits/s.
"""

from __future__ import annotations

import sqlite3
from typing import Any

from ._common import Stopwatch, emit, spec_from_argv


def sqlite_rate(path: str, commits: int) -> float:
    """Commits per second on a WAL, synchronous=FULL SQLite file."""
    connection = sqlite3.connect(path, isolation_level=None)
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("PRAGMA synchronous=FULL")
    connection.execute("CREATE TABLE IF NOT EXISTS t (id INTEGER PRIMARY KEY, v TEXT)")
    watch = Stopwatch()
    for n in range(commits):
        connection.execute("BEGIN IMMEDIATE")
        connection.execute("INSERT INTO t (v) VALUES (?)", (str(n),))
        connection.execute("COMMIT")
    rate = commits / watch.elapsed()
    connection.close()
    return rate


def postgres_rate(url: str, commits: int) -> float:
    """Commits per second on PostgreSQL (fsync and synchronous_commit as the server has them)."""
    import psycopg

    conninfo = url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(conninfo, autocommit=True) as connection:
        connection.execute("CREATE TABLE IF NOT EXISTS t (id SERIAL PRIMARY KEY, v TEXT)")
        watch = Stopwatch()
        for n in range(commits):
            connection.execute("INSERT INTO t (v) VALUES (%s)", (str(n),))
        return commits / watch.elapsed()


def measure(spec: dict[str, Any]) -> dict[str, Any]:
    """The raw commit rate of the store ``spec['url']`` names."""
    url, commits = spec["url"], int(spec["runs"])
    if url.startswith("sqlite"):
        rate = sqlite_rate(url.removeprefix("sqlite:///"), commits)
    else:
        rate = postgres_rate(url, commits)
    return {"commits": commits, "commits_per_s": round(rate, 1)}


if __name__ == "__main__":
    emit(measure(spec_from_argv()))

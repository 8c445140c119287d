"""``chaosflow runs``: list the runs in a store, filtered and paged, newest first.

The same listing as ``GET /runs``: filters by state, workflow, correlation id and creation
time, ``--limit`` runs a page, and ``--cursor`` (printed after a full page) for the next one.
"""

from __future__ import annotations

import argparse
import json
import math
import shlex
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any


class RunsUsageError(Exception):
    """A bad ``runs`` argument: the CLI prints it with the usage and exits 2."""


def add_runs_parser(
    verbs: Any, store_args: Callable[[argparse.ArgumentParser], None]
) -> argparse.ArgumentParser:
    """Register the ``runs`` verb on the CLI's sub-parsers."""
    runs = verbs.add_parser(
        "runs",
        help="list runs, newest first, filtered and paged",
        description="List the store's runs, newest first. Times are seconds since the epoch "
        "or ISO 8601 (e.g. 2025-01-31T12:00:00Z; no zone means UTC).",
    )
    store_args(runs)
    # Checked by the listing itself (which names the states, and the old name 'compensated'),
    # so building the parser imports nothing heavy.
    runs.add_argument(
        "--state",
        help="only runs in this state: running, compensating, cancelling, completed, "
        "rolled_back, compensation_failed or cancelled",
    )
    runs.add_argument("--workflow", help="only runs of this workflow")
    runs.add_argument("--correlation-id", help="only runs with this correlation id")
    runs.add_argument("--since", metavar="TIME", help="created at or after TIME")
    runs.add_argument("--until", metavar="TIME", help="created before TIME")
    runs.add_argument("--limit", type=int, default=50, help="runs per page, 1..1000 (default 50)")
    runs.add_argument("--cursor", help="continue after the page that printed this cursor")
    runs.add_argument("--json", action="store_true", help="print the page as JSON (as GET /runs)")
    return runs


def parse_time(option: str, value: str | None) -> float | None:
    """Epoch seconds from ``value`` (a number or an ISO 8601 time); None when not given."""
    if value is None:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise RunsUsageError(
                f"{option}={value!r} is not a time: give seconds since the epoch (1735689600) "
                "or ISO 8601 (2025-01-01T00:00:00Z)."
            ) from None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        seconds = moment.timestamp()
    if not math.isfinite(seconds):
        raise RunsUsageError(f"{option}={value!r} is not a finite time.")
    return seconds


def run_runs(args: argparse.Namespace, orchestrator: Any) -> int:
    """List one page; prints a table (or JSON) and, after a full page, the next cursor."""
    try:
        page = orchestrator.list_runs(
            state=args.state,
            workflow=args.workflow,
            correlation_id=args.correlation_id,
            since=parse_time("--since", args.since),
            until=parse_time("--until", args.until),
            limit=args.limit,
            cursor=args.cursor,
        )
    except ValueError as error:
        raise RunsUsageError(str(error)) from None
    if args.json:
        print(json.dumps(page.to_dict(), indent=2))
        return 0
    print(f"{'CREATED (UTC)':<20}  {'STATE':<19}  {'WORKFLOW':<16}  {'RUN ID':<32}  FAILURE")
    for run in page.runs:
        created = datetime.fromtimestamp(run.created_at, UTC).strftime("%Y-%m-%dT%H:%M:%S")
        failure = run.failure or ""
        if len(failure) > 100:
            failure = failure[:97] + "..."
        print(f"{created:<20}  {run.state:<19}  {run.workflow:<16}  {run.run_id:<32}  {failure}")
    if not page.runs:
        print("(no runs match)", file=sys.stderr)
    if page.next_cursor is not None:
        print(f"next page: --cursor {shlex.quote(page.next_cursor)}", file=sys.stderr)
    return 0

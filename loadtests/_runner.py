"""Run the Locust user headless in a process of its own, and read back what it measured.

Importing locust gevent-patches the whole process, so this module never imports it: it starts
``python -m locust`` on :data:`LOCUSTFILE` as a child process with a hard timeout, and parses the
final request stats (Locust's ``_stats.csv`` format) that the locustfile writes when it quits.
"""

from __future__ import annotations

import csv
import math
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from ._errors import LoadTestError

LOCUSTFILE = Path(__file__).with_name("locustfile.py")
MAX_SECONDS = 3600.0  # a load test is bounded: longer soaks belong to a scheduled job
MAX_USERS = 10_000
STOP_TIMEOUT_SECONDS = 5  # how long Locust lets a user finish its task once time is up
GRACE_SECONDS = 60.0  # start-up and shutdown on top of the run time, before the child is killed
_EXIT_ON_ERROR = 3  # asked of Locust for "a request failed or a task raised", apart from crashes
_TOKEN_ENV = "CHAOSFLOW_HTTP_TOKEN"  # read by locustfile.py
_FINAL_STATS_ENV = "CHAOSFLOW_LOCUST_STATS"  # read by locustfile.py
_TAIL_CHARS = 3000


@dataclass(frozen=True)
class LoadProfile:
    """How hard and how long to load, checked when it is made.

    ``users`` are spawned at ``spawn_rate`` per second and run for ``seconds``, a whole number
    (Locust's run time counts whole seconds) of at most :data:`MAX_SECONDS`.
    """

    users: int
    spawn_rate: float
    seconds: float

    def __post_init__(self) -> None:
        if isinstance(self.users, bool) or not isinstance(self.users, int):
            raise ValueError(f"users={self.users!r} is not an int; pass a whole number of users.")
        if not 1 <= self.users <= MAX_USERS:
            raise ValueError(
                f"users={self.users!r} is out of bounds: a load test runs 1..{MAX_USERS} users. "
                "Spread more users over several Locust workers."
            )
        if not (math.isfinite(self.spawn_rate) and self.spawn_rate > 0):
            raise ValueError(
                f"spawn_rate={self.spawn_rate!r} must be a positive number of users per second."
            )
        if not (math.isfinite(self.seconds) and 1 <= self.seconds <= MAX_SECONDS):
            raise ValueError(
                f"seconds={self.seconds!r} is out of bounds: a load test runs 1..{MAX_SECONDS:g} "
                "seconds, so it always ends."
            )
        if self.seconds != int(self.seconds):
            raise ValueError(
                f"seconds={self.seconds!r} is not a whole number: Locust's --run-time counts "
                f"whole seconds. Pass {math.ceil(self.seconds)}."
            )


@dataclass(frozen=True)
class LoadResult:
    """What one Locust run measured, over every request (Locust's "Aggregated" row).

    Response times are in milliseconds; with no requests they are 0.
    """

    requests: int
    failures: int
    median_ms: float
    average_ms: float
    p95_ms: float
    p99_ms: float
    rps: float
    exit_code: int
    stats_csv: Path

    @classmethod
    def from_stats_csv(cls, path: Path, *, exit_code: int = 0) -> LoadResult:
        """Read the Aggregated row of a Locust ``_stats.csv`` file."""
        try:
            with path.open(newline="") as file:
                rows = list(csv.DictReader(file))
        except OSError as error:
            raise LoadTestError(
                f"Cannot read Locust's stats at path={str(path)!r} ({error}). The run left no "
                "stats: see locust.err beside it."
            ) from None
        aggregated = [row for row in rows if row.get("Name") == "Aggregated"]
        if not aggregated:
            raise LoadTestError(
                f"Locust's stats at path={str(path)!r} have no 'Aggregated' row (found "
                f"{len(rows)} rows). Is it a Locust _stats.csv file?"
            )
        row = aggregated[-1]
        try:
            return cls(
                requests=int(row["Request Count"]),
                failures=int(row["Failure Count"]),
                median_ms=_number(row["Median Response Time"]),
                average_ms=_number(row["Average Response Time"]),
                p95_ms=_number(row["95%"]),
                p99_ms=_number(row["99%"]),
                rps=_number(row["Requests/s"]),
                exit_code=exit_code,
                stats_csv=path,
            )
        except (KeyError, ValueError) as error:
            raise LoadTestError(
                f"Locust's stats at path={str(path)!r} are not in the expected format ({error!r})."
                " The installed Locust may have changed its CSV columns."
            ) from None


def _number(text: str | None) -> float:
    # Locust writes N/A for percentiles of an endpoint that saw no requests.
    return 0.0 if text in (None, "", "N/A") else float(text)


def _tail(text: str | bytes | None) -> str:
    if isinstance(text, bytes):
        text = text.decode(errors="replace")
    return (text or "")[-_TAIL_CHARS:]


def run_headless(
    host_url: str,
    profile: LoadProfile,
    out_dir: str | os.PathLike[str],
    *,
    token: str | None = None,
) -> LoadResult:
    """Load the chaosflow HTTP API at ``host_url`` with :data:`LOCUSTFILE`, headless.

    Locust runs as ``python -m locust`` in a child process, in ``out_dir``, which receives its
    CSV files (``locust_*.csv``), its output (``locust.out``, ``locust.err``) and the final
    stats (``locust_final_stats.csv``). ``token`` is sent as a bearer token. Failed requests are
    counted in the result, not raised; a run that crashes, times out, leaves no stats or whose
    tasks raise is a :class:`LoadTestError`.
    """
    if not host_url.startswith(("http://", "https://")):
        raise ValueError(
            f"host_url={host_url!r} is not an http(s) URL; pass e.g. 'http://127.0.0.1:8080'."
        )
    out = Path(out_dir).resolve()
    out.mkdir(parents=True, exist_ok=True)
    final_stats = out / "locust_final_stats.csv"
    final_stats.unlink(missing_ok=True)
    command = [
        sys.executable,
        "-m",
        "locust",
        "-f",
        str(LOCUSTFILE),
        "--headless",
        "-u",
        str(profile.users),
        "-r",
        str(profile.spawn_rate),
        "-t",
        f"{int(profile.seconds)}s",
        "--host",
        host_url,
        "--csv",
        str(out / "locust"),
        "--only-summary",
        "--stop-timeout",
        str(STOP_TIMEOUT_SECONDS),
        "--exit-code-on-error",
        str(_EXIT_ON_ERROR),
        "--loglevel",
        "WARNING",
    ]
    # Locust reads LOCUST_* variables as options: keep them out, so the profile is the run.
    env = {key: value for key, value in os.environ.items() if not key.startswith("LOCUST_")}
    env[_FINAL_STATS_ENV] = str(final_stats)
    env.pop(_TOKEN_ENV, None)
    if token is not None:
        env[_TOKEN_ENV] = token
    timeout = profile.seconds + STOP_TIMEOUT_SECONDS + GRACE_SECONDS
    try:
        # cwd=out: Locust would otherwise pick up a locust.conf from wherever we were started.
        done = subprocess.run(
            command, cwd=out, env=env, capture_output=True, text=True, timeout=timeout
        )
    except subprocess.TimeoutExpired as expired:
        raise LoadTestError(
            f"Locust did not finish within timeout={timeout:g}s for seconds={profile.seconds:g}; "
            f"it was killed. Is host_url={host_url!r} answering? stderr tail:\n"
            f"{_tail(expired.stderr)}"
        ) from None
    (out / "locust.out").write_text(done.stdout)
    (out / "locust.err").write_text(done.stderr)
    if done.returncode not in (0, _EXIT_ON_ERROR) or not final_stats.exists():
        raise LoadTestError(
            f"Locust exited with exit_code={done.returncode!r} and "
            f"{'final stats' if final_stats.exists() else 'no final stats'}: it crashed or "
            f"could not start. stderr tail:\n{_tail(done.stderr)}"
        )
    result = LoadResult.from_stats_csv(final_stats, exit_code=done.returncode)
    if done.returncode == _EXIT_ON_ERROR and result.failures == 0:
        raise LoadTestError(
            f"Locust's tasks raised exceptions (exit_code={done.returncode!r}, no failed "
            f"requests): the locustfile is broken. See {str(out / 'locust_exceptions.csv')!r}; "
            f"stderr tail:\n{_tail(done.stderr)}"
        )
    return result

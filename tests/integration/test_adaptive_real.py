"""Adaptive concurrency with real threads against a real service behind the real Toxiproxy: a
latency toxic lowers the dependency's limit to one call at a time, and once the latency falls the
limit and the calls in flight rise again. SQLite and PostgreSQL.
"""

from __future__ import annotations

import itertools
import json
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from faults import ToxiproxyClient
from orchestrator import Concurrency, HookEvent, HookPoint, Orchestrator, RunState, Step, Workflow
from scenarios import EffectLedger, History, HttpService, check
from tests._servers import subprocess_env, worker_command
from tests.integration._workflows import paced_calls
from tests.integration.test_fallback_routes import ServiceThread

ROOT = Path(__file__).resolve().parents[2]

pytestmark = [pytest.mark.slow]

THREADS = 6
LIMIT = Concurrency("api", max=THREADS, latency_target=1.0)
SLOW_MS, QUICK_MS = 2000, 150


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'store.db'}"
    return str(request.getfixturevalue("fresh_postgres_url"))


class Calls:
    """When each call of the step started and ended, from the hooks around the action (the
    test's own record, not the limiter's)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.starts: list[float] = []
        self.ends: list[float] = []
        self.in_flight = self.most = 0

    def __call__(self, event: HookEvent) -> None:
        if event.step != "call" or event.point not in (
            HookPoint.BEFORE_ACTION,
            HookPoint.AFTER_ACTION,
        ):
            return
        with self.lock:
            if event.point == HookPoint.BEFORE_ACTION:
                self.starts.append(event.at)
                self.in_flight += 1
                self.most = max(self.most, self.in_flight)
            else:
                self.ends.append(event.at)
                self.in_flight -= 1

    def reset_most(self) -> None:
        with self.lock:
            self.most = self.in_flight


@pytest.fixture
def api(toxiproxy: ToxiproxyClient, tmp_path: Path) -> Iterator[dict[str, Any]]:
    ledger = EffectLedger(tmp_path / "effects.db")
    with ServiceThread("api", ledger) as service:
        port = service.url.rsplit(":", 1)[1]
        proxy = toxiproxy.create_proxy("api", f"127.0.0.1:{port}")
        client = HttpService("api", f"http://127.0.0.1:{proxy.listen_port}", timeout=30.0)
        yield {"proxy": proxy, "client": client, "ledger": ledger}


def wait_until_done(orch: Orchestrator, run_ids: list[str], seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while any(not orch.status(r).terminal for r in run_ids):
        assert time.monotonic() < deadline, "the runs did not end in time"
        time.sleep(0.1)


@pytest.mark.toxiproxy
def test_latency_lowers_the_limit_to_one_call_and_the_recovery_raises_it(
    api: dict[str, Any], store_url: str
) -> None:
    client = api["client"]
    wf = Workflow("calls", [Step("call", lambda ctx: client.apply(ctx), concurrency=LIMIT)])
    orch = Orchestrator(store_url)
    calls = Calls()
    orch.hooks.add_listener(calls)
    stop = threading.Event()
    threads = [
        threading.Thread(
            target=lambda: orch.worker(poll_interval=0.02).run(max_seconds=300, stop_event=stop),
            name=f"adaptive-worker-{n}",
        )
        for n in range(THREADS)
    ]
    try:
        orch.register(wf)
        slow = api["proxy"].add_toxic("latency", latency=SLOW_MS, name="slow")
        first = [orch.submit(wf, {"n": n}, run_id=f"slow-{n}") for n in range(10)]
        for thread in threads:
            thread.start()
        wait_until_done(orch, first, 240)
        health = orch.health()["limits"]["api"]
        assert health["lowest_limit"] == 1 and health["decreases"] >= 3, health
        # Once the first slow answers were in, the calls went one at a time: never two
        # started within a second (each takes two), though steps were waiting for a slot.
        settled = sorted(calls.ends)[THREADS - 1]
        later = sorted(s for s in calls.starts if s > settled)
        assert len(later) >= 3
        assert all(b - a >= 1.0 for a, b in itertools.pairwise(later)), later
        waiting = [e for e in orch.events() if e.kind == "step_deferred"]
        assert waiting and {e.detail["concurrency"] for e in waiting} == {"api"}

        api["proxy"].remove_toxic(slow)
        api["proxy"].add_toxic("latency", latency=QUICK_MS, name="quick")
        calls.reset_most()
        second = [orch.submit(wf, {"n": n}, run_id=f"quick-{n}") for n in range(40)]
        wait_until_done(orch, second, 240)
        recovered = orch.health()["limits"]["api"]
        # Good answers added slots back: four calls in flight needs a limit of at least three
        # (a slot freed and taken between two hooks counts one more for an instant).
        assert recovered["increases"] >= 2 and recovered["limit"] >= 3, recovered
        assert calls.most >= 4, calls.most
        run_ids = first + second
        assert {orch.status(r).state for r in run_ids} == {RunState.COMPLETED}
        attempts = {e.attempt for e in orch.events() if e.kind == "step_completed"}
        assert attempts == {1}  # waiting for a slot spent no attempt
        effects = [e for e in api["ledger"].effects() if e.run_id in run_ids]
        judgement = check(History.observe(orch, effects, run_ids))
        assert judgement.verdict == "valid", judgement.anomalies
    finally:
        stop.set()
        for thread in threads:
            if thread.is_alive():
                thread.join(60)
        orch.store.dispose()


def test_a_worker_prints_its_health_as_a_json_line_per_interval(
    store_url: str, tmp_path: Path
) -> None:
    orch = Orchestrator(store_url)
    try:
        run_ids = [orch.submit(paced_calls, {"n": n}) for n in range(6)]
        target = "tests.integration._workflows:paced_calls"
        done = subprocess.run(
            worker_command(store_url, target, "--health-interval", "0.2", "--max-seconds", "120"),
            cwd=ROOT,
            env=subprocess_env(tmp_path / "effects.db"),
            capture_output=True,
            text=True,
            timeout=180,
        )
        assert done.returncode == 0, done.stderr[-2000:]
        lines = [json.loads(line) for line in done.stdout.splitlines()]
        health = [line for line in lines if line.get("kind") == "health"]
        # Six quarter-second calls, one at a time: well over a second, a line every 0.2 s.
        assert len(health) >= 3, lines
        assert lines[-1]["steps_handled"] == 6  # the worker's own last line follows them
        assert all(h["status"] == "ok" and h["workers"]["count"] == 1 for h in health)
        assert [h["at"] for h in health] == sorted(h["at"] for h in health)
        last = health[-1]
        assert last["workers"]["steps_handled"] == 6 and last["workers"]["busy"] == 0
        paced = last["limits"]["paced-api"]
        # Every call was slower than the 0.1 s target: the limit fell to its floor.
        assert paced["samples"] == 6 and paced["limit"] == 1 and paced["in_flight"] == 0
        assert paced["recent_latency_ms"] >= 250
        assert {orch.status(r).state for r in run_ids} == {RunState.COMPLETED}
    finally:
        orch.store.dispose()

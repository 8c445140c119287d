"""A failing canary version across two real worker processes and a separate submitter: the
workers' transactions stop it, and every later submission (from this process, through the store
alone) goes to the stable version. SQLite and PostgreSQL.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from orchestrator import Orchestrator, RunState, canary_bucket
from scenarios import EffectLedger, History, check
from tests._servers import subprocess_env, worker_command
from tests.integration._workflows import orders_canary

ROOT = Path(__file__).resolve().parents[2]
pytestmark = [pytest.mark.slow]
TARGET = "tests.integration._workflows:orders_canary"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'store.db'}"
    return str(request.getfixturevalue("fresh_postgres_url"))


def work(store_url: str, env: dict[str, str], count: int) -> None:
    """Run ``count`` real worker processes until every run has ended."""
    workers = [
        subprocess.Popen(
            worker_command(store_url, TARGET, "--max-seconds", "240"),
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for _ in range(count)
    ]
    assert [w.wait(300) for w in workers] == [0] * count


def test_a_failing_canary_stops_for_every_submitter_and_the_stable_runs_complete(
    store_url: str, tmp_path: Path
) -> None:
    ledger_path = tmp_path / "effects.db"
    env = subprocess_env(ledger_path)
    orch = Orchestrator(store_url)
    try:
        orch.register(orders_canary)
        first = [orch.submit("orders", {"order": n}, run_id=f"first-{n}") for n in range(20)]
        work(store_url, env, 2)
        on_canary = [r for r in first if orch.status(r).version == 2]
        assert on_canary == [r for r in first if canary_bucket(r) < 0.5]
        # A canary run fails at its charge and gives its stock back; a stable one completes.
        for run_id in first:
            status = orch.status(run_id)
            expected = RunState.ROLLED_BACK if run_id in on_canary else RunState.COMPLETED
            assert status.state == expected, status.to_dict()
        stopped = [e for e in orch.events() if e.kind == "canary_stopped"]
        assert len(stopped) == 1 and stopped[0].detail["failures"] == 3, stopped
        assert stopped[0].worker_id and stopped[0].worker_id != "client"  # a worker's commit

        # This process never judged the canary: it learns of the stop from the store alone.
        second = [orch.submit("orders", {"order": n}, run_id=f"second-{n}") for n in range(20)]
        assert sum(canary_bucket(r) < 0.5 for r in second) >= 5  # the share would have sent some
        assert {orch.status(r).version for r in second} == {1}
        work(store_url, env, 1)
        assert {orch.status(r).state for r in second} == {RunState.COMPLETED}

        run_ids = first + second
        effects = [e for e in EffectLedger(ledger_path).effects() if e.run_id in run_ids]
        charged = sorted(e.run_id for e in effects if e.service == "payments" and e.kind == "apply")
        assert charged == sorted(r for r in run_ids if r not in on_canary)
        judgement = check(History.observe(orch, effects, run_ids))
        assert judgement.verdict == "valid", judgement.anomalies
    finally:
        orch.store.dispose()

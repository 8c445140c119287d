"""A real worker process started while PostgreSQL is unreachable (behind a Toxiproxy proxy that
is down) waits for it, and does the work once the link comes up, instead of exiting 2."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from examples.order_saga import order_saga
from faults import ToxiproxyClient
from orchestrator import Orchestrator, RunState
from scenarios import EffectLedger
from tests._servers import subprocess_env, worker_command

ROOT = Path(__file__).resolve().parents[2]

pytestmark = [pytest.mark.postgres, pytest.mark.toxiproxy, pytest.mark.slow]


def test_a_worker_started_before_its_store_waits_for_it(
    fresh_postgres_url: str, toxiproxy: ToxiproxyClient, tmp_path: Path
) -> None:
    ledger = EffectLedger(tmp_path / "effects.db")
    direct = make_url(fresh_postgres_url)
    orch = Orchestrator(fresh_postgres_url)
    orch.register(order_saga)
    orders = [{"sku": f"s{i}", "qty": 1, "amount": i + 1, "address": "here"} for i in range(3)]
    run_ids = [orch.submit("order", o, run_id=f"late-{i}") for i, o in enumerate(orders)]
    proxy = toxiproxy.create_proxy("store", f"127.0.0.1:{direct.port}")
    proxied = direct.set(port=proxy.listen_port).render_as_string(hide_password=False)
    proxy.disable()  # the database is "not up yet"
    err_path = tmp_path / "worker.err"
    with err_path.open("w") as err_file:
        worker = subprocess.Popen(
            worker_command(proxied, "examples.order_saga:order_saga", "--max-seconds", "300"),
            env=subprocess_env(ledger.path),
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=err_file,
            text=True,
        )
    try:
        # Bring the link up once the worker has met the outage twice (0.5 s, then 1 s); the
        # bound is generous, for a loaded machine where the worker's imports take long.
        deadline = time.monotonic() + 180
        while err_path.read_text().count("store unreachable") < 2 and time.monotonic() < deadline:
            assert worker.poll() is None, f"the worker gave up: {err_path.read_text()}"
            time.sleep(0.1)
        proxy.enable()
        out, _ = worker.communicate(timeout=300)
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait(timeout=10)
    err = err_path.read_text()
    assert worker.returncode == 0, err
    assert err.count("store unreachable, retrying in") >= 2, err
    assert json.loads(out.splitlines()[-1])["steps_handled"] == 9  # three steps of three runs
    assert [orch.status(r).state for r in run_ids] == [RunState.COMPLETED] * 3
    orch.store.dispose()

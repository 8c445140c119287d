"""The orchestrator on PostgreSQL behind the real Toxiproxy: latency and resets lose nothing."""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from examples.order_saga import order_saga
from faults import ToxiproxyClient
from orchestrator import Orchestrator, RunState
from scenarios import LEDGER_ENV, EffectLedger, History, check

pytestmark = [pytest.mark.postgres, pytest.mark.toxiproxy, pytest.mark.slow]


def test_workers_keep_going_through_latency_and_resets_on_the_database_link(
    fresh_postgres_url: str,
    toxiproxy: ToxiproxyClient,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING)
    ledger = EffectLedger(tmp_path / "effects.db")
    monkeypatch.setenv(LEDGER_ENV, str(ledger.path))
    direct = make_url(fresh_postgres_url)
    proxy = toxiproxy.create_proxy("postgres", f"127.0.0.1:{direct.port}")
    proxied = direct.set(port=proxy.listen_port).render_as_string(hide_password=False)
    proxy.verify_in_path()

    orch = Orchestrator(proxied)
    orch.register(order_saga)
    orders = [{"sku": f"s{i}", "qty": 1, "amount": i + 1, "address": "here"} for i in range(40)]
    run_ids = [orch.submit("order", o, run_id=f"tox-{i}") for i, o in enumerate(orders)]

    stop = threading.Event()
    errors: list[BaseException] = []

    def work() -> None:
        try:
            orch.worker(lease_seconds=3, poll_interval=0.01).run(
                max_seconds=120, stop_event=stop, stop_when=lambda: orch.unfinished_runs() == 0
            )
        except BaseException as error:  # recorded, then re-raised by the test
            errors.append(error)

    worker = threading.Thread(target=work)
    worker.start()
    with proxy.toxic("latency", latency=40, jitter=20):
        time.sleep(1.5)
    with proxy.toxic("reset_peer", timeout=0):
        # Held until the worker has met a reset (bounded): a loaded machine may be slow to get
        # the worker's next statement onto the wire, and a fixed second could miss it.
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not any(
            "store unavailable" in r.getMessage() for r in caplog.records
        ):
            time.sleep(0.05)
        time.sleep(0.5)  # a little longer: the worker must wait out more than one refusal
    worker.join(150)
    stop.set()
    assert not worker.is_alive()
    assert not errors, errors

    # The resets did reach the worker, which waited them out.
    assert any("store unavailable" in r.getMessage() for r in caplog.records)
    states = [orch.status(r).state for r in run_ids]
    assert states == [RunState.COMPLETED] * len(run_ids)
    history = History.observe(orch, ledger.effects(), run_ids)
    assert check(history).verdict == "valid"
    orch.store.dispose()

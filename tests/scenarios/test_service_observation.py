"""Seeing what a service applied, without a real run: the recording client, effect probes
mapped row by row, the merged order by the services' own times, and the aimed-fault handshake
between a worker and the runner (files in the run's folder)."""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from pathlib import Path

import pytest

from faults import Fault, Trigger
from scenarios import EffectLedger, EffectRecorder, HarnessError, LedgerError, ServiceSpec
from scenarios.real import AimedFault, AimedMailbox, ObservedEffects, ServiceProcess, read_probe


def test_the_recording_client_writes_the_runs_ledger_and_is_off_outside_a_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CHAOSFLOW_LEDGER", raising=False)
    monkeypatch.delenv("CHAOSFLOW_SERVICE_NAME", raising=False)
    off = EffectRecorder()
    assert not off.enabled and off.applied("k", run_id="r", step="s") is None
    ledger = tmp_path / "effects.db"
    monkeypatch.setenv("CHAOSFLOW_LEDGER", str(ledger))
    monkeypatch.setenv("CHAOSFLOW_SERVICE_NAME", "card")
    recorder = EffectRecorder()
    assert recorder.enabled
    first = recorder.applied("k1", run_id="r1", step="charge", amount=5)
    second = recorder.undone("k1", run_id="r1", step="charge")
    assert first is not None and second is not None and first < second
    effects = EffectLedger(ledger).effects()
    assert [(e.service, e.kind, e.key, e.run_id, e.step, e.payload) for e in effects] == [
        ("card", "apply", "k1", "r1", "charge", {"amount": 5}),
        ("card", "compensate", "k1", "r1", "charge", {}),
    ]
    monkeypatch.delenv("CHAOSFLOW_SERVICE_NAME")
    with pytest.raises(LedgerError, match="no service name: pass service='payment'"):
        EffectRecorder()
    with pytest.raises(LedgerError, match="service='pay-ment' must be an identifier"):
        EffectRecorder("pay-ment")


def service_with_probe(tmp_path: Path, probe: dict[str, object]) -> ServiceProcess:
    spec = ServiceSpec.model_validate({"name": "card", "command": ["x"], "probe": probe})
    return ServiceProcess(spec, tmp_path / "effects.db", tmp_path, tmp_path / "services")


def test_an_sql_probe_maps_rows_to_effects_by_column_name(tmp_path: Path) -> None:
    service = service_with_probe(
        tmp_path,
        {
            "sql": "SELECT op, ref, order_ref, stage, stamp, extra FROM book",
            "url": "sqlite:///{folder}/card.db",
            "columns": {
                "kind": "op",
                "key": "ref",
                "run_id": "order_ref",
                "step": "stage",
                "at": "stamp",
                "payload": "extra",
            },
        },
    )
    with sqlite3.connect(service.folder / "card.db") as conn:
        conn.execute("CREATE TABLE book (op, ref, order_ref, stage, stamp, extra)")
        conn.execute(
            "INSERT INTO book VALUES ('apply', 'k', 'r', 'charge', 100.5, '{\"amount\": 3}')"
        )
        conn.execute(
            "INSERT INTO book VALUES ('compensate', 'k', 'r', 'charge', "
            "'1970-01-01T00:01:40+00:00', NULL)"
        )
    effects = read_probe(service, read_at=999.0)
    assert [(e["kind"], e["run_id"], e["step"], e["at"], e["payload"]) for e in effects] == [
        ("apply", "r", "charge", 100.5, {"amount": 3}),
        ("compensate", "r", "charge", 100.0, {}),  # an ISO time is read as one
    ]


@pytest.mark.parametrize(
    ("sql", "message"),
    [
        ("SELECT 'k' AS key, 'r' AS run_id", r"row 1: no column\(s\) \['step'\].*probe.columns"),
        (
            "SELECT 'undo' AS kind, 'k' AS key, 'r' AS run_id, 's' AS step",
            r"kind='undo' must be 'apply' or 'compensate'",
        ),
        ("SELECT 'k' AS key, 'r' AS run_id, 's' AS step, 'noon' AS at", r"at='noon' is neither"),
        ("SELECT * FROM nowhere", r"services.card.probe: the query sql='SELECT \* FROM nowhere'"),
    ],
)
def test_a_probe_that_cannot_be_mapped_is_a_harness_error_naming_it(
    tmp_path: Path, sql: str, message: str
) -> None:
    service = service_with_probe(tmp_path, {"sql": sql, "url": "sqlite:///{folder}/card.db"})
    with pytest.raises(HarnessError, match=message):
        read_probe(service, read_at=1.0)


def test_probed_effects_join_the_ledgers_in_the_services_own_time_order(tmp_path: Path) -> None:
    ledger = EffectLedger(tmp_path / "effects.db")
    recorder = EffectRecorder("stock", tmp_path / "effects.db")
    recorder.applied("k", run_id="r", step="reserve")
    (recorded,) = ledger.effects()
    probed = [
        {
            "service": "card",
            "kind": "apply",
            "key": "c",
            "run_id": "r",
            "step": "charge",
            "at": recorded.at + 5,
            "pid": 0,
            "payload": {},
        },
        {
            "service": "card",
            "kind": "compensate",
            "key": "c",
            "run_id": "r",
            "step": "charge",
            "at": recorded.at - 5,
            "pid": 0,
            "payload": {},
        },
    ]
    merged = ObservedEffects(ledger, probed).effects()
    assert [(e.seq, e.service, e.kind) for e in merged] == [
        (1, "card", "compensate"),
        (2, "stock", "apply"),
        (3, "card", "apply"),
    ]
    assert ObservedEffects(ledger, []).effects() == [recorded]  # no probe: the ledger as is


def test_the_worker_that_reaches_the_point_waits_until_the_runner_says_done(
    tmp_path: Path,
) -> None:
    fault = Fault("partition", Trigger(point="after_action", step="charge", nth=2), "card")
    mailbox = AimedMailbox(tmp_path)
    listeners = [
        AimedFault(3, fault, tmp_path, seed=0, slot=f"worker-{n}", runs=["r0", "r1"])
        for n in range(2)
    ]

    class Event:
        def __init__(self, run_id: str, step: str, point: str = "after_action") -> None:
            self.run_id, self.step, self.point, self.at, self.worker_id = (
                run_id,
                step,
                point,
                0.0,
                "w",
            )

    listeners[0](Event("r0", "ship"))  # another step: not counted
    listeners[0](Event("r0", "charge"))  # the 1st match: nothing to do yet
    assert mailbox.requests() == []
    returned = threading.Event()
    worker = threading.Thread(target=lambda: (listeners[1](Event("r1", "charge")), returned.set()))
    worker.start()
    deadline = time.monotonic() + 10
    requests: list[dict[str, object]] = []
    while not requests and time.monotonic() < deadline:
        requests = mailbox.requests()
        time.sleep(0.01)
    (request,) = requests  # the 2nd match, counted across both listeners (both processes)
    assert (request["index"], request["slot"], request["where"]) == (
        3,
        "worker-1",
        "r1/charge@after_action",
    )
    assert not returned.wait(0.3)  # it waits for the runner...
    mailbox.done(3)
    assert returned.wait(10)  # ...and goes on once the fault is in force
    worker.join(10)
    listeners[0](Event("r0", "charge"))  # the 3rd match strikes nothing
    assert mailbox.requests() == []
    assert json.loads((tmp_path / "aimed" / "3.count").read_text()) == 3

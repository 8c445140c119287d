"""A card service of "the user's own", not written with chaosflow's helpers: plain stdlib HTTP.

``python -m examples.card_service --port P --db card.db --keys memory|durable``

- ``POST /charge {key, run_id, step, amount}``: charges once per idempotency key. With
  ``--keys memory`` the keys it has seen live in a dict (lost on a restart: the bug the real
  tests catch); with ``--keys durable`` in the database, in the charge's own transaction.
  With ``--apply-delay S`` it answers 202 at once and applies the charge S seconds later (an
  outbox), which is how an effect lands after its undo.
- ``POST /refund {key, run_id, step}``: refunds the charge of (run, step), if there is one.
- ``GET /effects``: every charge and refund as JSON (an HTTP effect probe reads it).
- ``GET /health``.

Every charge and refund is a row of its own ``ledger`` table (an SQL effect probe reads it).
With ``--record`` it also reports each to chaosflow through :class:`scenarios.EffectRecorder`,
the small recording client (and then needs no probe).

The real-mode tests and ``examples/scenarios/card_restart_real.yaml`` start it.
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import threading
import time
from collections.abc import Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

_SCHEMA = """
CREATE TABLE IF NOT EXISTS ledger (
    id INTEGER PRIMARY KEY AUTOINCREMENT, kind TEXT, key TEXT, run_id TEXT, step TEXT,
    amount INTEGER, at REAL
);
CREATE TABLE IF NOT EXISTS seen_keys (key TEXT PRIMARY KEY)
"""


class CardService:
    def __init__(self, db: str, keys: str, apply_delay: float, record: bool) -> None:
        self.db, self.durable, self.apply_delay = db, keys == "durable", apply_delay
        self.memory_keys: set[str] = set()
        self.lock = threading.Lock()
        with self._connect() as conn:
            conn.executescript(_SCHEMA)
        self.recorder: Any = None
        if record:
            from scenarios import EffectRecorder

            self.recorder = EffectRecorder()

    def _connect(self) -> sqlite3.Connection:
        return sqlite3.connect(self.db, timeout=30, isolation_level=None)

    def charge(self, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        key = str(body["key"])
        with self.lock, self._connect() as conn:
            conn.execute("BEGIN IMMEDIATE")
            seen = key in self.memory_keys or (
                self.durable
                and conn.execute("SELECT 1 FROM seen_keys WHERE key=?", (key,)).fetchone()
            )
            if seen:
                conn.execute("COMMIT")
                return 200, {"charged": False, "replayed": True}
            if self.durable:
                conn.execute("INSERT INTO seen_keys (key) VALUES (?)", (key,))
            else:
                self.memory_keys.add(key)
            if self.apply_delay:
                conn.execute("COMMIT")
                threading.Timer(self.apply_delay, self._apply, (body,)).start()
                return 202, {"charged": "later"}
            self._insert(conn, "apply", body)
            conn.execute("COMMIT")
        return 200, {"charged": True}

    def _apply(self, body: dict[str, Any]) -> None:
        with self.lock, self._connect() as conn:
            conn.execute("BEGIN IMMEDIATE")
            self._insert(conn, "apply", body)
            conn.execute("COMMIT")

    def refund(self, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        with self.lock, self._connect() as conn:
            conn.execute("BEGIN IMMEDIATE")
            found = conn.execute(
                "SELECT 1 FROM ledger WHERE kind='apply' AND run_id=? AND step=?",
                (body["run_id"], body["step"]),
            ).fetchone()
            if found:
                self._insert(conn, "compensate", body)
            conn.execute("COMMIT")
        return 200, {"refunded": bool(found)}

    def _insert(self, conn: sqlite3.Connection, kind: str, body: dict[str, Any]) -> None:
        key, run_id, step = str(body["key"]), str(body["run_id"]), str(body["step"])
        amount = int(body.get("amount", 0))
        conn.execute(
            "INSERT INTO ledger (kind, key, run_id, step, amount, at) VALUES (?, ?, ?, ?, ?, ?)",
            (kind, key, run_id, step, amount, time.time()),
        )
        if self.recorder is not None:
            record = self.recorder.applied if kind == "apply" else self.recorder.undone
            record(key, run_id=run_id, step=step, amount=amount)

    def effects(self) -> list[dict[str, Any]]:
        with self._connect() as conn:
            rows = conn.execute("SELECT kind, key, run_id, step, amount, at FROM ledger").fetchall()
        names = ("kind", "key", "run_id", "step", "amount", "at")
        return [dict(zip(names, row, strict=True)) for row in rows]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--db", required=True)
    parser.add_argument("--keys", choices=("memory", "durable"), default="durable")
    parser.add_argument("--apply-delay", type=float, default=0.0)
    parser.add_argument("--record", action="store_true")
    args = parser.parse_args(argv)
    card = CardService(args.db, args.keys, args.apply_delay, args.record)

    class Handler(BaseHTTPRequestHandler):
        def _answer(self, status: int, body: Any) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            if self.path == "/health":
                self._answer(200, {"status": "ok"})
            elif self.path == "/effects":
                self._answer(200, card.effects())
            else:
                self._answer(404, {"error": self.path})

        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            if self.path == "/charge":
                self._answer(*card.charge(body))
            elif self.path == "/refund":
                self._answer(*card.refund(body))
            else:
                self._answer(404, {"error": self.path})

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    print(f"card service ({args.keys} keys) on port {args.port}", flush=True)
    server.serve_forever()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

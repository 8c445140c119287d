"""Run one example service: ``python -m scenarios.http_service --name payment --port 8101``."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

import uvicorn

from .effects import EffectLedger, create_service_app

LOOPBACK = ("127.0.0.1", "::1", "localhost")


def main(argv: Sequence[str] | None = None) -> int:
    """Serve one example service on loopback until stopped (or for --max-seconds)."""
    parser = argparse.ArgumentParser(prog="python -m scenarios.http_service")
    parser.add_argument("--name", required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--host", default="127.0.0.1", choices=LOOPBACK)
    parser.add_argument("--ledger", required=True, help="the service's own effect ledger file")
    parser.add_argument(
        "--ignore-keys",
        action="store_true",
        help="apply every call, ignoring idempotency keys (a careless service)",
    )
    args = parser.parse_args(argv)
    app = create_service_app(args.name, EffectLedger(args.ledger), honour_keys=not args.ignore_keys)
    print(f"service {args.name} listening on http://{args.host}:{args.port}", flush=True)
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Schemathesis against the HTTP API's own OpenAPI document, every check, on a bounded budget.

The checks are schemathesis' whole set (no 5xx, every status declared, bodies and headers as
declared, invalid data refused and valid data accepted, wrong methods answered 405 with the
right ``Allow``, auth enforced where the document says so, ...). Three ways in:

- in process (``from_asgi``), each operation fuzzed, without a token and with one;
- the stateful machine, which follows the document's links from a submission to its run;
- the real ``st run --checks all`` against a ``chaosflow serve`` subprocess (marked slow), which
  also runs the coverage phase and prints the case count.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import CHECKS, load_all_checks

from examples.order_saga import order_saga
from orchestrator import Orchestrator, create_app
from tests._servers import start_server

load_all_checks()
ALL_CHECKS = list(CHECKS.get_all())
TOKEN = "fuzz-s3cret"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
ROOT = Path(__file__).resolve().parents[2]

_folder = Path(tempfile.mkdtemp(prefix="chaosflow-fuzz-"))
os.environ.setdefault("CHAOSFLOW_LEDGER", str(_folder / "effects.db"))
_orchestrator = Orchestrator(f"sqlite:///{_folder / 'store.db'}")
_orchestrator.register(order_saga)
open_schema = schemathesis.openapi.from_asgi("/openapi.json", create_app(_orchestrator))
guarded_schema = schemathesis.openapi.from_asgi(
    "/openapi.json", create_app(_orchestrator, token=TOKEN)
)
# As `st run -H` does: the header is part of every case (so no negative case loses it), and the
# checks know it (ignored_auth sends the case without it and wants a 401).
guarded_schema.config.update(headers=AUTH)
BUDGET = settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))


def test_every_check_is_run() -> None:
    # A schemathesis upgrade that renames or drops a check must not silently shrink the set.
    names = {check.__name__ for check in ALL_CHECKS}
    assert {
        "not_a_server_error",
        "status_code_conformance",
        "content_type_conformance",
        "response_headers_conformance",
        "response_schema_conformance",
        "negative_data_rejection",
        "positive_data_acceptance",
        "missing_required_header",
        "unsupported_method",
        "allow_header_conformance",
        "ignored_auth",
    } <= names


@open_schema.parametrize()
@BUDGET
def test_every_check_holds_without_a_token(case: schemathesis.Case) -> None:
    case.call_and_validate(checks=ALL_CHECKS)


@guarded_schema.parametrize()
@BUDGET
def test_every_check_holds_with_a_token(case: schemathesis.Case) -> None:
    response = case.call_and_validate(checks=ALL_CHECKS)
    # The token did reach the server: a run of 401s would pass every check and test nothing.
    # (A negative case may leave the header out on purpose; then 401 is the right answer.)
    if case.meta is not None and case.meta.generation.mode.is_positive:
        assert response.status_code != 401, response.text


class LinkedCalls(open_schema.as_state_machine()):  # type: ignore[misc]
    """Submit, then follow the document's links to the run's status, events and cancel."""

    def validate_response(  # type: ignore[override]
        self, response: schemathesis.Response, case: schemathesis.Case, **kwargs: object
    ) -> None:
        kwargs.pop("additional_checks", None)
        case.validate_response(response, checks=ALL_CHECKS, transport_kwargs=kwargs or None)


TestLinkedCallsHoldEveryCheck = LinkedCalls.TestCase
TestLinkedCallsHoldEveryCheck.settings = settings(
    max_examples=15,
    stateful_step_count=6,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)


@pytest.mark.slow
@pytest.mark.parametrize("token", [None, TOKEN], ids=["no-token", "token"])
def test_st_run_with_all_checks_finds_nothing(tmp_path: Path, token: str | None) -> None:
    process, url = start_server(
        f"sqlite:///{tmp_path / 'store.db'}",
        tmp_path / "effects.db",
        tmp_path,
        workers=1,
        max_seconds=300,
        token=token,
    )
    command = [
        str(Path(sys.executable).with_name("st")),
        "run",
        f"{url}/openapi.json",
        "--checks",
        "all",
        "--max-examples",
        "40",
        "--seed",
        "12",
        "--no-color",
    ]
    if token:
        command += ["-H", f"Authorization: Bearer {token}"]
    try:
        # From a folder of its own: st keeps a cache of past crashes where it runs.
        result = subprocess.run(command, capture_output=True, text=True, timeout=280, cwd=tmp_path)
    finally:
        process.terminate()
        process.wait(timeout=30)
    report = result.stdout + result.stderr
    assert result.returncode == 0, report[-6000:]
    counts = re.search(r"(\d+) generated, (\d+) passed", report)
    assert counts is not None, report[-3000:]
    generated, passed = int(counts.group(1)), int(counts.group(2))
    assert generated == passed and generated > 300, report[-3000:]
    # Zero failures and zero errors of any kind (warnings, such as cancel's random ids finding
    # no run, are advice about test data, not findings).
    assert "Failures:" not in report and "Errors:" not in report, report[-3000:]
    # The server's own request log: the fuzzing reached the routes (with the token, too).
    statuses = [
        json.loads(line)["status"]
        for line in (tmp_path / "server.err").read_text().splitlines()
        if line.startswith('{"') and '"http_request"' in line
    ]
    assert len(statuses) >= generated
    assert sum(200 <= status < 300 for status in statuses) > 100
    assert 500 not in statuses

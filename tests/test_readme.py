"""Every code block of the README, run or checked: Python blocks executed, the tutorial's files
written and run as a user would, YAML compared with the files it quotes and validated, every
``chaosflow`` command line parsed by the real parser, ``make`` targets found in the Makefile,
and the demo's output compared with a real run. A block the test does not know fails it."""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import re
import shlex
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from chaosflow.cli import _parser, main

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")
BLOCKS = re.findall(r"^```(\w*)\n(.*?)^```$", README, flags=re.MULTILINE | re.DOTALL)
ORDER = {"sku": "book-1", "qty": 1, "amount": 1200, "address": "1 Main St"}


def _block(first_line: str) -> str:
    found = [body for _, body in BLOCKS if body.startswith(first_line)]
    assert len(found) == 1, f"README has {len(found)} blocks starting {first_line!r}"
    return found[0]


def _env(*paths: Path) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": os.pathsep.join(str(p) for p in (*paths, ROOT))}


def _parses(command: str) -> None:
    words = shlex.split(command, comments=True)
    assert words[0] == "chaosflow", command
    args = _parser().parse_args([w for w in words[1:] if w != "\\"])
    assert args.verb == words[1]


def _subparsers() -> dict[str, argparse.ArgumentParser]:
    parser = _parser()
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(action.choices)


def check_make_targets(body: str) -> None:
    makefile = (ROOT / "Makefile").read_text()
    for line in body.splitlines():
        target = line.split("#")[0].split()[1]
        assert re.search(rf"^{target}:", makefile, flags=re.MULTILINE), target


def check_demo_output(body: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(["demo", "--out", "reports-out"]) == 0  # what `make demo` runs
    assert out.getvalue() == body


def run_first_workflow(body: str) -> None:
    from scenarios import Scenario, run_in_process

    namespace: dict[str, object] = {}
    exec(compile(body, "README first block", "exec"), namespace)
    outcome = run_in_process(Scenario("readme-order", namespace["order"], [ORDER]))  # type: ignore[arg-type]
    assert outcome.verdict == "valid", outcome.judgement


def write_tutorial(tmp_path: Path) -> Path:
    shop = tmp_path / "shop"
    shop.mkdir(exist_ok=True)
    (shop / "__init__.py").write_text("")
    (shop / "workflows.py").write_text(_block("# shop/workflows.py"))
    (shop / "checkout.yaml").write_text(_block("# shop/checkout.yaml"))
    return shop


def run_tutorial_scenario(_body: str, tmp_path: Path) -> None:
    write_tutorial(tmp_path)
    for argv in (["validate", "shop/checkout.yaml"], ["run", "shop/checkout.yaml"]):
        done = subprocess.run(
            [sys.executable, "-m", "chaosflow.cli", *argv],
            cwd=tmp_path,
            env=_env(tmp_path),
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert done.returncode == 0, done.stdout + done.stderr
    assert "verdict: valid" in done.stdout


def run_tutorial_pytest(body: str, tmp_path: Path) -> None:
    shop = write_tutorial(tmp_path)
    (shop / "test_checkout.py").write_text(body)
    (shop / "chaos_checkout.yaml").write_text(_block("# shop/checkout.yaml"))
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "shop", "-q", "-p", "no:cacheprovider", "-n", "0"],
        cwd=tmp_path,
        env=_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    # The chaos_*.yaml file is collected as one item per crash point, as the transcript shows.
    assert re.search(r"\d+ passed", done.stdout), done.stdout


def check_pytest_transcript(body: str, tmp_path: Path) -> None:
    shop = write_tutorial(tmp_path)
    (shop / "chaos_checkout.yaml").write_text(_block("# shop/checkout.yaml"))
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "shop/chaos_checkout.yaml", "--collect-only", "-q"],
        cwd=tmp_path,
        env=_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=600,
    )
    for item in re.findall(r"(shop/chaos_checkout\.yaml::\S+)", body):
        assert item in done.stdout, done.stdout[-3000:]


def check_abridged(body: str, path: str) -> None:
    quoted = yaml.safe_load(body)
    actual = yaml.safe_load((ROOT / path).read_text())
    for key, value in quoted.items():
        if key == "store":  # shown as the optional form; the file leaves the store out
            continue
        assert actual[key] == value, key


def validate_quoted_profile(body: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    check_abridged(body, "examples/load/order_saga_db_latency.yaml")
    monkeypatch.setenv("CHAOSFLOW_REAL_DB_URL", "postgresql+psycopg://me@127.0.0.1:5432/empty")
    assert main(["validate", str(ROOT / "examples/load/order_saga_db_latency.yaml")]) == 0


def run_generation(body: str) -> None:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(body, "README generation block", "exec"), {})
    printed = yaml.safe_load(out.getvalue())
    shown = yaml.safe_load(_block("scenario: generated"))
    assert set(printed) == set(shown)
    assert printed["verdict"] == shown["verdict"] == "invalid"
    assert {a["kind"] for a in printed["anomalies"]} == {"missing_compensation"}


def run_definite_errors(body: str) -> None:
    class Bank:
        def charge(self, key: str, amount: int) -> bool:
            return amount < 100

        def refund(self, key: str) -> None:
            return None

    namespace: dict[str, object] = {"bank": Bank()}
    exec(compile(body, "README definite errors block", "exec"), namespace)
    step = namespace["charge_card"]
    assert step.name == "charge_card"  # type: ignore[attr-defined]


def parse_commands(body: str) -> None:
    for line in body.splitlines():
        line = line.removeprefix("$ ")
        if line.startswith("chaosflow "):
            _parses(line)


def check_own_service(body: str) -> None:
    # The file as quoted; the quote also spells out two defaults (env, start_timeout), which
    # must be the defaults the loader applies.
    path = "examples/scenarios/card_restart_real.yaml"
    quoted = yaml.safe_load(body)
    card = quoted["services"]["card"]
    assert card.pop("env") == {} and card.pop("start_timeout") == 30
    check_abridged(yaml.safe_dump(quoted), path)
    from scenarios import load_scenario_file

    (spec,) = load_scenario_file(ROOT / path).real.services
    assert spec.env == {} and spec.start_timeout == 30


def run_pattern_block(body: str, tmp_path: Path) -> None:
    # The orchestration patterns' snippets, run against stand-ins for the steps they name: each
    # must define what it shows without error (the definitions are validated when made).
    from examples.order_saga import order_saga
    from orchestrator import Orchestrator, Stall, Step, Workflow

    def noop(ctx: object) -> None:
        return None

    names = (
        "pack",
        "carrier_a",
        "cancel_a",
        "carrier_b",
        "cancel_b",
        "invoice",
        "charge",
        "refund",
    )
    namespace: dict[str, object] = {name: noop for name in names}
    booking = Workflow("booking", [Step("book", noop)])
    orch = Orchestrator(f"sqlite:///{tmp_path / 'patterns.db'}")
    orch.register(order_saga)
    orch.register(booking)
    namespace.update(orch=orch, order_saga=order_saga, booking=booking, Stall=Stall, Step=Step)
    orders_v1 = Workflow("orders", [Step("charge", noop)])
    namespace.update(orders_v1=orders_v1, new_steps=[Step("charge", noop)])
    exec(compile(body, "README pattern block", "exec"), namespace)
    if "priority=10" in body:
        (run,) = orch.runs()
        assert orch.status(run.run_id).priority == 10
    if "concurrency=" in body:
        # The limit shows in the health once a worker of this process has used it.
        step = namespace["Step"]("charge", noop, concurrency=namespace["PAYMENT_API"])  # type: ignore[operator]
        orch.submit(Workflow("paced", [step]), {})
        orch.run_until_quiet(max_seconds=30)
        limits = orch.health()["limits"]
        assert limits["payment-api"]["limit"] == 16 and limits["payment-api"]["samples"] == 1
    if "canary=" in body:
        from orchestrator import canary_bucket

        (run,) = orch.runs()
        assert run.version == (2 if canary_bucket(run.run_id) < 0.1 else 1)
        assert ("orders", 1) in orch.registry and ("orders", 2) in orch.registry


def check_quoted_code(body: str, path: str) -> None:
    # A snippet quoted from an example module: every line of it is in the module.
    source = (ROOT / path).read_text()
    for line in body.splitlines():
        code = line.split("  #")[0].strip()
        if code and not code.startswith("def "):
            assert code in source, code


def check_run_transcript(body: str, capsys: pytest.CaptureFixture[str]) -> None:
    # The transcript of `chaosflow run FILE`: its exit, its case line, its anomaly and verdict.
    command = body.splitlines()[0].removeprefix("$ ")
    code = main(command.split()[1:])
    out = capsys.readouterr().out
    assert code == 1, out
    for line in body.splitlines()[1:]:
        head = line.split("...")[0].split(" events=")[0].strip()
        assert head in out, (head, out[-2000:])


def check_synopsis(body: str) -> None:
    verbs = _subparsers()
    for line in body.splitlines():
        words = line.split()
        assert words[1] in verbs, line
        known = {o for action in verbs[words[1]]._actions for o in action.option_strings}
        for flag in re.findall(r"(--[a-z-]+)", line):
            assert flag in known, (line, flag)


Check = Callable[..., None]
CHECKS: dict[str, tuple[str, Check]] = {
    "make demo": ("sh", lambda b, **_: check_make_targets(b)),
    "scenario 'order-saga-demo'": (
        "",
        lambda b, tmp_path, monkeypatch, **_: check_demo_output(b, tmp_path, monkeypatch),
    ),
    "from orchestrator import RetryPolicy, Step, Workflow": (
        "python",
        lambda b, **_: run_first_workflow(b),
    ),
    "# shop/workflows.py": ("python", lambda b, tmp_path, **_: run_tutorial_scenario(b, tmp_path)),
    "# shop/checkout.yaml": ("yaml", lambda b, tmp_path, **_: run_tutorial_scenario(b, tmp_path)),
    "from faults import Fault, FaultPlan": (
        "python",
        lambda b, tmp_path, **_: run_tutorial_pytest(b, tmp_path),
    ),
    "$ pytest shop/ -n 2 -v": ("", lambda b, tmp_path, **_: check_pytest_transcript(b, tmp_path)),
    # The output of a broken variant of the tutorial (a transcript): its commands and its token.
    "case crash (raise) at after_action": (
        "",
        lambda b, **_: parse_commands(b.replace("    replay: ", "")),
    ),
    "def refund_by_receipt(ctx):": (
        "python",
        lambda b, **_: check_quoted_code(b, "examples/saga_bugs.py"),
    ),
    "# examples/scenarios/late_answer.yaml (abridged)": (
        "yaml",
        lambda b, **_: check_abridged(b, "examples/scenarios/late_answer.yaml"),
    ),
    "$ chaosflow run examples/scenarios/late_answer.yaml": (
        "",
        lambda b, capsys, **_: check_run_transcript(b, capsys),
    ),
    "# examples/scenarios/carrier_stays_down.yaml (abridged)": (
        "yaml",
        lambda b, **_: check_abridged(b, "examples/scenarios/carrier_stays_down.yaml"),
    ),
    "$ chaosflow run examples/scenarios/carrier_stays_down.yaml": (
        "",
        lambda b, capsys, **_: check_run_transcript(b, capsys),
    ),
    # Real mode with a service of your own: the file as quoted, and the command of its run
    # (run for real by tests/integration/test_own_services.py).
    "workflow: examples.card_order:card_order": (
        "yaml",
        lambda b, **_: check_own_service(b),
    ),
    "$ chaosflow run examples/scenarios/card_restart_real.yaml": (
        "console",
        lambda b, **_: parse_commands(b.splitlines()[0]),
    ),
    "from orchestrator import Fallback, Step, Workflow": (
        "python",
        lambda b, tmp_path, **_: run_pattern_block(b, tmp_path),
    ),
    "from orchestrator import RateLimit, Step": (
        "python",
        lambda b, tmp_path, **_: run_pattern_block(b, tmp_path),
    ),
    "orch.submit(order_saga": ("python", lambda b, tmp_path, **_: run_pattern_block(b, tmp_path)),
    'Step("ship", subworkflow=booking': (
        "python",
        lambda b, tmp_path, **_: run_pattern_block(b, tmp_path),
    ),
    "from orchestrator import Concurrency, Step": (
        "python",
        lambda b, tmp_path, **_: run_pattern_block(b, tmp_path),
    ),
    "from orchestrator import Canary, Workflow": (
        "python",
        lambda b, tmp_path, **_: run_pattern_block(b, tmp_path),
    ),
    "# examples/scenarios/order_saga_real.yaml (abridged)": (
        "yaml",
        lambda b, **_: check_abridged(b, "examples/scenarios/order_saga_real.yaml"),
    ),
    "from hypothesis import strategies as st": ("python", lambda b, **_: run_generation(b)),
    "scenario: generated": (
        "yaml",
        lambda b, **_: run_generation(_block("from hypothesis import strategies as st")),
    ),
    "from orchestrator import BusinessError, Step": (
        "python",
        lambda b, **_: run_definite_errors(b),
    ),
    "$ chaosflow status": ("", lambda b, **_: parse_commands(b)),
    "chaosflow run shop/checkout.yaml --report out/": ("sh", lambda b, **_: parse_commands(b)),
    "# examples/load/order_saga_db_latency.yaml": (
        "yaml",
        lambda b, tmp_path, monkeypatch, **_: validate_quoted_profile(b, tmp_path, monkeypatch),
    ),
    "$ export CHAOSFLOW_REAL_DB_URL": ("", lambda b, **_: parse_commands(b)),
    "chaosflow demo [--out DIR]": ("", lambda b, **_: check_synopsis(b)),
}


def test_every_block_is_known() -> None:
    for language, body in BLOCKS:
        matches = [key for key in CHECKS if body.startswith(key)]
        assert len(matches) == 1, f"a README block this test does not know: {body[:80]!r}"
        assert CHECKS[matches[0]][0] == language, (matches[0], language)
    assert len(BLOCKS) == len(CHECKS)


@pytest.mark.slow
@pytest.mark.parametrize("key", list(CHECKS), ids=lambda k: k[:40])
def test_each_block_runs(
    key: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    body = next(body for _, body in BLOCKS if body.startswith(key))
    CHECKS[key][1](body, tmp_path=tmp_path, monkeypatch=monkeypatch, capsys=capsys)

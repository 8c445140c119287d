"""The table of bad inputs: scenario files, fault plans, load profiles, replay tokens, command-line
options. Each is refused with exit 2 and a message naming the field (``expect``, a regex).

Every example of issue 16 is here (the tracebacks, the silently accepted, the resources, the code
execution), with more of our own. ``test_bad_inputs.py`` walks it through the CLI.
"""

from __future__ import annotations

import base64
import json
import zlib
from dataclasses import dataclass, field
from typing import Any

import yaml

ORDER = {"sku": "book-1", "qty": 1, "amount": 1200, "address": "1 Main St"}
GOOD_SCENARIO: dict[str, Any] = {
    "name": "bad-input",
    "workflow": "examples.order_saga:order_saga",
    "inputs": [ORDER],
    "invariants": ["duplicate_effect", "stuck_workflow"],
}
GOOD_PROFILE: dict[str, Any] = {
    "name": "bad-profile",
    "workflow": "examples.order_saga:order_saga",
    "inputs": [ORDER],
    "shape": "steady",
    "users": 2,
    "duration_s": 5,
}


@dataclass(frozen=True)
class BadInput:
    """One bad input: the files it writes, the command, and what the message must name."""

    id: str
    argv: tuple[str, ...]
    expect: str
    files: dict[str, str] = field(default_factory=dict)


def _yaml(data: Any) -> str:
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True)


def scenario(id: str, expect: str, *, text: str | None = None, **changes: Any) -> list[BadInput]:
    """A scenario file (the good one with ``changes``, or ``text``), through validate and run."""
    body = text if text is not None else _yaml({**GOOD_SCENARIO, **changes})
    return [
        BadInput(f"scenario-{id}-validate", ("validate", "s.yaml"), expect, {"s.yaml": body}),
        BadInput(f"scenario-{id}-run", ("run", "s.yaml"), expect, {"s.yaml": body}),
    ]


def fault(id: str, expect: str, *faults: Any, text: str | None = None) -> list[BadInput]:
    """A fault plan, both in a scenario file's faults: and as a plan file of its own."""
    plan = text if text is not None else _yaml({"seed": 1, "faults": list(faults)})
    in_file = scenario(f"fault-{id}", expect, faults=list(faults)) if text is None else []
    plan_file = BadInput(
        f"plan-{id}", ("validate", "--kind", "plan", "p.yaml"), expect, {"p.yaml": plan}
    )
    return [*in_file, plan_file]


def profile(id: str, expect: str, **changes: Any) -> list[BadInput]:
    """A load profile with ``changes`` (checked by validate; load refuses it the same way)."""
    body = _yaml({**GOOD_PROFILE, **changes})
    return [
        BadInput(f"profile-{id}", ("validate", "l.yaml"), expect, {"l.yaml": body}),
        BadInput(
            f"profile-{id}-load", ("load", "l.yaml", "--report", "out"), expect, {"l.yaml": body}
        ),
    ]


def token(id: str, expect: str, body: Any, *, raw: bytes | None = None) -> BadInput:
    """A replay token around ``body`` (JSON), or around ``raw`` bytes."""
    data = raw if raw is not None else json.dumps(body).encode()
    text = "cf1." + base64.urlsafe_b64encode(data).decode().rstrip("=")
    return BadInput(f"token-{id}", ("replay", text), expect, {"s.yaml": _yaml(GOOD_SCENARIO)})


def packed_token(id: str, expect: str, data: bytes) -> BadInput:
    """A ``cf2.`` token: ``data`` deflated."""
    text = "cf2." + base64.urlsafe_b64encode(zlib.compress(data, 9)).decode().rstrip("=")
    return BadInput(f"token-{id}", ("replay", text), expect, {"s.yaml": _yaml(GOOD_SCENARIO)})


def option(id: str, expect: str, *argv: str) -> BadInput:
    """A command line."""
    return BadInput(f"option-{id}", tuple(argv), expect)


def _nested(depth: int) -> str:
    return "[" * depth + "]" * depth


def _laughs() -> str:
    lines = ["a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    for prev, name in zip("abcdefgh", "bcdefghi", strict=True):
        lines.append(f"{name}: &{name} [" + ", ".join([f"*{prev}"] * 9) + "]")
    return "\n".join(lines) + "\n"


GOOD_TOKEN = {
    "v": 1,
    "scenario": "bad-input",
    "source": "s.yaml",
    "seed": 0,
    "plan": {"faults": []},
}
DB = ("--db", "sqlite:///store.db")
WF = ("--workflow", "examples.order_saga:order_saga")

TABLE: list[BadInput] = [
    # -- the issue's tracebacks --------------------------------------------------------------
    *scenario("seed-1e400", r"seed='1e400': must be a valid integer", seed="1e400"),
    *scenario("seed-abc", r"seed='abc': must be a valid integer", seed="abc"),
    *scenario(
        "seed-float-inf",
        r"seed=inf: must be a valid integer",
        text=_yaml(GOOD_SCENARIO) + "seed: 1.0e+400\n",
    ),
    *scenario(
        "budget-lots",
        r"budget.examples='lots': must be a valid integer",
        budget={"examples": "lots"},
    ),
    *scenario(
        "budget-foo",
        r"budget.foo=1 is not a field here.*allowed: examples, seconds",
        budget={"foo": 1},
    ),
    *scenario("budget-list", r"budget=\[1, 2\]: must be a valid dictionary", budget=[1, 2]),
    *scenario("workers-many", r"workers='many': must be a valid integer", workers="many"),
    *scenario("routes-nope", r"routes='nope': must be a valid dictionary", routes="nope"),
    *scenario("lease-negative", r"lease_seconds=-5: must be greater than 0", lease_seconds=-5),
    *scenario(
        "inputs-3000-deep",
        r"nested more than 64 levels deep",
        text=_yaml(GOOD_SCENARIO).replace("inputs:\n", "inputs_unused:\n")
        + "inputs: [{a: "
        + _nested(3000)
        + "}]\n",
    ),
    *fault(
        "trigger-at-soon",
        r"faults\[0\].trigger.at='soon': must be a valid number",
        {"kind": "partition", "target": "payment", "trigger": {"at": "soon"}},
    ),
    *fault(
        "duration-string",
        r"faults\[0\].duration='10'",
        {"kind": "partition", "target": "payment", "duration": "10"},
    ),
    *fault(
        "probability-string",
        r"faults\[0\].trigger.probability='0.5': must be a valid number",
        {"kind": "partition", "target": "payment", "trigger": {"at": 1, "probability": "0.5"}},
    ),
    # -- the issue's silently accepted ---------------------------------------------------------
    *scenario(
        "budget-examples-negative",
        r"budget.examples=-5: must be greater than or equal to 1",
        budget={"examples": -5},
    ),
    *fault(
        "nth-true",
        r"faults\[0\].trigger.nth=True: must be a valid integer",
        {"kind": "crash", "trigger": {"point": "after_action", "nth": True}},
    ),
    *fault(
        "at-nan",
        r"faults\[0\].trigger.at=nan: must be a finite number",
        {"kind": "partition", "target": "payment", "trigger": {"at": float("nan")}},
    ),
    *fault(
        "at-inf",
        r"faults\[0\].trigger.at=inf: must be a finite number",
        {"kind": "partition", "target": "payment", "trigger": {"at": float("inf")}},
    ),
    *fault(
        "duration-nan",
        r"faults\[0\].duration=nan: must be a finite number",
        {"kind": "partition", "target": "payment", "duration": float("nan")},
    ),
    *scenario(
        "heal-after-nan", r"heal_after=nan: must be a finite number", heal_after=float("nan")
    ),
    *scenario(
        "progress-bound-inf",
        r"progress_bound=inf: must be a finite number",
        progress_bound=float("inf"),
    ),
    *fault(
        "hang-1e9",
        r"faults\[0\].params.seconds=1000000000(\.0)?: must be less than or equal to 3600",
        {"kind": "step", "target": "ship", "params": {"fault": "hang", "seconds": 10**9}},
    ),
    *fault(
        "latency-1e9",
        r"faults\[0\].params.seconds=1000000000(\.0)?: must be less than or equal to 3600",
        {"kind": "step", "params": {"fault": "latency", "seconds": 1e9}},
    ),
    *scenario(
        "input-nan",
        r"inputs\[0\].*amount=nan is not a finite number",
        inputs=[{**ORDER, "amount": float("nan")}],
    ),
    *scenario(
        "input-1e999",
        r"inputs\[0\].*amount=inf is not a finite number",
        text=_yaml(GOOD_SCENARIO).replace("amount: 1200", "amount: 1.0e+999"),
    ),
    # -- resources -------------------------------------------------------------------------------
    *scenario(
        "billion-laughs",
        r"expands to more than 200000 values once its aliases",
        text=_yaml(GOOD_SCENARIO) + _laughs(),
    ),
    *scenario(
        "workers-10e12", r"workers=1000000000000: must be less than or equal to 64", workers=10**12
    ),
    *scenario(
        "file-over-1mib",
        r"more than the limit of 1048576",
        text=_yaml(GOOD_SCENARIO) + "# " + "x" * (1024 * 1024) + "\n",
    ),
    *scenario(
        "inputs-10001", r"inputs=.*: List should have at most 10000 items", inputs=[{}] * 10_001
    ),
    *scenario(
        "budget-seconds-inf",
        r"budget.seconds=inf: must be a finite number",
        budget={"seconds": float("inf")},
    ),
    *scenario(
        "alias-cycle",
        r"alias that refers to a collection containing it",
        text=_yaml(GOOD_SCENARIO) + "routes: &r {x: *r}\n",
    ),
    # -- code execution --------------------------------------------------------------------------
    *scenario(
        "workflow-os-abort",
        r"workflow='os:abort'.*names a builtin_function_or_method, not a Workflow; it is not "
        r"called",
        workflow="os:abort",
    ),
    *scenario(
        "workflow-sys-exit",
        r"workflow='sys:exit'.*not a Workflow; it is not called",
        workflow="sys:exit",
    ),
    *scenario(
        "workflow-path",
        r"workflow='../evil:x': must match the pattern .*\(module:attribute of a Workflow",
        workflow="../evil:x",
    ),
    *scenario(
        "workflow-function",
        r"workflow='os.path:join'.*names a function, not a Workflow",
        workflow="os.path:join",
    ),
    *scenario(
        "python-tag",
        r"uses the tag 'tag:yaml.org,2002:python/object/apply:os.system'",
        text=_yaml(GOOD_SCENARIO) + "routes: !!python/object/apply:os.system [echo pwned]\n",
    ),
    option(
        "worker-os-abort",
        r"'os:abort' names a builtin_function_or_method, not a Workflow",
        "worker",
        *DB,
        "--workflow",
        "os:abort",
        "--until-idle",
    ),
    option(
        "submit-sys-exit",
        r"'sys:exit' names a builtin_function_or_method, not a Workflow",
        "submit",
        *DB,
        "--workflow",
        "sys:exit",
    ),
    option(
        "serve-os-abort",
        r"'os:abort' names a builtin_function_or_method",
        "serve",
        *DB,
        "--workflow",
        "os:abort",
        "--port",
        "0",
        "--max-seconds",
        "1",
    ),
    token(
        "source-outside",
        r"names the scenario file '/etc/passwd.yaml', which is not under the folder",
        {**GOOD_TOKEN, "source": "/etc/passwd.yaml"},
    ),
    token(
        "source-dotdot",
        r"names the scenario file '../s.yaml', which is not under the folder",
        {**GOOD_TOKEN, "source": "../s.yaml"},
    ),
    token(
        "source-not-yaml",
        r"names 'notes.txt', which is not a scenario file",
        {**GOOD_TOKEN, "source": "notes.txt"},
    ),
    token(
        "source-missing",
        r"names the scenario file 'gone.yaml', which does not exist",
        {**GOOD_TOKEN, "source": "gone.yaml"},
    ),
    # -- replay tokens ---------------------------------------------------------------------------
    token("json-list", r"Replay token holds a list, not the mapping", [1, 2]),
    token(
        "plan-null",
        r"Replay token: plan=None: must be a valid dictionary",
        {**GOOD_TOKEN, "plan": None},
    ),
    token("not-json", r"Replay token is damaged", None, raw=b"\xff\xfe not json"),
    token(
        "nan-seed",
        r"Replay token is damaged.*NaN is not a JSON number",
        None,
        raw=b'{"v": 1, "seed": NaN}',
    ),
    token("version-2", r"Replay token: v=2: must be 1", {**GOOD_TOKEN, "v": 2}),
    token(
        "seed-string",
        r"Replay token: seed='0': must be a valid integer",
        {**GOOD_TOKEN, "seed": "0"},
    ),
    token(
        "workers-10e12",
        r"Replay token: generated.options.workers=1000000000000: must be less than or equal to 64",
        {
            **GOOD_TOKEN,
            "source": None,
            "generated": {"inputs": [{}], "options": {"workers": 10**12}},
        },
    ),
    token(
        "plan-bad-fault",
        r"Replay token plan: faults\[0\].kind='meteor' is not known",
        {**GOOD_TOKEN, "plan": {"faults": [{"kind": "meteor"}]}},
    ),
    token("extra-field", r"Replay token: run=1 is not a field here", {**GOOD_TOKEN, "run": 1}),
    option("token-prefix", r"does not start with .cf2\.. \(or .cf1\..\)", "replay", "cf9.abc"),
    option("token-not-deflate", r"Replay token is damaged", "replay", "cf2.abc"),
    # Forty kilobytes that inflate to 64 MB: refused at the bound, never inflated whole.
    packed_token("inflation-bomb", r"inflates past 4194304 bytes", b" " * (64 * 1024 * 1024)),
    packed_token(
        "file-too-long",
        r"Replay token: file=.* longer than|file.*at most",
        json.dumps({**GOOD_TOKEN, "file": "x" * (1024 * 1024 + 1)}).encode(),
    ),
    # -- more scenario-file keys ----------------------------------------------------------------
    *scenario("mode-fast", r"mode='fast': must be 'sim' or 'real'", mode="fast"),
    *scenario(
        "explore-all",
        r"explore='everything': must be 'crash_points', 'crash_pairs' or 'search'",
        explore="everything",
    ),
    *scenario(
        "invariants-empty", r"invariants=\[\]: List should have at least 1 item", invariants=[]
    ),
    *scenario(
        "invariants-unknown",
        r"invariants=\['no_bugs'\]: must name known checkers",
        invariants=["no_bugs"],
    ),
    *scenario("inputs-not-list", r"inputs='many': must be a valid list", inputs="many"),
    *scenario("inputs-list-of-numbers", r"inputs\[0\]=1: must be a valid dictionary", inputs=[1]),
    *scenario(
        "input-int-key",
        r"inputs\[0\] key 1=1: must be a valid string",
        text=_yaml(GOOD_SCENARIO).replace("amount: 1200", "1: 1200"),
    ),
    *scenario(
        "workflow-missing",
        r"workflow is missing; add it \(module:attribute",
        workflow=None,
        text=_yaml({k: v for k, v in GOOD_SCENARIO.items() if k != "workflow"}),
    ),
    *scenario("workflow-number", r"workflow=5: must be a valid string", workflow=5),
    *scenario("workflow-unimportable", r"Cannot import module 'nowhere'", workflow="nowhere:wf"),
    *scenario(
        "name-too-long", r"name='xxx.*: String should have at most 64 characters", name="x" * 200
    ),
    *scenario("services-number", r"services=5", services=5),
    *scenario(
        "services-bad-option",
        r"services.payment.colour=1 is not a field here",
        services={"payment": {"colour": 1}},
    ),
    *scenario("store-no-url", r"store.url is missing", store={}),
    *scenario(
        "duplicate-key",
        r"has the key 'seed' twice",
        text=_yaml(GOOD_SCENARIO) + "seed: 1\nseed: 2\n",
    ),
    *scenario(
        "binary-tag",
        r"uses the tag 'tag:yaml.org,2002:binary'",
        text=_yaml(GOOD_SCENARIO) + "seed: !!binary aGVsbG8=\n",
    ),
    *scenario("top-level-list", r"must hold a mapping of keys", text="- a\n- b\n"),
    *scenario("not-yaml", r"is not valid YAML", text="name: [unclosed\n"),
    *scenario("unknown-key", r"colour='blue' is not a field here.*allowed: budget", colour="blue"),
    *scenario(
        "routes-list-of-numbers",
        r"routes.payment\[0\]=1: must be a valid string",
        routes={"payment": [1]},
    ),
    # -- more faults -----------------------------------------------------------------------------
    *fault(
        "kind-meteor", r"faults\[0\].kind='meteor' is not known; use one of", {"kind": "meteor"}
    ),
    *fault("kind-missing", r"faults\[0\].kind is missing", {"target": "payment"}),
    *fault(
        "toxic-attribute-huge",
        r"params.attributes.latency=10000000000: must be less than or equal to 3600000",
        {
            "kind": "network",
            "target": "payment",
            "params": {"toxic": "latency", "attributes": {"latency": 10**10}},
        },
    ),
    *fault(
        "nth-zero",
        r"trigger.nth=0: must be greater than or equal to 1",
        {"kind": "crash", "trigger": {"point": "after_action", "nth": 0}},
    ),
    *fault(
        "clock-seconds-inf",
        r"params.seconds=inf: must be a finite number",
        {
            "kind": "clock",
            "target": "worker-0",
            "params": {"action": "skew", "seconds": float("inf")},
        },
    ),
    *fault(
        "store-probability-2",
        r"params.probability=2: must be less than or equal to 1",
        {"kind": "store", "params": {"action": "commit_fail", "probability": 2}},
    ),
    *fault(
        "params-list",
        r"faults\[0\].params=\[1\]: must be a valid dictionary",
        {"kind": "step", "params": [1]},
    ),
    # (a plan file alone cannot know the steps: only a scenario file checks them)
    *fault(
        "step-unknown",
        r"trigger.step='chrage' is not a step of the workflow",
        {"kind": "crash", "trigger": {"point": "after_action", "step": "chrage"}},
    )[:2],
    *fault(
        "faults-1001",
        r"faults=.*List should have at most 1000 items",
        *([{"kind": "partition", "target": "payment"}] * 1001),
    ),
    *fault("plan-not-mapping", r"must be a mapping with 'faults' and 'seed'", text="- 1\n- 2\n"),
    *fault(
        "plan-seed-negative",
        r"seed=-1: must be greater than or equal to 0",
        text="seed: -1\nfaults: []\n",
    ),
    # -- load profiles ---------------------------------------------------------------------------
    *profile("users-zero", r"users=0: must be greater than or equal to 1", users=0),
    *profile("duration-nan", r"duration_s=nan: must be a finite number", duration_s=float("nan")),
    *profile("shape-zigzag", r"shape='zigzag'", shape="zigzag"),
    *profile(
        "workflow-os-abort",
        r"workflow='os:abort' does not import.*not a Workflow",
        workflow="os:abort",
    ),
    *profile(
        "input-nan",
        r"inputs\[0\]=.*amount=nan is not a finite number",
        inputs=[{"amount": float("nan")}],
    ),
    # -- command-line options --------------------------------------------------------------------
    option(
        "crash-at-abc",
        r"--crash-at='after_action:ship:abc': NTH='abc' must be a whole number",
        "worker",
        *DB,
        *WF,
        "--crash-at",
        "after_action:ship:abc",
    ),
    option(
        "crash-at-point",
        r"--crash-at point='lunch' is not a crash point",
        "worker",
        *DB,
        *WF,
        "--crash-at",
        "lunch",
    ),
    option(
        "lease-seconds-negative",
        r"--lease-seconds=-1(\.0)?: must be greater than 0",
        "worker",
        *DB,
        *WF,
        "--lease-seconds",
        "-1",
    ),
    option(
        "lease-seconds-nan",
        r"--lease-seconds=nan: must be a finite number",
        "worker",
        *DB,
        *WF,
        "--lease-seconds",
        "nan",
    ),
    option(
        "store-wait-inf",
        r"--store-wait=inf: must be a finite number",
        "worker",
        *DB,
        *WF,
        "--store-wait",
        "inf",
    ),
    option(
        "health-interval-zero",
        r"--health-interval=0(\.0)?: must be greater than 0",
        "worker",
        *DB,
        *WF,
        "--health-interval",
        "0",
    ),
    option(
        "health-interval-nan",
        r"--health-interval=nan: must be a finite number",
        "worker",
        *DB,
        *WF,
        "--health-interval",
        "nan",
    ),
    option(
        "max-seconds-zero",
        r"--max-seconds=0(\.0)?: must be greater than 0",
        "worker",
        *DB,
        *WF,
        "--max-seconds",
        "0",
    ),
    option(
        "worker-concurrency-zero",
        r"--concurrency=0: must be greater than or equal to 1",
        "worker",
        *DB,
        *WF,
        "--concurrency",
        "0",
    ),
    option(
        "worker-concurrency-100",
        r"--concurrency=100: must be less than or equal to 64",
        "worker",
        *DB,
        *WF,
        "--concurrency",
        "100",
    ),
    option(
        "worker-concurrency-abc",
        r"--concurrency: invalid int value: 'abc'",
        "worker",
        *DB,
        *WF,
        "--concurrency",
        "abc",
    ),
    option(
        "port-70000",
        r"--port=70000: must be less than or equal to 65535",
        "serve",
        *DB,
        *WF,
        "--port",
        "70000",
    ),
    option(
        "serve-workers-1000",
        r"--workers=1000: must be less than or equal to 64",
        "serve",
        *DB,
        *WF,
        "--workers",
        "1000",
    ),
    option(
        "submit-input-nan",
        r"--input=.*NaN is not a JSON number",
        "submit",
        *DB,
        *WF,
        "--input",
        '{"amount": NaN}',
    ),
    option(
        "submit-input-1e999",
        r"--input.amount=inf is not a finite number",
        "submit",
        *DB,
        *WF,
        "--input",
        '{"amount": 1e999}',
    ),
    option(
        "submit-input-list",
        r"--input=.*must be a JSON object",
        "submit",
        *DB,
        *WF,
        "--input",
        "[1, 2]",
    ),
    option(
        "submit-input-deep",
        r"--input.*nested more than 64 levels deep",
        "submit",
        *DB,
        *WF,
        "--input",
        '{"a": ' + _nested(100) + "}",
    ),
    option(
        "submit-input-very-deep",
        r"--input=.*is not JSON",
        "submit",
        *DB,
        *WF,
        "--input",
        '{"a": ' + _nested(100_000) + "}",
    ),
    option(
        "run-seed-negative",
        r"--seed=-1: must be greater than or equal to 0",
        "run",
        "s.yaml",
        "--seed",
        "-1",
    ),
    option(
        "demo-seed-huge",
        r"--seed=.*: must be less than or equal to 9223372036854775807",
        "demo",
        "--seed",
        str(2**64),
    ),
    BadInput(
        "option-load-users-zero",
        ("load", "l.yaml", "--users", "0"),
        r"users=0 \(from --users\): must be greater than or equal to 1",
        {"l.yaml": _yaml(GOOD_PROFILE)},
    ),
    BadInput(
        "option-load-duration-inf",
        ("load", "l.yaml", "--duration", "inf"),
        r"duration_s=inf \(from --duration\): must be a finite number",
        {"l.yaml": _yaml(GOOD_PROFILE)},
    ),
    option("status-no-store", r"does not exist", "status", "--db", "sqlite:///missing.db", "run-1"),
    option(
        "workflow-spec-shape",
        r"is not of the form 'module:attribute'",
        "submit",
        *DB,
        "--workflow",
        "no-colon",
    ),
    option("validate-missing-file", r"File 'nope.yaml' cannot be read", "validate", "nope.yaml"),
]

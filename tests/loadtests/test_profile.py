"""Load profiles: what loads, and every bad input refused at load time, naming field and value."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from faults import FaultPlan
from loadtests import LoadProfile, ProfileError, load_profile
from scenarios import CHECKERS

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = sorted((ROOT / "examples" / "load").glob("*.yaml"))
BASE: dict[str, Any] = {
    "name": "t",
    "workflow": "examples.order_saga:order_saga",
    "inputs": [{"sku": "a", "qty": 1, "amount": 10, "address": "x"}],
    "shape": "steady",
    "users": 4,
    "duration_s": 20,
}


def _plan_check(faults: Any) -> None:
    FaultPlan.from_dict({"faults": list(faults)})


def load(tmp_path: Path, **fields: Any) -> LoadProfile:
    data = {**BASE, **fields}
    data = {k: v for k, v in data.items() if v is not None}
    path = tmp_path / "profile.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return load_profile(path, invariants=CHECKERS, check_faults=_plan_check)


def refused(tmp_path: Path, message: str, **fields: Any) -> None:
    with pytest.raises(ProfileError, match=message):
        load(tmp_path, **fields)


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_every_example_profile_loads(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CHAOSFLOW_REAL_DB_URL", "postgresql+psycopg://me@127.0.0.1:5432/empty")
    profile = load_profile(path, invariants=CHECKERS, check_faults=_plan_check)
    assert profile.name == yaml.safe_load(path.read_text())["name"]
    assert profile.peak_users <= profile.users


def test_defaults_and_overrides(tmp_path: Path) -> None:
    path = tmp_path / "p.yaml"
    path.write_text(yaml.safe_dump({k: v for k, v in BASE.items() if k != "name"}))
    profile = load_profile(path, users=9, duration_s=12.5)
    assert (profile.name, profile.users, profile.duration_s) == ("p", 9, 12.5)
    assert profile.shape.kind == "steady"
    assert profile.workers == 2 and profile.user == "http" and profile.store_url is None
    assert profile.fault_targets == ("worker-0", "worker-1")


def test_shape_options_and_thresholds_in_k6_style(tmp_path: Path) -> None:
    profile = load(
        tmp_path,
        shape={"kind": "step", "step_users": 2, "every_s": 5},
        thresholds={"e2e_p99_ms": "< 2000", "completion_rate": [">= 0.9", "<= 1"]},
    )
    assert [t.describe() for t in profile.thresholds] == [
        "e2e_p99_ms < 2000",
        "completion_rate >= 0.9",
        "completion_rate <= 1",
    ]


def test_inputs_come_from_a_file_beside_the_profile(tmp_path: Path) -> None:
    (tmp_path / "orders.jsonl").write_text('{"amount": 1}\n{"amount": 2}\n')
    profile = load(tmp_path, inputs={"file": "orders.jsonl"})
    assert profile.inputs == [{"amount": 1}, {"amount": 2}]
    assert profile.inputs_file == "orders.jsonl"
    (tmp_path / "orders.json").write_text(json.dumps([{"amount": 3}]))
    assert load(tmp_path, inputs={"file": "orders.json"}).inputs == [{"amount": 3}]


def test_a_store_url_reads_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MY_DB", "postgresql+psycopg://me@127.0.0.1:5/db")
    profile = load(tmp_path, store={"url": "${MY_DB}"})
    assert profile.store_url == "postgresql+psycopg://me@127.0.0.1:5/db"
    assert profile.fault_targets[0] == "store"
    monkeypatch.delenv("MY_DB")
    refused(
        tmp_path,
        r"store\.url='\$\{MY_DB\}': names an environment variable",
        store={"url": "${MY_DB}"},
    )
    refused(tmp_path, r"store='mysql': must be sqlite, or \{url: URL\}", store="mysql")


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"shape": "zigzag"}, r"shape='zigzag': kind='zigzag' is not a shape; use one of steady"),
        ({"shape": {"kind": "step", "step_users": 2}}, r"shape\.every_s is missing"),
        ({"shape": {"kind": "step", "step_users": 2, "every_s": 30}}, r"every_s=30 is not shorter"),
        ({"shape": {"kind": "spike", "base_users": 9, "at_s": 1, "for_s": 1}}, r"base_users=9"),
        ({"shape": {"kind": "spike", "base_users": 1, "at_s": 15, "for_s": 9}}, r"at_s=15"),
        ({"shape": {"kind": "ramp", "up_s": 15, "down_s": 9}}, r"up_s=15 \+ shape\.down_s=9"),
        ({"users": -3}, r"users=-3: must be greater than or equal to 1"),
        ({"users": 0}, r"users=0"),
        ({"users": 50_000}, r"users=50000: must be less than or equal to 10000"),
        ({"users": 5_000}, r"users=5000 is more than 1000 per Locust process"),
        ({"duration_s": -1}, r"duration_s=-1: must be greater than or equal to 1"),
        ({"duration_s": 100_000}, r"duration_s=100000: must be less than or equal"),
        ({"workflow": "nowhere"}, r"workflow='nowhere': must be module:attribute"),
        ({"workflow": "no_such_module:thing"}, r"workflow='no_such_module:thing' does not import"),
        ({"workflow": "examples.order_saga:nothing"}, r"has no attribute 'nothing'"),
        ({"workflow": "examples.order_saga:DEMO_ORDERS"}, r"not a Workflow"),
        ({"inputs": []}, r"inputs=\[\]: must be a non-empty list"),
        ({"inputs": [1]}, r"inputs\[0\]=1 is not a mapping"),
        ({"inputs": {"file": "missing.json"}}, r"inputs\.file='.*missing\.json' cannot be read"),
        ({"inputs": {"generator": "examples.order_load:SKUS"}}, r"generator=.* does not work"),
        ({"user": "telnet"}, r"user='telnet': must be 'http' or 'python'"),
        ({"shape": "arrival_rate"}, r"arrival_rate=None: shape arrival_rate needs arrival_rate"),
        ({"arrival_rate": 5}, r"arrival_rate=5 is only for shape arrival_rate"),
        ({"colour": "blue"}, r"colour='blue' is not a field here"),
        ({"thresholds": {"p99": "< 10"}}, r"metric='p99' is not a figure of a load run"),
        ({"thresholds": {"e2e_p99_ms": "fast"}}, r"thresholds\.e2e_p99_ms='fast' must be 'OP"),
        ({"thresholds": {"time_to_recover_s": "< 5"}}, r"time_to_recover_s needs a fault window"),
        ({"invariants": ["no_bugs"]}, r"invariants=\['no_bugs'\] are not checkers"),
        ({"think_time_s": [2, 1]}, r"think_time_s=\[2\.0, 1\.0\] must be \[min, max\]"),
        ({"api": {"host": "0.0.0.0"}}, r"api\.host='0\.0\.0\.0' is not a loopback address"),
        ({"distributed": {"workers": 99}}, r"distributed\.workers=99"),
        ({"services": ["store"]}, r"service name='store' must be an identifier other than"),
    ],
)
def test_bad_profiles_are_refused_naming_the_field_and_value(
    tmp_path: Path, fields: dict[str, Any], message: str
) -> None:
    refused(tmp_path, message, **fields)


def network(at: float, duration: float | None, target: str = "store") -> dict[str, Any]:
    return {
        "kind": "network",
        "target": target,
        "trigger": {"at": at},
        "duration": duration,
        "params": {"toxic": "latency", "attributes": {"latency": 100}},
    }


PG = {"url": "postgresql+psycopg://me@127.0.0.1:5432/db"}


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"faults": [network(15, 10)]}, r"faults\[0\] runs from 15 s to 25 s, outside the run"),
        ({"faults": [network(25, 1)]}, r"faults\[0\] runs from 25 s to 26 s, outside the run"),
        ({"faults": [network(5, None)]}, r"faults\[0\]\.duration=None must be a positive"),
        ({"faults": [network(5, 2, "mars")]}, r"faults\[0\]\.target='mars' is not a target"),
        (
            {"faults": [network(5, 2)], "store": "sqlite"},
            r"target='store' is not a target of this load run; targets: worker-0, worker-1",
        ),
        (
            {"faults": [{"kind": "network", "target": "store", "trigger": {"at": 1}}]},
            r"duration=None",
        ),
        (
            {"faults": [{**network(5, 2), "params": {"toxic": "earthquake"}}]},
            r"faults: Fault plan: faults\[0\]\.params\.toxic='earthquake': must be 'latency'",
        ),
        (
            {"faults": [{"kind": "crash", "trigger": {"point": "after_action"}}]},
            r"faults\[0\]\.kind='crash' is not applied under load",
        ),
        (
            {"faults": [{**network(5, 2), "trigger": {"point": "after_action"}}]},
            r"faults\[0\]\.trigger=\{'point': 'after_action'\} must be \{at: SECONDS\}",
        ),
        (
            {
                "faults": [
                    {
                        "kind": "process",
                        "target": "worker-1",
                        "trigger": {"at": 3},
                        "duration": 4,
                        "params": {"action": "sigkill"},
                    }
                ]
            },
            r"faults\[0\]\.duration=4: a sigkill strikes once and has no window",
        ),
        (
            {
                "faults": [
                    {
                        "kind": "process",
                        "target": "worker-2",
                        "trigger": {"at": 3},
                        "params": {"action": "sigkill"},
                    }
                ]
            },
            r"target='worker-2' is not a target",
        ),
    ],
)
def test_bad_fault_windows_are_refused(
    tmp_path: Path, fields: dict[str, Any], message: str
) -> None:
    refused(tmp_path, message, **{"store": PG, **fields})


def test_good_fault_windows_load(tmp_path: Path) -> None:
    kill = {
        "kind": "process",
        "target": "worker-1",
        "trigger": {"at": 19.5},
        "params": {"action": "sigkill"},
    }
    profile = load(tmp_path, store=PG, services=["payment"], faults=[network(5, 15), kill])
    assert len(profile.faults) == 2
    assert profile.fault_targets == ("store", "payment", "worker-0", "worker-1")


def test_an_override_that_breaks_a_bound_names_the_flag(tmp_path: Path) -> None:
    path = tmp_path / "p.yaml"
    path.write_text(yaml.safe_dump(BASE))
    with pytest.raises(ProfileError, match=r"users=-1 \(from --users\)"):
        load_profile(path, users=-1)
    with pytest.raises(ProfileError, match=r"duration_s=0\.0 \(from --duration\)"):
        load_profile(path, duration_s=0.0)


def test_a_profile_that_is_not_a_file_or_not_yaml_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ProfileError, match=r"cannot be read \(No such file or directory\)"):
        load_profile(tmp_path / "none.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("users: [1\n")
    with pytest.raises(ProfileError, match=r"is not valid YAML"):
        load_profile(bad)
    bad.write_text("- 1\n- 2\n")
    with pytest.raises(ProfileError, match=r"must be a mapping of fields, not list"):
        load_profile(bad)

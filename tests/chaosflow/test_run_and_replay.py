"""chaosflow run and replay: exit codes, the replay command, and a replay that reproduces."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from chaosflow.cli import main
from scenarios import decode_replay_token

BROKEN = """
name: careless
workflow: tests.scenarios._catalogue:careless_saga
seed: 3
inputs: [{sku: a, qty: 1, amount: 5, address: here}]
explore: crash_points
invariants: [duplicate_effect, missing_compensation]
"""


def test_a_valid_file_exits_0_and_writes_reports(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["run", "examples/scenarios/order_saga_crash.yaml", "--report", str(tmp_path)])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "verdict: valid" in out
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "effects.parquet",
        "events.parquet",
        "junit.xml",
        "report.html",
        "report.md",
        "result.json",
    ]


def test_a_broken_workflow_exits_1_and_its_replay_reproduces_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # a token may name only a file under the folder it replays in
    scenario = Path("careless.yaml")
    scenario.write_text(BROKEN)
    assert main(["run", str(scenario), "--report", str(tmp_path / "r")]) == 1
    out = capsys.readouterr().out
    assert "duplicate_effect" in out and "verdict: invalid" in out
    token = re.search(r"replay: chaosflow replay (\S+)", out).group(1)  # type: ignore[union-attr]
    document = json.loads((tmp_path / "r" / "result.json").read_text())
    assert document["invariants"][0]["verdict"] == "invalid"
    assert document["verdict"] == "invalid"
    assert main(["replay", token]) == 1
    replayed = capsys.readouterr().out
    assert "crash (raise) at after_action #1 of charge_payment" in replayed
    assert "duplicate_effect" in replayed and "verdict: invalid" in replayed
    # From another folder the same token replays: it carries the file's text.
    monkeypatch.chdir(tmp_path / "r")
    assert main(["replay", token]) == 1
    assert main(["replay", token, "--scenario", str(tmp_path / "careless.yaml")]) == 1


def test_bad_input_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("workflow: examples.order_saga:order_saga\n")
    assert main(["run", str(bad)]) == 2
    assert "invariants is missing; add it" in capsys.readouterr().err
    assert main(["replay", "not-a-token"]) == 2
    assert "does not start with 'cf2.'" in capsys.readouterr().err
    clock = tmp_path / "clock.yaml"
    clock.write_text(
        "workflow: examples.order_saga:order_saga\ninvariants: [duplicate_effect]\n"
        "faults: [{kind: clock, target: worker-0, params: {action: skew, seconds: 5}}]\n"
    )
    assert main(["run", str(clock), "--mode", "real"]) == 2
    assert "clock faults need the simulation's virtual clock" in capsys.readouterr().err


def test_a_generated_case_replays_from_its_token_alone(capsys: pytest.CaptureFixture[str]) -> None:
    from faults import Fault, FaultPlan
    from scenarios import Scenario, StepSpec, WorkflowSpec, build_workflow, run_in_process

    # One careless step and a crash after its effect: the smallest double charge there is.
    spec = WorkflowSpec((StepSpec("s0", (), "payment", idempotent=False),))
    invariants = ["duplicate_effect"]
    case = Scenario(
        "generated",
        build_workflow(spec),
        [{}],
        FaultPlan((Fault.crash("after_action", "s0"),)),
        invariants,
        generated={
            "workflow": spec.to_dict(),
            "inputs": [{}],
            "options": {"invariants": invariants},
        },
    )
    assert run_in_process(case).verdict == "invalid"
    assert main(["replay", case.replay_token()]) == 1
    replayed = capsys.readouterr().out
    assert "replaying 'generated' seed 0" in replayed
    assert "duplicate_effect" in replayed and "verdict: invalid" in replayed


def test_the_result_document_says_why_each_run_did_not_complete(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["run", "examples/scenarios/order_saga_crash.yaml", "--report", str(tmp_path)]) == 0
    capsys.readouterr()
    runs = json.loads((tmp_path / "result.json").read_text())["runs"]
    rolled_back = [r for r in runs if r["state"] == "rolled_back"]
    assert rolled_back and all("step 'ship' failed definitely" in r["error"] for r in rolled_back)
    assert all("ShippingRefused [address_refused]" in r["error"] for r in rolled_back)
    assert all(r["error"] is None for r in runs if r["state"] == "completed")


def _token(out: str) -> str:
    return re.search(r"replay: chaosflow replay (\S+)", out).group(1)  # type: ignore[union-attr]


def test_a_token_replays_from_another_folder_after_its_file_changed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    made = tmp_path / "made"
    made.mkdir()
    (made / "careless.yaml").write_text(BROKEN)
    monkeypatch.chdir(made)
    assert main(["run", "careless.yaml"]) == 1  # a path relative to this folder
    token = _token(capsys.readouterr().out)
    decoded = decode_replay_token(token)
    assert decoded["source"] == str((made / "careless.yaml").resolve())
    # The file is fixed (or gone) and the replay runs elsewhere: the token still names the case
    # as it was written.
    (made / "careless.yaml").write_text("not: a scenario\n")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    assert main(["replay", token]) == 1
    replayed = capsys.readouterr().out
    assert "crash (raise) at after_action #1 of charge_payment" in replayed
    assert "duplicate_effect" in replayed and "verdict: invalid" in replayed


def test_a_token_of_a_scenario_built_in_code_replays_without_a_file(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from faults import Fault, FaultPlan
    from scenarios import Scenario
    from tests.scenarios._catalogue import SHIPS, careless_saga

    plan = FaultPlan((Fault.crash("after_action", "charge_payment"),))
    scenario = Scenario("in-code", careless_saga, [SHIPS], plan, seed=4, workers=1)
    assert scenario.replayable()
    token = scenario.replay_token()
    assert decode_replay_token(token)["generated"]["workflow_ref"] == (
        "tests.scenarios._catalogue:careless_saga"
    )
    assert main(["replay", token]) == 1
    out = capsys.readouterr().out
    assert "replaying 'in-code' seed 4" in out and "duplicate_effect" in out


def test_a_workflow_that_is_no_module_attribute_says_how_to_replay(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from scenarios import Scenario
    from tests.scenarios._catalogue import SHIPS, build

    local = build()  # built here, held by no module
    scenario = Scenario("local", local, [SHIPS], seed=6)
    assert not scenario.replayable()
    assert main(["replay", scenario.replay_token()]) == 2
    assert "--chaos-seed 6" in capsys.readouterr().err


def test_earlier_cf1_tokens_still_replay(capsys: pytest.CaptureFixture[str]) -> None:
    import base64

    fields = {
        "v": 1,
        "scenario": "careless",
        "source": "examples/scenarios/order_saga_crash.yaml",
        "seed": 0,
        "plan": {"faults": [], "seed": 0},
    }
    body = json.dumps(fields).encode()
    token = "cf1." + base64.urlsafe_b64encode(body).decode().rstrip("=")
    assert decode_replay_token(token) == fields
    assert main(["replay", token]) == 0
    assert "verdict: valid" in capsys.readouterr().out


@pytest.mark.parametrize(("profile", "cases"), [("default", 1), ("ci", 1), ("nightly", 10)])
def test_the_profile_scales_the_files_budget(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], profile: str, cases: int
) -> None:
    scenario = tmp_path / "budget.yaml"
    scenario.write_text(
        "workflow: examples.order_saga:order_saga\ninvariants: [duplicate_effect]\n"
        "inputs: [{sku: a, qty: 1, amount: 5, address: here}]\n"
        "explore: crash_points\nbudget: {examples: 1}\n"
    )
    assert main(["run", str(scenario), "--profile", profile]) == 0
    out = capsys.readouterr().out
    assert f"{cases} case(s) (budget exhausted)" in out


def test_an_unknown_profile_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stopped:
        main(["run", "examples/scenarios/order_saga_crash.yaml", "--profile", "turbo"])
    assert stopped.value.code == 2
    assert "invalid choice: 'turbo'" in capsys.readouterr().err


def test_the_printed_replay_command_works_from_where_it_was_printed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # A file outside the current folder: the token carries the file, so the command printed
    # works as is; --scenario FILE replays against the file given instead.
    scenario = tmp_path / "careless.yaml"
    scenario.write_text(BROKEN)
    assert main(["run", str(scenario)]) == 1
    out = capsys.readouterr().out
    line = re.search(r"replay: chaosflow (replay \S+)\n", out)
    assert line is not None, out
    assert main(line.group(1).split()) == 1
    capsys.readouterr()
    assert main([*line.group(1).split(), "--scenario", str(scenario)]) == 1
    assert "duplicate_effect" in capsys.readouterr().out


def test_a_token_names_a_file_outside_the_folder_only_with_scenario(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # A cf1 token (no embedded text) naming a file elsewhere is refused by name.
    import base64

    elsewhere = tmp_path / "elsewhere.yaml"
    elsewhere.write_text(BROKEN)
    fields = {
        "v": 1,
        "scenario": "careless",
        "source": str(elsewhere),
        "seed": 3,
        "plan": {"faults": [], "seed": 3},
    }
    token = "cf1." + base64.urlsafe_b64encode(json.dumps(fields).encode()).decode().rstrip("=")
    here = tmp_path / "here"
    here.mkdir()
    monkeypatch.chdir(here)
    assert main(["replay", token]) == 2
    assert "not under the folder it is replayed from" in capsys.readouterr().err

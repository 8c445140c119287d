"""``chaosflow validate FILE [--kind scenario|plan|profile]``: load and check, run nothing.

The file is read and validated exactly as ``run``, ``load`` or a ``@pytest.mark.chaos(plan=...)``
would (the workflow is imported and checked to be a Workflow, never called; no store opens, no
process starts). Exit 0 and one line saying what the file holds, or exit 2 and the problems.
The kind is guessed from the keys when not given: ``shape``/``users``/``duration_s`` make a load
profile, only ``faults`` and ``seed`` a fault plan, anything else a scenario file.
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from pathlib import Path
from typing import Any

KINDS = ("scenario", "plan", "profile")
_PROFILE_KEYS = frozenset({"shape", "users", "duration_s", "thresholds"})


def add_validate_parser(verbs: Any) -> None:
    """Register the ``validate`` verb on the CLI's subparsers."""
    validate = verbs.add_parser(
        "validate", help="check a scenario file, fault plan or load profile; run nothing"
    )
    validate.add_argument("file", help="a scenario file, fault plan or load profile (YAML)")
    validate.add_argument("--kind", choices=KINDS, default=None, help="default: from its keys")


def guess_kind(data: Any) -> str:
    """What a file's data looks like: 'profile', 'plan' or 'scenario'."""
    if isinstance(data, Mapping):
        if _PROFILE_KEYS & set(data):
            return "profile"
        if data and set(data) <= {"faults", "seed"}:
            return "plan"
    return "scenario"


def validate_command(args: argparse.Namespace) -> int:
    """Run the ``validate`` verb; returns the exit code (0 valid, 2 not)."""
    from faults import FaultPlan, FaultPlanError
    from intake import InputError, read_yaml_file
    from loadtests import ProfileError, load_profile
    from scenarios import CHECKERS, ScenarioError, load_scenario_file

    from .cli import EXIT_VALID, UsageError

    where = str(args.file)
    try:
        kind = args.kind
        if kind is None:
            kind = guess_kind(read_yaml_file(where, f"File {where!r}"))
        if kind == "scenario":
            spec = load_scenario_file(where)
            print(
                f"{where}: a valid scenario file: {spec.name!r}, workflow {spec.workflow_spec} "
                f"({len(spec.workflow.order)} steps), mode {spec.mode}, {len(spec.inputs)} "
                f"input(s), {len(spec.plan.faults)} fault(s), explore {spec.explore or 'none'}, "
                f"invariants {', '.join(spec.invariants)}"
            )
        elif kind == "plan":
            plan = FaultPlan.from_yaml(Path(where).read_text(encoding="utf-8"))
            print(f"{where}: a valid fault plan: seed {plan.seed}, {len(plan.faults)} fault(s)")
            for fault in plan.faults:
                print(f"  {fault.describe()}")
        else:

            def check_plan(faults: Any) -> None:
                FaultPlan.from_dict({"faults": list(faults)})

            profile = load_profile(where, invariants=CHECKERS, check_faults=check_plan)
            print(
                f"{where}: a valid load profile: {profile.name!r}, workflow {profile.workflow}, "
                f"{profile.users} user(s) for {profile.duration_s:g}s, "
                f"{len(profile.faults)} fault window(s)"
            )
    except (InputError, ScenarioError, FaultPlanError, ProfileError) as error:
        raise UsageError(str(error)) from None
    except OSError as error:
        raise UsageError(f"File {where!r} cannot be read ({error.strerror or error}).") from None
    return EXIT_VALID

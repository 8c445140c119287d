"""``chaosflow load PROFILE.yaml [--users N] [--duration S] [--report DIR]``.

Loads and validates the profile (a bad one: exit 2, naming the field and the value), starts
what it needs, runs Locust headless under the profile's fault windows, stops everything,
judges every run the load submitted, writes the reports and exits:

| code | meaning |
|---|---|
| 0 | valid: every invariant held and every threshold passed |
| 1 | invalid: an invariant broke or a threshold did not pass |
| 2 | bad input: the profile (or a flag) is wrong; nothing ran |
| 3 | unknown: a checker could not decide |
| 4 | the harness failed (Locust, the API or a worker broke): no verdict |
| 130 | interrupted (SIGINT or SIGTERM); everything it started was stopped |

Nothing heavy is imported until the verb runs: the parser is built on every ``chaosflow`` call.
"""

from __future__ import annotations

import argparse
import shlex
import signal
import sys
from pathlib import Path
from types import FrameType
from typing import Any

EXIT_HARNESS = 4
EXIT_INTERRUPTED = 130
DEFAULT_REPORT = "load-out"


def add_load_parser(verbs: Any) -> None:
    """Register the ``load`` verb on the CLI's subparsers."""
    load = verbs.add_parser(
        "load",
        help="load-test a workflow under fault windows; exit 0 valid, 1 invalid, 3 unknown, 4 "
        "harness failed",
    )
    load.add_argument("profile", help="a load profile (YAML)")
    load.add_argument("--users", type=int, default=None, help="override the profile's users")
    load.add_argument(
        "--duration", type=float, default=None, metavar="S", help="override duration_s (seconds)"
    )
    load.add_argument(
        "--report",
        default=DEFAULT_REPORT,
        metavar="DIR",
        help=f"write result.json, the reports, Locust's CSV and HTML under DIR ({DEFAULT_REPORT})",
    )


class _Interrupted(BaseException):
    """SIGINT or SIGTERM: a BaseException, so no ``except Exception`` on the way swallows it."""


def _interrupt(signum: int, _frame: FrameType | None) -> None:
    # Once: a second signal must not cut short the clean-up the first one started.
    for each in (signal.SIGINT, signal.SIGTERM):
        signal.signal(each, signal.SIG_IGN)
    raise _Interrupted(signal.Signals(signum).name)


def load_command(args: argparse.Namespace) -> int:
    """Run the ``load`` verb; returns the exit code."""
    from faults import FaultError, FaultPlan
    from loadtests import LoadTestError, ProfileError, load_profile
    from scenarios import CHECKERS, ScenarioError

    from ._load_rig import LoadSetupError, UsedStoreError
    from .cli import EXIT_INVALID, EXIT_UNKNOWN, EXIT_USAGE, EXIT_VALID, UsageError

    def check_plan(faults: Any) -> None:
        # The windows' own parameters (toxics, attributes, actions), by the fault plan's rules.
        FaultPlan.from_dict({"faults": list(faults)})

    try:
        profile = load_profile(
            args.profile,
            users=args.users,
            duration_s=args.duration,
            invariants=CHECKERS,
            check_faults=check_plan,
        )
    except ProfileError as error:
        raise UsageError(str(error)) from None
    command = _command(args)
    report_dir = Path(args.report)
    previous = {each: signal.signal(each, _interrupt) for each in (signal.SIGINT, signal.SIGTERM)}
    try:
        from ._load_result import write_load_reports
        from ._load_run import run_load

        print(f"load {profile.name!r}: {profile.workflow}, report in {report_dir}/")
        outcome = run_load(profile, report_dir)
        report = write_load_reports(outcome, report_dir, command=command)
    except UsedStoreError as error:
        print(f"chaosflow: error: {error}", file=sys.stderr)
        return EXIT_USAGE
    except (LoadSetupError, LoadTestError, ScenarioError, FaultError) as error:
        return _harness_failed(error)
    except _Interrupted:
        print("chaosflow: load interrupted; everything it started was stopped", file=sys.stderr)
        return EXIT_INTERRUPTED
    finally:
        for each, handler in previous.items():
            signal.signal(each, handler)
    _print_report(outcome, report)
    return {"valid": EXIT_VALID, "invalid": EXIT_INVALID}.get(report.verdict, EXIT_UNKNOWN)


def _harness_failed(error: Exception) -> int:
    print(f"chaosflow: the load harness failed, so there is no verdict: {error}", file=sys.stderr)
    return EXIT_HARNESS


def _command(args: argparse.Namespace) -> str:
    parts = ["chaosflow", "load", args.profile]
    if args.users is not None:
        parts += ["--users", str(args.users)]
    if args.duration is not None:
        parts += ["--duration", f"{args.duration:g}"]
    return shlex.join(parts)


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f}"


def _print_report(outcome: Any, report: Any) -> None:
    section = report.section
    s = section["summary"]
    rate = "-" if s["completion_rate"] is None else f"{100 * s['completion_rate']:.1f}%"
    print(
        f"  submitted {s['submitted']} ({s['throughput_submitted_per_s']:.1f}/s), completed "
        f"{s['completed']} ({s['throughput_completed_per_s']:.1f}/s), rolled back "
        f"{s['rolled_back']}, failed {s['failed']}, unfinished {s['unfinished']}; completion "
        f"rate {rate}; dropped iterations {s['dropped_iterations']}"
    )
    for label, key in (("submit", "submit_latency_ms"), ("end-to-end", "e2e_latency_ms")):
        lat = s[key]
        print(
            f"  {label} latency ms: p50 {_ms(lat['p50'])}, p95 {_ms(lat['p95'])}, "
            f"p99 {_ms(lat['p99'])}, max {_ms(lat['max'])}"
        )
    ratio = s["retry_amplification"]
    rolled = s["compensation_rate"]
    errors = ", ".join(f"{k} {v}" for k, v in s["errors"].items()) or "none"
    print(
        f"  retry amplification {'-' if ratio is None else f'{ratio:.2f}'}, compensation rate "
        f"{'-' if rolled is None else f'{rolled:.2f}'}, errors {errors}"
    )
    struck = {w["index"] for w in section["fault_windows"]}
    for index, _fault in enumerate(outcome.profile.faults):
        if index not in struck:
            print(f"  fault window {index} did not strike: the load ended before it")
    for window, rec in zip(section["fault_windows"], section["recovery"], strict=True):
        if rec["recovered"] is None:
            recovered = "recovery not measurable (no steady state before it)"
        elif rec["recovered"]:
            recovered = f"recovered {rec['time_to_recover_s']:g} s after the heal"
        else:
            recovered = "did NOT recover within the run"
        print(
            f"  fault {window['index']}: {window['action']} on {window['target']} "
            f"{window['start_s']:.1f}-{window['end_s']:.1f} s: {recovered}"
        )
    for threshold in section["thresholds"]:
        observed = threshold["observed"]
        print(
            f"  threshold {threshold['metric']} {threshold['op']} {threshold['value']:g}: "
            f"observed {'not measured' if observed is None else f'{observed:.4g}'} "
            f"{'passed' if threshold['passed'] else 'BROKEN'}"
        )
    for result in outcome.judgement.results:
        print(f"  {result.checker:<25} {result.verdict:<8} {result.note}")
        for anomaly in result.anomalies[:5]:
            print(f"    {anomaly.kind} run={anomaly.run_id}: {anomaly.detail}")
    print(f"verdict: {report.verdict}")
    print("report: " + ", ".join(str(p) for p in report.paths.values()))

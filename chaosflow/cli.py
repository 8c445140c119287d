"""The ``chaosflow`` command: the composition root's entry point.

Exit codes: 0 valid / done, 1 invalid, 2 bad input (usage), 3 unknown verdict, 4 the harness
could not finish (verdict error), 5 regressed against the baseline (see ``_report_command``),
75 the store stayed unreachable for the whole wait (``worker``; EX_TEMPFAIL: try again later),
141 the reader of the output went away (``chaosflow events | head``), as for SIGPIPE.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ._runs_verb import add_runs_parser

EXIT_VALID, EXIT_INVALID, EXIT_USAGE, EXIT_UNKNOWN, EXIT_HARNESS = 0, 1, 2, 3, 4
EXIT_STORE_UNAVAILABLE = 75  # sysexits' EX_TEMPFAIL: nothing wrong with the input; retry later
EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE: what a shell reports for `... | head` cutting output


class UsageError(Exception):
    """Bad input on the command line: printed with the usage, exit 2."""


def _parser() -> argparse.ArgumentParser:
    from ._report_command import add_baseline_arguments, add_report_parser

    parser = argparse.ArgumentParser(
        prog="chaosflow",
        description="Resilience and chaos testing of multi-step business workflows.",
    )
    parser.add_argument("--version", action="version", version=f"chaosflow {_version()}")
    verbs = parser.add_subparsers(dest="verb", metavar="VERB", required=True)

    demo = verbs.add_parser("demo", help="run the example order saga under a crash, write reports")
    demo.add_argument("--out", default="reports-out", help="report folder (default: reports-out)")
    demo.add_argument("--seed", type=int, default=0, help="scheduler and fault seed (default 0)")

    run = verbs.add_parser(
        "run", help="run a scenario file; exit 0 valid, 1 invalid, 3 unknown, 4 error, 5 regressed"
    )
    run.add_argument("scenario", help="a scenario file (YAML)")
    run.add_argument("--seed", type=int, default=None, help="override the file's seed")
    run.add_argument("--mode", choices=["sim", "real"], default=None)
    run.add_argument(
        "--profile",
        choices=["default", "ci", "nightly"],
        default="default",
        help="exploration profile: default and ci run the file's budget, nightly ten times it",
    )
    run.add_argument(
        "--report",
        default=None,
        metavar="DIR",
        help="write JSON, Markdown, HTML and JUnit reports under DIR",
    )
    add_baseline_arguments(run)

    add_report_parser(verbs)

    replay = verbs.add_parser("replay", help="rerun exactly the case a replay token names")
    replay.add_argument("token")
    replay.add_argument("--report", default=None, metavar="DIR")
    replay.add_argument("--scenario", default=None, metavar="FILE", help="the token's file")

    def store_args(p: argparse.ArgumentParser) -> None:
        p.add_argument("--db", required=True, help="store URL, e.g. sqlite:///chaosflow.db")

    def workflow_args(p: argparse.ArgumentParser) -> None:
        p.add_argument(
            "--workflow",
            required=True,
            action="append",
            metavar="MODULE:ATTR",
            help="a workflow to load (repeatable), e.g. examples.order_saga:order_saga",
        )

    worker = verbs.add_parser("worker", help="run a worker process against a store")
    store_args(worker)
    workflow_args(worker)
    worker.add_argument("--lease-seconds", type=float, default=30.0)
    worker.add_argument(
        "--store-wait",
        type=float,
        default=60.0,
        metavar="SECONDS",
        help="wait up to this long for an unreachable store at start, retrying after 0.5 s "
        "doubling to at most 5 s (default 60), then exit 75",
    )
    worker.add_argument(
        "--max-seconds", type=float, default=3600.0, help="stop after this long (default 3600)"
    )
    worker.add_argument(
        "--until-idle", action="store_true", help="stop once every run in the store is terminal"
    )
    worker.add_argument("--worker-id")
    worker.add_argument(
        "--concurrency",
        type=int,
        default=1,
        help="worker loops in this process, whose runs share commits (default 1)",
    )
    worker.add_argument(
        "--crash-at",
        metavar="POINT[:STEP[:NTH]]",
        help="inject a crash at a hook point (fault testing)",
    )
    worker.add_argument("--crash-mode", choices=["sigkill", "raise"], default="sigkill")
    worker.add_argument(
        "--health-interval",
        type=float,
        metavar="SECONDS",
        help="print the process's health (workers, adaptive limits) as a JSON line this often",
    )

    submit = verbs.add_parser("submit", help="submit a run; prints its id")
    store_args(submit)
    workflow_args(submit)
    submit.add_argument("--input", default="{}", help="the run's input as JSON")
    submit.add_argument("--run-id", help="an idempotent run id (default: a new one)")
    submit.add_argument("--correlation-id")

    status = verbs.add_parser("status", help="print a run's status as JSON, with its errors")
    store_args(status)
    status.add_argument("run_id")

    add_runs_parser(verbs, store_args)

    cancel = verbs.add_parser("cancel", help="cancel a running run (it compensates)")
    store_args(cancel)
    workflow_args(cancel)
    cancel.add_argument("run_id")
    cancel.add_argument("--reason", default="cancelled from the command line")

    events = verbs.add_parser("events", help="print the event log as JSON lines")
    store_args(events)
    events.add_argument("run_id", nargs="?")

    serve = verbs.add_parser("serve", help="serve the HTTP API with worker threads")
    store_args(serve)
    workflow_args(serve)
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8080)
    serve.add_argument("--workers", type=int, default=1)
    serve.add_argument("--lease-seconds", type=float, default=30.0)
    serve.add_argument("--max-seconds", type=float, default=None)
    serve.add_argument("--docs", action="store_true", help="serve Swagger UI at /docs (a CDN)")
    from ._serve_token import add_token_arguments

    add_token_arguments(serve)

    from ._load_command import add_load_parser

    add_load_parser(verbs)
    from ._validate_command import add_validate_parser

    add_validate_parser(verbs)
    return parser


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("chaosflow")
    except PackageNotFoundError:  # run from a checkout that was never installed
        return "unknown (not installed)"


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command; returns the exit code."""
    parser = _parser()
    args = parser.parse_args(argv)  # exits 2 with usage on unknown verbs and bad flags
    from ._options import check_options

    problem = check_options(args)
    if problem is not None:
        parser.print_usage(sys.stderr)
        print(f"chaosflow: error: {problem}", file=sys.stderr)
        return EXIT_USAGE
    try:
        return int(_dispatch(args))
    except BrokenPipeError:
        # The reader went away (`chaosflow events | head`): stop quietly, as a process killed
        # by SIGPIPE would (128 + 13), and keep Python from complaining again at exit.
        import os

        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_BROKEN_PIPE
    except UsageError as error:
        parser.print_usage(sys.stderr)
        print(f"chaosflow: error: {error}", file=sys.stderr)
        return EXIT_USAGE


def _orchestrator(
    args: argparse.Namespace, *, must_exist: bool = False, concurrency: int = 1
) -> Any:
    from orchestrator import Orchestrator, OrchestratorError, import_workflow

    try:
        # Reading verbs must not leave an empty store behind at a mistyped URL.
        orchestrator = Orchestrator(args.db, must_exist=must_exist, concurrency=concurrency)
        for spec in getattr(args, "workflow", None) or []:
            orchestrator.register(import_workflow(spec))
    except OrchestratorError as error:
        raise UsageError(str(error)) from None
    return orchestrator


def _dispatch(args: argparse.Namespace) -> int:
    if args.verb == "demo":
        return _demo(args)
    if args.verb == "run":
        return _run(args)
    if args.verb == "replay":
        return _replay(args)
    if args.verb == "report":
        from ._report_command import report_main

        return report_main(args)
    if args.verb == "worker":
        return _worker(args)
    if args.verb == "submit":
        return _submit(args)
    if args.verb == "status":
        return _status(args)
    if args.verb == "runs":
        return _runs(args)
    if args.verb == "events":
        return _events(args)
    if args.verb == "cancel":
        return _cancel(args)
    if args.verb == "serve":
        return _serve(args)
    if args.verb == "load":
        from ._load_command import load_command

        return load_command(args)
    if args.verb == "validate":
        from ._validate_command import validate_command

        return validate_command(args)
    raise UsageError(f"unknown verb {args.verb!r}")  # argparse already refuses these


def _demo(args: argparse.Namespace) -> int:
    import tempfile

    import reports

    from ._demo import run_demo
    from ._results import result_and_history

    out = Path(args.out)
    with tempfile.TemporaryDirectory(prefix="chaosflow-demo-") as workdir:
        outcome = run_demo(Path(workdir), seed=args.seed)
    bundle = result_and_history([outcome], replay_command=f"chaosflow demo --seed {args.seed}")
    paths = reports.write_reports(
        bundle.result, out, formats=("json", "md", "html"), history=bundle.history
    )
    print(
        f"scenario {outcome.scenario.name!r} (seed {args.seed}, mode {outcome.mode}): "
        f"{len(outcome.runs)} runs, {len(outcome.faults)} fault(s) injected"
    )
    for fault in outcome.faults:
        print(f"  fault: {fault.kind} at {fault.target}")
    for check in outcome.judgement.results:
        print(f"  {check.checker:<25} {check.verdict:<8} {check.note}")
        for anomaly in check.anomalies:
            print(
                f"    {anomaly.kind} run={anomaly.run_id} steps={list(anomaly.steps)}: "
                f"{anomaly.detail}"
            )
    print(f"verdict: {outcome.verdict}")
    print("report: " + ", ".join(str(p) for p in paths.values()))
    return {"valid": EXIT_VALID, "invalid": EXIT_INVALID}.get(str(outcome.verdict), EXIT_UNKNOWN)


def _exit_code(verdict: str) -> int:
    return {"valid": EXIT_VALID, "invalid": EXIT_INVALID}.get(verdict, EXIT_UNKNOWN)


def _event_list(seqs: Any, shown: int = 12) -> str:
    """The event sequence numbers of an anomaly, the first few of a long list and a count (a
    stuck run's anomaly names every event it logged; result.json keeps them all)."""
    seqs = list(seqs)
    if len(seqs) <= shown:
        return str(seqs)
    return f"[{', '.join(map(str, seqs[:shown]))}, ... ({len(seqs)} in all)]"


def _file_needed(outcome: Any) -> str | None:
    """The scenario file a replay must be given, or None when the token carries its text."""
    scenario = outcome.scenario
    return None if scenario.source_text is not None else scenario.source


def _print_checks(outcome: Any) -> None:
    from ._replay_source import replay_command

    for check in outcome.judgement.results:
        for anomaly in check.anomalies:
            print(
                f"  {anomaly.kind} run={anomaly.run_id} steps={list(anomaly.steps)} "
                f"events={_event_list(anomaly.event_seqs)}: {anomaly.detail}"
            )
            print(f"    faults: {outcome.scenario.plan.describe().replace(chr(10), '; ')}")
            print(f"    replay: {replay_command(anomaly.replay_token, _file_needed(outcome))}")


def _harness_failed(args: argparse.Namespace, spec: Any, error: Exception, tolerances: Any) -> int:
    """A run the harness could not finish: a result with verdict error, exit 4, never 1."""
    from faults import FaultError
    from orchestrator import OrchestratorError
    from scenarios import HarnessError

    from ._report_command import finish_run
    from ._results import error_result

    if not isinstance(error, FaultError | OrchestratorError | HarnessError):  # a bug: show where
        import traceback

        traceback.print_exc(file=sys.stderr)
    print(f"chaosflow: the harness could not finish {spec.name!r}: {error}", file=sys.stderr)
    seed = spec.seed if args.seed is None else args.seed
    failed = error_result(spec.name, error, mode=args.mode or spec.mode, seed=seed, spec=spec)
    print("verdict: error")
    return finish_run(failed, report_dir=args.report, tolerances=tolerances)


def _run(args: argparse.Namespace) -> int:
    import reports
    from scenarios import HarnessError, ScenarioError, load_scenario_file, run_scenario_file

    from ._report_command import finish_run, tolerances_of
    from ._results import file_result_and_history

    try:
        spec = load_scenario_file(args.scenario)
        tolerances = tolerances_of(args)
    except (ScenarioError, reports.ReportError) as error:
        raise UsageError(str(error)) from None
    logs = str(Path(args.report) / "logs") if args.report else None
    try:
        result = run_scenario_file(
            spec, seed=args.seed, mode=args.mode, profile=args.profile, logs_dir=logs
        )
    except ScenarioError as error:
        if not isinstance(error, HarnessError):
            raise UsageError(str(error)) from None
        return _harness_failed(args, spec, error, tolerances)
    except Exception as error:  # the harness failed: a result with verdict error, exit 4
        return _harness_failed(args, spec, error, tolerances)
    verdicts = [str(o.verdict) for o in result.outcomes]
    print(
        f"scenario {spec.name!r}: {len(result.outcomes)} case(s)"
        + (" (budget exhausted)" if result.exhausted_budget else "")
    )
    for outcome in result.outcomes:
        if outcome.verdict != "valid":
            print(
                f"case {outcome.scenario.plan.describe().replace(chr(10), '; ')}: {outcome.verdict}"
            )
            _print_checks(outcome)
    verdict = reports.merge_verdicts(verdicts) if verdicts else "unknown"
    print(f"verdict: {verdict}")
    bundle = file_result_and_history(result)
    try:
        return finish_run(
            bundle.result,
            bundle.history,
            report_dir=args.report,
            baseline=args.baseline,
            tolerances=tolerances,
        )
    except reports.ReportError as error:
        raise UsageError(str(error)) from None


def _import_root(root: Any) -> None:
    """Put the folder the token's workflow module was imported from on ``sys.path``, but only
    under the current folder: a pasted token must not make chaosflow import code from a place
    of its choosing. Elsewhere, an import that fails says where the module was (PYTHONPATH)."""
    if not isinstance(root, str):
        return
    folder = Path(root)
    under_here = folder.is_dir() and folder.resolve().is_relative_to(Path.cwd().resolve())
    if under_here and root not in sys.path:
        sys.path.append(root)  # appended: it shadows nothing already importable


def _replay(args: argparse.Namespace) -> int:
    import reports
    from scenarios import (
        HarnessError,
        ScenarioError,
        decode_replay_token,
        load_scenario_file,
        replay,
        run_in_process,
        scenario_from_token,
    )

    from ._results import result_and_history

    token: dict[str, Any] = {}
    try:
        token = decode_replay_token(args.token)
        _import_root(token.get("root"))
        if token.get("generated") and not token.get("source"):
            # A generated case, or one built in code around a module-level workflow, carries
            # its workflow (spec or module:attribute) and inputs: no file needed.
            outcome = run_in_process(scenario_from_token(args.token))
            name = outcome.scenario.name
        elif not token.get("source"):
            raise UsageError(
                "This replay token names no scenario file and no workflow (it came from a "
                "scenario built in code around a workflow that is not a module attribute); "
                f"rerun that code with --chaos-seed {token.get('seed')} instead."
            )
        else:
            from ._replay_source import ReplaySourceError, replay_source

            if token.get("file") is not None and args.scenario is None:
                # The file as it was when the token was made: the same case whatever the
                # folder and whatever has changed in the file since. Its text goes through
                # the same bounded loader as a file; no file is read.
                spec = load_scenario_file(token["source"], text=token["file"])
            else:
                try:
                    spec = load_scenario_file(replay_source(token, args.scenario))
                except ReplaySourceError as error:
                    raise UsageError(str(error)) from None
            name = spec.name
            # Tokens from real-mode runs say so; older tokens carry no mode and replay in the sim.
            mode = str(token.get("mode", "sim"))
            outcome = replay(token["plan"], spec, int(token["seed"]), mode=mode)
    except HarnessError as error:  # the harness failed, not the input: no verdict, exit 4
        print(f"chaosflow: the harness could not finish the replay: {error}", file=sys.stderr)
        print("verdict: error")
        return EXIT_HARNESS
    except ScenarioError as error:
        message = str(error)
        root = token.get("root")
        if "Cannot import module" in message and isinstance(root, str):
            message += (
                f" The token says it was imported from {root!r}: replay with PYTHONPATH={root}."
            )
        raise UsageError(message) from None
    print(
        f"replaying {name!r} seed {token['seed']} (mode {outcome.mode}): "
        f"{outcome.scenario.plan.describe().replace(chr(10), '; ')}"
    )
    _print_checks(outcome)
    print(f"verdict: {outcome.verdict}")
    if args.report:
        bundle = result_and_history([outcome])
        paths = reports.write_reports(bundle.result, Path(args.report), history=bundle.history)
        print("report: " + ", ".join(str(p) for p in paths.values()))
    return _exit_code(str(outcome.verdict))


def _worker(args: argparse.Namespace) -> int:
    from orchestrator import (
        Orchestrator,
        OrchestratorError,
        StoreUnavailable,
        WorkerPool,
        import_workflow,
    )

    if not 0 <= args.store_wait < float("inf"):
        raise UsageError(f"--store-wait={args.store_wait!r} must be a number of seconds >= 0.")
    wait = min(args.store_wait, args.max_seconds)  # the wait is part of the worker's time
    started = time.monotonic()
    try:
        orchestrator = Orchestrator.open_waiting(
            args.db, wait_seconds=wait, concurrency=args.concurrency
        )
        for spec in args.workflow:
            orchestrator.register(import_workflow(spec))
    except StoreUnavailable as error:
        print(f"chaosflow: error: waited {wait:g}s for the store: {error}", file=sys.stderr)
        return EXIT_STORE_UNAVAILABLE
    except OrchestratorError as error:
        raise UsageError(str(error)) from None
    if args.crash_at:
        from faults import CRASH_POINTS, CrashAt

        point, _, rest = args.crash_at.partition(":")
        step, _, nth = rest.partition(":")
        if point not in CRASH_POINTS:
            raise UsageError(
                f"--crash-at point={point!r} is not a crash point; use one of "
                f"{', '.join(CRASH_POINTS)}"
            )
        orchestrator.hooks.add_listener(
            CrashAt(point, step or None, int(nth or 1), args.crash_mode)  # NTH checked already
        )
    pool = WorkerPool(
        orchestrator, args.concurrency, worker_id=args.worker_id, lease_seconds=args.lease_seconds
    )
    stop_when = (lambda: orchestrator.unfinished_runs() == 0) if args.until_idle else None
    remaining = max(args.max_seconds - (time.monotonic() - started), 0.0)
    from ._health_lines import health_lines

    with health_lines(orchestrator, pool.worker_id, args.health_interval):
        handled = pool.run(max_seconds=remaining, stop_when=stop_when)
    ids = [worker.worker_id for worker in pool.workers]
    print(json.dumps({"worker_id": pool.worker_id, "workers": ids, "steps_handled": handled}))
    return EXIT_VALID


def _submit(args: argparse.Namespace) -> int:
    from orchestrator import OrchestratorError

    orchestrator = _orchestrator(args)
    from ._options import parse_run_input

    payload = parse_run_input(args.input)  # checked by check_options already
    name = orchestrator.registry.names()[0]
    try:
        run_id = orchestrator.submit(
            name, payload, run_id=args.run_id, correlation_id=args.correlation_id
        )
    except (OrchestratorError, ValueError) as error:
        raise UsageError(str(error)) from None
    print(run_id)
    return EXIT_VALID


def _status(args: argparse.Namespace) -> int:
    from orchestrator import UnknownRun

    orchestrator = _orchestrator(args, must_exist=True)
    try:
        print(json.dumps(orchestrator.status(args.run_id).to_dict(), indent=2))
    except UnknownRun as error:
        raise UsageError(str(error)) from None
    return EXIT_VALID


def _runs(args: argparse.Namespace) -> int:
    from ._runs_verb import RunsUsageError, run_runs

    try:
        return run_runs(args, _orchestrator(args, must_exist=True))
    except RunsUsageError as error:
        raise UsageError(str(error)) from None


def _cancel(args: argparse.Namespace) -> int:
    from orchestrator import IllegalTransition, UnknownRun

    orchestrator = _orchestrator(args, must_exist=True)
    try:
        status = orchestrator.cancel(args.run_id, reason=args.reason)
    except (UnknownRun, IllegalTransition) as error:
        raise UsageError(str(error)) from None
    print(json.dumps(status.to_dict(), indent=2))
    return EXIT_VALID


def _events(args: argparse.Namespace) -> int:
    orchestrator = _orchestrator(args, must_exist=True)
    for event in orchestrator.events(args.run_id):
        print(
            json.dumps(
                {
                    "seq": event.seq,
                    "run_id": event.run_id,
                    "step": event.step,
                    "kind": event.kind,
                    "attempt": event.attempt,
                    "worker_id": event.worker_id,
                    "at": event.at,
                    "detail": dict(event.detail),
                }
            )
        )
    return EXIT_VALID


def _serve(args: argparse.Namespace) -> int:
    from orchestrator import serve_http

    from ._serve_token import TokenError, resolve_token

    try:
        token = resolve_token(args)
    except TokenError as error:
        raise UsageError(str(error)) from None
    # Several worker threads on SQLite share commits (group commit); see Orchestrator.
    orchestrator = _orchestrator(args, concurrency=max(args.workers, 1))
    try:
        serve_http(
            orchestrator,
            host=args.host,
            port=args.port,
            token=token,
            docs=args.docs,
            workers=args.workers,
            lease_seconds=args.lease_seconds,
            max_seconds=args.max_seconds,
        )
    except ValueError as error:
        raise UsageError(str(error)) from None
    return EXIT_VALID


if __name__ == "__main__":
    sys.exit(main())

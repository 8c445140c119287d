"""``chaosflow report``, and the baseline check that ``run``, ``replay`` and ``load`` share.

Exit codes of every verb that judges (see README, "Exit codes"): 0 valid (and no regression),
1 invalid, 2 bad input, 3 unknown, 4 the harness could not finish (verdict ``error``), 5 valid or
unknown but regressed against the baseline. When several apply the first of 2, 4, 1, 3, 5 wins.
``chaosflow report`` itself only renders and compares: it exits 0, 5 on a regression, 2 on bad
input (a malformed result, an unknown schema, a baseline of another scenario).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Final, TextIO

import pandas as pd

import reports

EXIT_VALID, EXIT_INVALID, EXIT_USAGE, EXIT_UNKNOWN = 0, 1, 2, 3
EXIT_ERROR: Final = 4
EXIT_REGRESSION: Final = 5
DEFAULT_OUT: Final = "reports-out"
_DEFAULTS: Final = reports.Tolerances()


def verdict_exit_code(verdict: str) -> int:
    """0 valid, 1 invalid, 3 unknown, 4 error."""
    return {"valid": EXIT_VALID, "invalid": EXIT_INVALID, "error": EXIT_ERROR}.get(
        verdict, EXIT_UNKNOWN
    )


def exit_code(verdict: str, comparison: reports.Comparison | None) -> int:
    """The exit code of a judged run: the verdict's, or 5 for a regression of a valid/unknown."""
    code = verdict_exit_code(verdict)
    if code in (EXIT_VALID, EXIT_UNKNOWN) and comparison is not None and comparison.regressed:
        return EXIT_REGRESSION
    return code


def add_baseline_arguments(parser: argparse.ArgumentParser, *, many: bool = False) -> None:
    """``--baseline`` and the tolerances of the comparison, for any verb that writes a result."""
    parser.add_argument(
        "--baseline",
        action="append" if many else "store",
        metavar="FILE",
        help="a result.json of an earlier run of the same scenario to compare with"
        + (" (repeatable: one per scenario)" if many else "")
        + f"; a regression exits {EXIT_REGRESSION}",
    )
    tolerances = parser.add_argument_group("regression tolerances (with --baseline)")
    tolerances.add_argument(
        "--score-tolerance",
        type=float,
        default=_DEFAULTS.score_points,
        metavar="POINTS",
        help=f"a score may fall this much (default {_DEFAULTS.score_points:g})",
    )
    tolerances.add_argument(
        "--completion-tolerance",
        type=float,
        default=_DEFAULTS.completion_rate,
        metavar="FRACTION",
        help=f"the completion rate may fall this much (default {_DEFAULTS.completion_rate:g})",
    )
    tolerances.add_argument(
        "--p99-tolerance",
        type=float,
        default=_DEFAULTS.p99_ratio,
        metavar="FRACTION",
        help=f"end-to-end p99 may rise this much, relative (default {_DEFAULTS.p99_ratio:g}); "
        f"a rise of {_DEFAULTS.p99_floor_ms:g} ms or less never counts",
    )
    tolerances.add_argument(
        "--recovery-tolerance",
        type=float,
        default=_DEFAULTS.recovery_ratio,
        metavar="FRACTION",
        help=f"time to recover may rise this much, relative (default "
        f"{_DEFAULTS.recovery_ratio:g}); a rise of {_DEFAULTS.recovery_floor_s:g} s or less "
        "never counts",
    )


def tolerances_of(args: argparse.Namespace) -> reports.Tolerances:
    """The tolerances the command line asked for (the defaults where it did not)."""
    return reports.Tolerances(
        score_points=args.score_tolerance,
        completion_rate=args.completion_tolerance,
        p99_ratio=args.p99_tolerance,
        recovery_ratio=args.recovery_tolerance,
    )


def _formats(text: str) -> list[str]:
    asked = [part.strip() for part in text.split(",") if part.strip()]
    unknown = [name for name in asked if name not in reports.REPORT_FORMATS]
    if unknown or not asked:
        raise reports.ReportError(
            f"--format={text!r} names {unknown or 'no format'}; give a comma-separated list of "
            f"{', '.join(reports.REPORT_FORMATS)} (e.g. --format md,html)."
        )
    return asked


def add_report_parser(verbs: Any) -> None:
    """Register ``chaosflow report`` on the command's subparsers."""
    report = verbs.add_parser(
        "report",
        help="render results (md, html, json, junit), compare with a baseline",
        description="Render one or many result.json files; with a baseline, flag regressions "
        f"and exit {EXIT_REGRESSION} on one. Exit 2 on a malformed result.",
    )
    report.add_argument("results", nargs="+", metavar="RESULT", help="result.json (or its folder)")
    report.add_argument(
        "--format",
        default="md,html,json,junit",
        metavar="LIST",
        help="comma-separated formats (default md,html,json,junit)",
    )
    report.add_argument(
        "--out", default=DEFAULT_OUT, metavar="DIR", help=f"where to write (default {DEFAULT_OUT})"
    )
    report.add_argument("--title", default="suite", help="the index page's title (many results)")
    add_baseline_arguments(report, many=True)


def _load(path: str, what: str) -> reports.ResilienceResult:
    try:
        return reports.load_result(path)
    except reports.ReportError as error:
        raise reports.ReportError(f"{what} {error}") from None


def _print_result(
    result: reports.ResilienceResult, comparison: reports.Comparison | None, out: TextIO
) -> None:
    shown = "none" if result.score is None else f"{result.score:.1f}"
    print(
        f"scenario {result.scenario!r}: verdict {result.verdict}, score {shown}, "
        f"{len(result.anomalies)} anomalies",
        file=out,
    )
    if comparison is not None:
        headline = (
            "regressed: " + "; ".join(comparison.reasons)
            if comparison.regressed
            else "no regression against the baseline"
        )
        print(f"  baseline: {headline}", file=out)


def report_main(args: argparse.Namespace, out: TextIO | None = None) -> int:
    """Run ``chaosflow report``; returns the exit code (2 on bad input, with no traceback)."""
    out = out or sys.stdout
    try:
        formats = _formats(args.format)
        results = [_load(path, "RESULT") for path in args.results]
        baselines = [_load(path, "--baseline") for path in args.baseline or []]
        tolerances = tolerances_of(args)
        sources = [Path(p) if Path(p).is_dir() else Path(p).parent for p in args.results]
        if len(results) == 1:
            result = results[0]
            baseline = reports.baselines_by_scenario(results, baselines).get(result.scenario)
            comparison = reports.compare(result, baseline, tolerances) if baseline else None
            paths = reports.write_reports(
                result,
                args.out,
                formats,
                baseline=baseline,
                tolerances=tolerances,
                artifacts_from=sources[0],
            )
            _print_result(result, comparison, out)
            print("report: " + ", ".join(str(p) for p in paths.values()), file=out)
            regressed = comparison is not None and comparison.regressed
        else:
            suite = reports.write_suite(
                results,
                args.out,
                formats,
                baselines=baselines,
                tolerances=tolerances,
                title=args.title,
                artifacts_from=sources,
            )
            for result, comparison in zip(results, suite.comparisons, strict=True):
                _print_result(result, comparison, out)
            print("index: " + ", ".join(str(p) for p in suite.paths.values()), file=out)
            regressed = suite.regressed
    except reports.ReportError as error:
        print(f"chaosflow report: error: {error}", file=sys.stderr)
        return EXIT_USAGE
    return EXIT_REGRESSION if regressed else EXIT_VALID


def finish_run(
    result: reports.ResilienceResult,
    history: dict[str, pd.DataFrame] | None = None,
    *,
    report_dir: str | Path | None = None,
    baseline: str | Path | None = None,
    tolerances: reports.Tolerances | None = None,
    formats: Sequence[str] = ("json", "md", "html", "junit"),
    out: Callable[[str], None] = print,
) -> int:
    """Write ``result``'s reports (if ``report_dir``), compare it with ``baseline`` (a
    result.json, if given), print both, and return the exit code (see the module).

    For ``chaosflow run``, ``replay`` and ``load``. A baseline that cannot be read or is of
    another scenario raises :class:`reports.ReportError` (the caller exits 2).
    """
    comparison = None
    if baseline is not None:
        previous = _load(str(baseline), "--baseline")
        comparison = reports.compare(result, previous, tolerances)
        if comparison.regressed:
            out("regressed against the baseline: " + "; ".join(comparison.reasons))
        else:
            out("baseline: no regression")
    if report_dir is not None:
        paths = reports.write_reports(
            result,
            report_dir,
            formats,
            history=history,
            tolerances=tolerances,
            baseline=previous if baseline is not None else None,
        )
        out("report: " + ", ".join(str(p) for p in paths.values()))
    return exit_code(result.verdict, comparison)

"""Scenario files: load and validate them, run their cases, replay one from its token."""

from ._scenario_file import (
    EXPLORATIONS,
    MODES,
    Budget,
    FileOutcome,
    ScenarioFile,
    check_runnable,
    load_scenario_file,
    replay,
    run_case,
    run_scenario_file,
)

__all__ = [
    "Budget",
    "EXPLORATIONS",
    "FileOutcome",
    "MODES",
    "ScenarioFile",
    "check_runnable",
    "load_scenario_file",
    "replay",
    "run_case",
    "run_scenario_file",
]

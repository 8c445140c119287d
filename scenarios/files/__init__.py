"""Scenario files: load and validate them, run their cases, replay one from its token."""

from ._file_model import BudgetModel, ScenarioFileModel, StoreModel
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
    scenario_from_data,
)

__all__ = [
    "Budget",
    "BudgetModel",
    "EXPLORATIONS",
    "FileOutcome",
    "MODES",
    "ScenarioFile",
    "ScenarioFileModel",
    "StoreModel",
    "check_runnable",
    "load_scenario_file",
    "replay",
    "run_case",
    "run_scenario_file",
    "scenario_from_data",
]

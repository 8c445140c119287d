"""Generation and search: Hypothesis strategies for workflows, inputs, behaviours and fault
plans; the crash points to explore; the search that finds a failing case and shrinks it."""

from ._exploration import crash_cases, crash_points, observed_crash_points
from ._fault_plans import fault_plans
from ._profiles import PROFILES, ExplorationProfile, exploration_profile, register_profiles
from ._search import SearchResult, search, search_scenarios
from ._strategies import (
    Behaviour,
    GeneratedRefusal,
    GeneratedStepError,
    StepSpec,
    WorkflowSpec,
    build_workflow,
    describe_scenario,
    generated_scenarios,
    scenario_from_token,
    scenarios_around,
    simpler_scenarios,
    step_behaviours,
    workflow_inputs,
    workflow_specs,
    workflows,
)

__all__ = [
    "Behaviour",
    "ExplorationProfile",
    "GeneratedRefusal",
    "GeneratedStepError",
    "PROFILES",
    "SearchResult",
    "StepSpec",
    "WorkflowSpec",
    "build_workflow",
    "crash_cases",
    "crash_points",
    "describe_scenario",
    "exploration_profile",
    "fault_plans",
    "generated_scenarios",
    "observed_crash_points",
    "register_profiles",
    "scenario_from_token",
    "scenarios_around",
    "search",
    "search_scenarios",
    "simpler_scenarios",
    "step_behaviours",
    "workflow_inputs",
    "workflow_specs",
    "workflows",
]

"""One load run, end to end: start the rig, run Locust headless, strike and heal the fault
windows on their timer, let the runs drain, stop everything, judge every run the load submitted.

The fault windows are a ``faults.FaultPlan`` (the scenarios' format), carried out by a
``faults.Nemesis`` whose origin is the moment Locust's shape began, so ``trigger.at`` is seconds
into the load. The checkers (``scenarios.check``) judge the store's event log and the services'
ledger once the workers have stopped, with every acknowledged run expected to end within
``progress_bound_s`` of the load's end.
"""

from __future__ import annotations

import json
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from faults import FaultPlan, InjectedFault, Nemesis
from loadtests import (
    LoadProfile,
    LoadRecord,
    LoadTestError,
    LocustPlan,
    LocustRun,
    locust_config,
)
from orchestrator import EventRow, RunStatus, Workflow, import_workflow
from scenarios import History, Judgement, check

from ._load_rig import LoadRig

_POLL = 0.05


@dataclass
class LoadOutcome:
    """Everything a load run produced, before it is measured and reported."""

    profile: LoadProfile
    workflow: Workflow
    record: LoadRecord
    judgement: Judgement
    runs: list[RunStatus]
    events: list[EventRow]
    timeline: list[InjectedFault]
    acknowledged: list[str]
    started_at: str
    wall_s: float
    locust_exit: int
    meta: dict[str, Any] = field(default_factory=dict)
    pids: list[int] = field(default_factory=list)


def fault_plan(profile: LoadProfile) -> FaultPlan:
    """The profile's fault windows as a fault plan (validated by ``faults``)."""
    return FaultPlan.from_dict({"faults": list(profile.faults), "seed": profile.seed})


def run_load(
    profile: LoadProfile, report_dir: Path, *, say: Callable[[str], None] = print
) -> LoadOutcome:
    """Run ``profile`` with Locust's files in ``report_dir``; every process is gone on return."""
    workflow = import_workflow(profile.workflow)
    plan = fault_plan(profile)
    report_dir.mkdir(parents=True, exist_ok=True)
    started_wall = time.perf_counter()
    started_at = datetime.now(UTC).isoformat(timespec="seconds")
    with tempfile.TemporaryDirectory(prefix="chaosflow-load-") as tmp:
        work = Path(tmp)
        with LoadRig(profile, workflow, work) as rig:
            say(
                f"  store {rig.meta()['store']}, {profile.workers} worker process(es), "
                f"API {rig.api_url}"
            )
            config = locust_config(
                profile,
                workflow_name=workflow.name,
                host_url=rig.api_url,
                out_dir=str(report_dir.resolve()),
                db_url=rig.worker_db_url,
            )
            # The config holds the API token: it stays in the work folder, not the report.
            config_path = work / "locust_config.json"
            config_path.write_text(json.dumps(config), encoding="utf-8")
            locust = LocustRun(
                LocustPlan(
                    out_dir=report_dir,
                    config_path=config_path,
                    host_url=rig.api_url,
                    user_class="WorkflowUser" if profile.user == "http" else "OrchestratorUser",
                    duration_s=profile.duration_s,
                    stop_timeout_s=profile.drain_s,
                    workers=profile.distributed.workers,
                    remote_workers=profile.distributed.remote_workers,
                    bind_host=profile.distributed.bind_host,
                    master_port=profile.distributed.port,
                )
            )
            nemesis: Nemesis | None = None
            try:
                locust.start()
                origin = locust.wait_started()
                say(
                    f"  load started: {profile.shape.kind}, {profile.users} users, "
                    f"{profile.duration_s:g} s"
                )
                nemesis = Nemesis(plan, rig.injectors(), origin=origin)
                while locust.poll() is None and not locust.overdue:
                    nemesis.tick(time.time())
                    rig.check_alive()
                    time.sleep(_POLL)
                code = locust.wait()
            except BaseException:
                locust.stop()
                raise
            finally:
                if nemesis is not None:
                    nemesis.heal_all(time.time())
            record = locust.record()
            _check_record(profile, record, code)
            acknowledged = list(
                dict.fromkeys(s["run_id"] for s in record.samples if s.get("run_id"))
            )
            deadline = record.stopped_at + profile.progress_bound_s
            assert rig.orchestrator is not None
            while time.time() < deadline and rig.orchestrator.unfinished_runs() > 0:
                rig.check_alive()
                time.sleep(0.1)
            rig.stop_workers()
            orchestrator = rig.orchestrator
            runs = orchestrator.runs()
            events = orchestrator.events()
            history = History.observe(
                orchestrator,
                rig.ledger.effects(),
                acknowledged,
                workflows=[workflow],
                progress_deadline=deadline,
                meta=rig.meta(),
                runs=runs,
            )
            judgement = check(history, profile.invariants)
            meta, pids = rig.meta(), [*rig.pids(), *locust.pids]
            _keep_logs(work / "logs", report_dir / "logs")
            processes = {**rig.processes(), "locust": locust.pids, "toxiproxy": meta["toxiproxy"]}
            (report_dir / "logs" / "processes.json").write_text(json.dumps(processes, indent=2))
    return LoadOutcome(
        profile=profile,
        workflow=workflow,
        record=record,
        judgement=judgement,
        runs=runs,
        events=events,
        timeline=list(nemesis.timeline) if nemesis is not None else [],
        acknowledged=acknowledged,
        started_at=started_at,
        wall_s=time.perf_counter() - started_wall,
        locust_exit=code,
        meta=meta,
        pids=pids,
    )


def _check_record(profile: LoadProfile, record: LoadRecord, code: int) -> None:
    """A Locust run whose figures cannot be trusted is a broken harness, not a result."""
    if code != 0:
        raise LoadTestError(f"Locust exited with code {code}; see locust.log in the report.")
    if record.exceptions:
        first = record.exceptions[0]
        raise LoadTestError(
            f"Locust's users raised {sum(e['count'] for e in record.exceptions)} exception(s), "
            f"so the samples are incomplete; the first: {first['msg']}\n{first['traceback']}"
        )
    expected = profile.distributed.workers + profile.distributed.remote_workers
    if expected and record.workers_reported != expected:
        raise LoadTestError(
            f"Only {record.workers_reported} of {expected} Locust workers sent their last "
            "samples before the master stopped, so the figures would be incomplete; see "
            "locust.log and locust-worker-*.log in the report."
        )


def _keep_logs(source: Path, target: Path) -> None:
    # The work folder (store, ledger) is temporary; the processes' logs are worth keeping.
    target.mkdir(parents=True, exist_ok=True)
    for log in source.glob("*.log"):
        (target / log.name).write_bytes(log.read_bytes())

"""The Locust side of ``chaosflow load``: users that submit runs and follow them, and the shape.

Only ever loaded by Locust in a process of its own (importing locust gevent-patches the whole
process); nothing in chaosflow imports this file. The config comes from the JSON file named by
``$CHAOSFLOW_LOAD_CONFIG`` (local and master processes) or from the master (Locust workers).

- :class:`WorkflowUser` submits runs of the profile's workflow with ``POST /runs`` and follows
  each with ``GET /runs/{id}`` until it ends; :class:`OrchestratorUser` does the same through
  the Python API, without HTTP. Submissions are Locust requests; each run's end is a request
  event of type ``RUN`` named after its outcome (completed, rolled_back, failed, unfinished)
  whose response time is the end-to-end latency, so Locust's stats, CSV and HTML show both.
- :class:`ProfileShape` follows the profile's shape; under ``arrival_rate`` the users take
  iterations from an :class:`~loadtests.ArrivalSchedule` and latency counts from each
  iteration's intended start.
- Every iteration is also one sample (times, outcome, errors), gathered in the local or master
  process (workers ship theirs with Locust messages) and written to ``load_samples.jsonl`` when
  the load stops, with ``load_run.json`` (the origin, the users each second, what reported).
"""

from __future__ import annotations

import json
import os
import random
import time
import uuid
from pathlib import Path
from typing import Any

import gevent
from locust import FastHttpUser, LoadTestShape, User, events, task
from locust.contrib.fasthttp import FastHttpSession
from locust.env import Environment
from locust.runners import MasterRunner, WorkerRunner

from loadtests._config import (
    CONFIG_ENV,
    RUN_EVENT_TYPE,
    RUN_FILE,
    SAMPLES_FILE,
    STARTED_FILE,
    InputSource,
    outcome_of,
)
from loadtests._profile import MAX_SECONDS
from loadtests._profile_load import import_object
from loadtests._shapes import ArrivalSchedule, users_at

CONFIG_MESSAGE = "chaosflow_config"
CONFIG_REQUEST = "chaosflow_config_request"
SAMPLES_MESSAGE = "chaosflow_samples"
_FLUSH_EVERY_S = 2.0
_CONFIG_WAIT_S = 30.0
_MAX_ERROR_TIMES = 1_000  # when a follow's failed polls happened, for the errors per second


class _State:
    """What this Locust process knows and has measured."""

    def __init__(self) -> None:
        self.config: dict[str, Any] | None = None
        self.environment: Environment | None = None
        self.samples: list[dict[str, Any]] = []  # this process's, not yet written or shipped
        self.gathered: list[dict[str, Any]] = []  # master: what the workers shipped
        self.finals: set[str] = set()  # master: workers whose last samples arrived
        self.users: list[tuple[float, int]] = []
        self.origin: float | None = None
        self.schedule: ArrivalSchedule | None = None
        self.stop_at = float("inf")  # this process's end of the load: no iteration starts after
        self.runs_started = 0
        self.written = False

    def wait_config(self) -> dict[str, Any]:
        deadline = time.monotonic() + _CONFIG_WAIT_S
        while self.config is None:
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"No load config after {_CONFIG_WAIT_S:g} s: set ${CONFIG_ENV} (local or "
                    "master) or start this worker against a chaosflow master."
                )
            gevent.sleep(0.05)
        return self.config


_orchestrators: dict[str, Any] = {}


def _use_config(config: dict[str, Any]) -> None:
    generator = config["inputs"].get("generator")
    if generator:
        # Before the load, as the orchestrator below: a generator's module may import the
        # orchestrator, seconds on a loaded machine during which no user of this process runs.
        import_object(generator)
    _state.config = config
    if config["user"] == "python" and config["db_url"] not in _orchestrators:
        # Before the load, not in a user's on_start: importing the orchestrator takes seconds,
        # during which no greenlet of this process runs.
        from orchestrator import Orchestrator, import_workflow

        made = Orchestrator(config["db_url"], create_schema=False)
        made.register(import_workflow(config["workflow_spec"]))
        _orchestrators[config["db_url"]] = made


_state = _State()
if os.environ.get(CONFIG_ENV):
    _use_config(json.loads(Path(os.environ[CONFIG_ENV]).read_text(encoding="utf-8")))


def _error_kind(response: Any) -> str:
    if response.status_code:
        return f"http_{response.status_code}"
    error = getattr(response, "error", None)
    if error is None:
        return "connection"
    name = type(error).__name__
    return "timeout" if "timeout" in name.lower() else f"connection_{name}"


def _new_run_id() -> str:
    assert _state.config is not None
    return f"{_state.config['name'][:80]}-{uuid.uuid4().hex}"


def _json_field(response: Any, field: str) -> Any:
    try:
        body = response.json()
    except (TypeError, ValueError):
        return None
    return body.get(field) if isinstance(body, dict) else None


class _Follower:
    """The iteration every user runs: take a start time, submit, follow to the end, record."""

    config: dict[str, Any]
    inputs: InputSource
    environment: Environment

    def _prepare(self) -> None:
        self.config = _state.wait_config()
        seed = int(self.config["seed"]) * 1_000_003 + id(self) % 1_000_003
        self.rng = random.Random(seed)
        self.inputs = InputSource(self.config["inputs"], self.rng)

    def submit(self, payload: dict[str, Any]) -> tuple[str | None, str | None]:
        raise NotImplementedError

    def state_of(self, run_id: str) -> tuple[str | None, str | None]:
        raise NotImplementedError

    def think(self) -> float:
        if self.config["shape"]["kind"] == "arrival_rate":
            return 0.0
        low, high = self.config["think_time_s"]
        return float(self.rng.uniform(low, high))

    def iterate(self) -> None:
        intended = self._start_time()
        if intended is None or intended >= _state.stop_at:
            gevent.sleep(0.5)  # nothing more to start: wait for the shape to stop the run
            return
        if _state.runs_started >= self.config["max_runs_per_process"]:
            gevent.sleep(0.5)
            return
        _state.runs_started += 1
        sample: dict[str, Any] = {
            "intended": intended,
            "start": time.time(),
            "errors": {},
            "pid": os.getpid(),  # which Locust process ran it
        }
        try:
            run_id, error = self.submit(self.inputs.next())
            if run_id is None:
                sample["outcome"], sample["error"] = "submit_error", f"submit_{error}"
            else:
                sample["ack"], sample["run_id"] = time.time(), run_id
                sample["outcome"] = self._follow(run_id, sample)
        finally:
            # Stopped by the end of the load: mid-follow, the run is unfinished; mid-submit,
            # nobody knows whether the submission arrived, and it was never acknowledged.
            sample.setdefault("outcome", "unfinished" if "run_id" in sample else "interrupted")
            sample["end"] = time.time()
            _state.samples.append(sample)
            if "run_id" in sample:
                self._report_end(sample)
        gevent.sleep(self.think())  # after a failed submission too: no spinning on an outage

    def _start_time(self) -> float | None:
        if self.config["shape"]["kind"] != "arrival_rate":
            return time.time()
        schedule = _state.schedule
        if schedule is None:
            return None
        runner = self.environment.runner
        target = getattr(runner, "target_user_count", None) or self.config["users"]
        intended, dropped = schedule.take(time.time(), share=target / self.config["users"])
        if dropped:
            _state.samples.append({"outcome": "dropped", "count": dropped, "end": time.time()})
        if intended is not None and intended > time.time():
            gevent.sleep(intended - time.time())
        return intended

    def _follow(self, run_id: str, sample: dict[str, Any]) -> str:
        errors: dict[str, int] = sample["errors"]
        error_at: list[float] = sample.setdefault("error_at", [])
        follow = self.config["follow"]
        deadline = time.time() + follow["timeout_s"]
        pause = follow["poll_s"]
        while time.time() < deadline:
            state, error = self.state_of(run_id)
            if error is not None:
                errors[f"follow_{error}"] = errors.get(f"follow_{error}", 0) + 1
                if len(error_at) < _MAX_ERROR_TIMES:
                    error_at.append(time.time())
            elif state is not None and outcome_of(state) is not None:
                return str(outcome_of(state))
            gevent.sleep(min(pause, max(0.0, deadline - time.time())))
            pause = min(pause * 1.5, follow["max_poll_s"])
        return "unfinished"

    def _report_end(self, sample: dict[str, Any]) -> None:
        outcome = sample["outcome"]
        failed = outcome in ("failed", "unfinished")
        events.request.fire(
            request_type=RUN_EVENT_TYPE,
            name=outcome,
            response_time=(sample["end"] - sample["intended"]) * 1000.0,
            response_length=0,
            exception=RuntimeError(f"run {sample['run_id']} {outcome}") if failed else None,
            context={},
        )


class WorkflowUser(_Follower, FastHttpUser):
    """Submits runs of the profile's workflow over HTTP and follows each one to its end."""

    def wait_time(self) -> float:
        """No wait between iterations: an iteration sleeps its own think time."""
        return 0.0

    def on_start(self) -> None:
        """Read the config; build the HTTP client with the profile's timeouts and token."""
        self._prepare()
        timeout = float(self.config["request_timeout_s"])
        self.client = FastHttpSession(
            base_url=self.host,
            request_event=self.environment.events.request,
            user=self,
            network_timeout=timeout,
            connection_timeout=timeout,
            # One retry of a connection the server closed while idle (keep-alive): safe, as
            # every submission carries its own run id, so a repeated POST is the same run.
            max_retries=1,
            insecure=True,
        )
        token = self.config.get("token")
        self.headers = {"Authorization": f"Bearer {token}"} if token else {}

    def submit(self, payload: dict[str, Any]) -> tuple[str | None, str | None]:
        """``POST /runs``; the run id, or the kind of error."""
        body = {"workflow": self.config["workflow"], "input": payload, "run_id": _new_run_id()}
        with self.client.post(
            "/runs", json=body, headers=self.headers, name="POST /runs", catch_response=True
        ) as response:
            run_id = _json_field(response, "run_id") if response.status_code == 202 else None
            if isinstance(run_id, str) and run_id:
                response.success()
                return run_id, None
            kind = _error_kind(response)
            response.failure(f"submit: {kind}")
            return None, kind

    def state_of(self, run_id: str) -> tuple[str | None, str | None]:
        """``GET /runs/{id}``; the run's state, or the kind of error."""
        with self.client.get(
            f"/runs/{run_id}", headers=self.headers, name="GET /runs/[id]", catch_response=True
        ) as response:
            state = _json_field(response, "state") if response.status_code == 200 else None
            if isinstance(state, str):
                response.success()
                return state, None
            kind = _error_kind(response)
            response.failure(f"follow: {kind}")
            return None, kind

    @task
    def run_workflow(self) -> None:
        """One iteration: submit a run and follow it to its end."""
        self.iterate()


class OrchestratorUser(_Follower, User):
    """Submits and follows runs through the orchestrator's Python API, without HTTP."""

    def wait_time(self) -> float:
        """No wait between iterations: an iteration sleeps its own think time."""
        return 0.0

    def on_start(self) -> None:
        """Read the config; the process's one orchestrator on the profile's store."""
        self._prepare()
        self.orchestrator = _orchestrators[self.config["db_url"]]

    def _timed(self, name: str, call: Any) -> tuple[Any, str | None]:
        started = time.perf_counter()
        try:
            value, error = call(), None
        except Exception as failure:  # a store error is a failed request, not a crash
            value, error = None, type(failure).__name__
        events.request.fire(
            request_type="python",
            name=name,
            response_time=(time.perf_counter() - started) * 1000.0,
            response_length=0,
            exception=None if error is None else RuntimeError(error),
            context={},
        )
        return value, error

    def submit(self, payload: dict[str, Any]) -> tuple[str | None, str | None]:
        """``Orchestrator.submit``; the run id, or the error's type."""
        workflow, given = self.config["workflow"], _new_run_id()
        run_id, error = self._timed(
            "submit", lambda: self.orchestrator.submit(workflow, payload, run_id=given)
        )
        return (str(run_id), None) if error is None else (None, error)

    def state_of(self, run_id: str) -> tuple[str | None, str | None]:
        """``Orchestrator.status``; the run's state, or the error's type."""
        status, error = self._timed("status", lambda: self.orchestrator.status(run_id))
        return (str(status.state), None) if error is None else (None, error)

    @task
    def run_workflow(self) -> None:
        """One iteration: submit a run and follow it to its end."""
        self.iterate()


class ProfileShape(LoadTestShape):
    """The profile's shape; at the end it stops the users (and the workers) itself, so every
    worker's last samples reach the master before it quits."""

    def tick(self) -> tuple[int, float] | None:
        """Users and spawn rate now, or None once the load is over."""
        config = _state.wait_config()
        t = self.get_run_time()
        if _state.origin is None:
            _start_load(time.time() - t, config)
        _state.users.append((time.time(), int(self.get_current_user_count())))
        users = users_at(config["shape"], config["users"], config["duration_s"], t)
        if users is None:
            assert self.runner is not None
            self.runner.stop()  # waits for users (and workers) to finish within the drain
            return None
        return users, float(config["spawn_rate"])


def _start_load(origin: float, config: dict[str, Any]) -> None:
    _state.origin = origin
    out = Path(config["out_dir"])
    (out / STARTED_FILE).write_text(json.dumps({"origin": origin}), encoding="utf-8")


def _make_schedule(config: dict[str, Any]) -> None:
    now = time.time()
    _state.stop_at = now + float(config["duration_s"])
    if config["shape"]["kind"] == "arrival_rate":
        _state.schedule = ArrivalSchedule(
            float(config["arrival_rate"]), origin=now, stop_at=now + float(config["duration_s"])
        )


@events.init.add_listener
def _on_init(environment: Environment, **_kwargs: Any) -> None:
    _state.environment = environment
    runner = environment.runner
    if isinstance(runner, WorkerRunner):

        def receive_config(msg: Any, **_kw: Any) -> None:
            _use_config(msg.data)

        runner.register_message(CONFIG_MESSAGE, receive_config)
        # Asked for, not pushed on connect: a message that arrives before this handler is
        # registered is dropped, and a worker connects before its init hooks run.
        runner.send_message(CONFIG_REQUEST, {})
        gevent.spawn(_ship_samples, runner)
    elif isinstance(runner, MasterRunner):

        def receive_samples(msg: Any, **_kw: Any) -> None:
            _state.gathered.extend(msg.data["samples"])
            if msg.data.get("final"):
                _state.finals.add(msg.node_id)

        def send_config(msg: Any, **_kw: Any) -> None:
            runner.send_message(CONFIG_MESSAGE, _state.wait_config(), client_id=msg.node_id)

        runner.register_message(SAMPLES_MESSAGE, receive_samples)
        runner.register_message(CONFIG_REQUEST, send_config)


def _ship_samples(runner: Any) -> None:
    # Bounded like the load itself; in any case the greenlet dies with the worker.
    for _ in range(int(2 * MAX_SECONDS / _FLUSH_EVERY_S)):
        gevent.sleep(_FLUSH_EVERY_S)
        _flush_to_master(runner, final=False)


def _flush_to_master(runner: Any, *, final: bool) -> None:
    batch, _state.samples = _state.samples, []
    if batch or final:
        runner.send_message(SAMPLES_MESSAGE, {"samples": batch, "final": final})


@events.test_start.add_listener
def _on_test_start(environment: Environment, **_kwargs: Any) -> None:
    if not isinstance(environment.runner, MasterRunner):
        _make_schedule(_state.wait_config())


@events.test_stop.add_listener
def _on_test_stop(environment: Environment, **_kwargs: Any) -> None:
    runner = environment.runner
    if isinstance(runner, WorkerRunner):
        _flush_to_master(runner, final=True)  # before Locust tells the master it stopped
        return
    if _state.written or _state.config is None:
        return
    _state.written = True
    out = Path(_state.config["out_dir"])
    samples = [*_state.samples, *_state.gathered]
    with (out / SAMPLES_FILE).open("w", encoding="utf-8") as file:
        for sample in samples:
            file.write(json.dumps(sample) + "\n")
    exceptions = [
        {"count": row["count"], "msg": row["msg"], "traceback": row["traceback"]}
        for row in (runner.exceptions.values() if runner is not None else [])
    ]
    meta = {
        "origin": _state.origin,
        "stopped_at": time.time(),
        "users": _state.users,
        "processes": _state.config["processes"],
        "workers_reported": len(_state.finals) if isinstance(runner, MasterRunner) else None,
        "exceptions": exceptions,
    }
    (out / RUN_FILE).write_text(json.dumps(meta), encoding="utf-8")

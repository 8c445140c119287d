"""Effect probes: what a service that cannot be changed applied, read after the run.

A probe is a SQL query against the service's own database or an HTTP endpoint of the service
(see :class:`ProbeSpec`); each row is one effect, mapped by column name. The runner reads every
probe once the services have settled, before it stops them (an HTTP probe needs the service
up), and the checkers judge these effects with the ledger's, as the services recorded them.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

import httpx
from sqlalchemy import create_engine, text
from sqlalchemy.exc import SQLAlchemyError

from .._errors import HarnessError
from ..effects import Effect
from ._service_spec import ProbeSpec
from ._services import ServiceProcess, fill

_REQUIRED = ("key", "run_id", "step")


def _rows(service: ServiceProcess, probe: ProbeSpec) -> list[Mapping[str, Any]]:
    where = f"services.{service.name}.probe"
    if probe.sql is not None:
        url = fill(str(probe.url), service.values)
        engine = create_engine(url)
        try:
            with engine.connect() as conn:
                return [dict(row._mapping) for row in conn.execute(text(probe.sql))]
        except SQLAlchemyError as error:
            raise HarnessError(
                f"{where}: the query sql={probe.sql!r} on url={url!r} failed: "
                f"{str(error).splitlines()[0]}. Check the query and the url."
            ) from None
        finally:
            engine.dispose()
    target = fill(str(probe.http), service.values)
    url = target if target.startswith("http") else f"http://{service.address}{target}"
    try:
        response = httpx.get(url, timeout=10.0)
        response.raise_for_status()
        data = response.json()
    except (httpx.HTTPError, ValueError) as error:
        raise HarnessError(
            f"{where}: http={probe.http!r} ({url}) could not be read: {error}. The endpoint "
            "must answer 200 with a JSON list of objects."
        ) from None
    if not isinstance(data, list) or not all(isinstance(item, Mapping) for item in data):
        raise HarnessError(
            f"{where}: http={probe.http!r} answered {str(data)[:200]!r}, not a JSON list of "
            "objects (one per effect, with key, run_id and step)."
        )
    return list(data)


def _time(value: Any, where: str) -> float:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            pass
        try:
            return datetime.fromisoformat(value).timestamp()
        except ValueError:
            pass
    raise HarnessError(
        f"{where}: at={value!r} is neither seconds since the epoch nor an ISO 8601 time."
    )


def read_probe(service: ServiceProcess, read_at: float) -> list[dict[str, Any]]:
    """The effects ``service``'s probe reports, as plain dicts (no seq yet); ``read_at`` is the
    time given to rows without an ``at`` column."""
    probe = service.spec.probe
    if probe is None:
        return []
    renamed: dict[str, str] = {str(k): v for k, v in probe.columns.items()}
    names = {f: renamed.get(f, f) for f in (*_REQUIRED, "kind", "at", "payload")}
    effects = []
    for number, row in enumerate(_rows(service, probe), start=1):
        where = f"services.{service.name}.probe row {number}"
        missing = [names[f] for f in _REQUIRED if row.get(names[f]) is None]
        if missing:
            raise HarnessError(
                f"{where}: no column(s) {missing!r} in {sorted(row)!r}; a probe row needs key, "
                "run_id and step (rename yours with probe.columns, e.g. {run_id: order_ref})."
            )
        kind = str(row.get(names["kind"]) or "apply")
        if kind not in ("apply", "compensate"):
            raise HarnessError(f"{where}: kind={kind!r} must be 'apply' or 'compensate'.")
        payload = row.get(names["payload"]) or {}
        if isinstance(payload, str):
            payload = json.loads(payload) if payload.startswith("{") else {"value": payload}
        at = row.get(names["at"])
        effects.append(
            {
                "service": service.name,
                "kind": kind,
                "key": str(row[names["key"]]),
                "run_id": str(row[names["run_id"]]),
                "step": str(row[names["step"]]),
                "at": read_at if at is None else _time(at, where),
                "pid": 0,
                "payload": dict(payload),
            }
        )
    return effects


class ObservedEffects:
    """The ledger's effects and the probes', as one list in the services' own time order."""

    def __init__(self, ledger: Any, probed: Sequence[Mapping[str, Any]]) -> None:
        self.ledger = ledger
        self.probed = list(probed)

    def effects(self) -> list[Effect]:
        """Every effect; with probes, ordered by the services' times and numbered again."""
        recorded: list[Effect] = self.ledger.effects()
        if not self.probed:
            return recorded
        merged: Iterable[Mapping[str, Any]] = sorted(
            [*(vars(e) for e in recorded), *self.probed], key=lambda e: float(e["at"])
        )
        return [Effect(**{**dict(item), "seq": seq}) for seq, item in enumerate(merged, start=1)]

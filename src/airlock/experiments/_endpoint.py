"""``analyze_endpoint``: an experiment over a served endpoint's prediction log."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from airlock.errors import InvalidInput, NotFound, UsageError

from ._analyze import run
from ._config import make_config
from ._logsource import LogRead
from ._result import ExperimentResult
from ._source import bucket_for

__all__ = ["MSG_NO_LOG", "MSG_ONE_ROUTE", "analyze_endpoint", "config_hash"]

MSG_NO_LOG = "endpoint {name!r} has no prediction log here; logged endpoints: {known}"
MSG_ONE_ROUTE = ("endpoint {name!r} has one route ({route}): an experiment needs a control "
                 "and at least one other route")


def config_hash(config: Any) -> str | None:
    """sha256 of the endpoint config's canonical JSON (what was served, byte for byte)."""
    if config is None:
        return None
    data = config.model_dump(mode="json") if hasattr(config, "model_dump") else config
    text = json.dumps(data, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def _from_config(endpoint_config: Any, options: dict[str, Any], notes: list[str],
                 name: str) -> tuple[str, ...] | None:
    if endpoint_config is None:
        return None
    routes = list(endpoint_config.route_names())
    if len(routes) < 2:
        raise InvalidInput(MSG_ONE_ROUTE.format(name=name, route=routes[0]))
    if options.get("expected_split") is None:
        options["expected_split"] = {n: float(r.weight) for n, r in
                                     zip(routes, endpoint_config.routes, strict=True)}
    sticky = getattr(endpoint_config, "sticky", None)
    if options.get("unit") is None and sticky is not None:
        if sticky.field:
            options["unit"] = f"inputs.{sticky.field}"
        else:
            notes.append(f"routing is sticky on the header {sticky.header}, which the log "
                         "does not keep: exposures are counted as requests")
    return tuple(routes)


def analyze_endpoint(name: str, *, since: str | datetime | None = "7d",
                     until: str | datetime | None = None, endpoint_config: Any = None,
                     artifact_uri: str | None = None, spool_dir: Path | str | None = None,
                     **options: Any) -> ExperimentResult:
    """The experiment in endpoint ``name``'s prediction log between ``since`` and ``until``
    (datetimes, ISO strings or a duration back from now), read in one streamed pass with
    the feedback labels joined. ``endpoint_config`` (an ``EndpointConfig``) gives the
    routes, their configured split (for the SRM test), the sticky unit and the config hash.
    Options as for :func:`analyze` (``variant`` is always the route)."""
    from airlock.monitor import to_datetime
    from airlock.predlog import logged_endpoints

    lo, hi = to_datetime(since, "since"), to_datetime(until, "until")
    if lo is not None and hi is not None and lo >= hi:
        raise UsageError(f"since ({lo.isoformat()}) must be before until ({hi.isoformat()})")
    known = logged_endpoints(artifact_uri, spool_dir)
    if name not in known:
        raise NotFound(MSG_NO_LOG.format(name=name, known=", ".join(known) or "none"))
    notes: list[str] = []
    variants = _from_config(endpoint_config, options, notes, name)
    options.pop("variant", None)
    config = make_config(variant="route", **options)
    read = LogRead(name, config, lo, hi, artifact_uri=artifact_uri, spool_dir=spool_dir,
                   variants=variants)
    now = datetime.now(UTC)
    lo_ms = int(lo.timestamp() * 1000) if lo is not None else 0
    hi_ms = int((hi or now).timestamp() * 1000)
    bucket = bucket_for(lo_ms, hi_ms) if lo is not None else None
    window = {"since": lo.isoformat() if lo else None, "until": (hi or now).isoformat()}
    span = f"the prediction log of {name!r} from {window['since'] or 'the start'} to " \
           f"{window['until']}"
    result = _run(read, config, span, lo_ms, bucket, notes, window, endpoint_config)
    return result


def _run(read: LogRead, config: Any, span: str, lo_ms: int, bucket: int | None,
         notes: list[str], window: dict[str, Any], endpoint_config: Any) -> ExperimentResult:
    return run(read.frames(), config, where=span, origin_ms=lo_ms, bucket_ms=bucket,
               extra={"endpoint": read.endpoint, "window": window,
                      "config_hash": config_hash(endpoint_config)},
               versions=read.versions, notes=notes,  # both filled as the stream is read
               late_notes=lambda: _left_out(read))


def _left_out(read: LogRead) -> list[str]:
    if not read.left_out:
        return []
    parts = ", ".join(f"{k}: {v:,}" for k, v in sorted(read.left_out.items()))
    return [f"requests not attributable to a variant, left out ({parts})"]

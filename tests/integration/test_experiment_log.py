"""analyze_endpoint over a real prediction log: what counts as an exposure (every answered
request of a route, never the shadow; fallback, guard and rejected requests left out and
named), versions per variant, the sticky unit and split from the endpoint config."""

from __future__ import annotations

import time

import pyarrow as pa
import pytest
from tests.integration.experiment_helpers import EP, Traffic, write_traffic

from airlock.errors import InvalidInput, NotFound
from airlock.experiments import MSG_NO_TRAFFIC, analyze_endpoint, config_hash
from airlock.predlog import PredictionLog, log_locations, make_records


@pytest.fixture
def logged() -> dict[str, int]:
    counts = write_traffic(Traffic(n=1200, error_rate=(0.02, 0.08)), shadow=30, guard=4)
    uri, spool = log_locations()
    with PredictionLog(EP, artifact_uri=uri, spool_dir=spool) as plog:
        plog.append(make_records(
            request_id="fb1", ts_ms=int(time.time() * 1000) - 5000, endpoint=EP,
            route="fallback", model=EP, version=1, status=200, latency_ms=3.0,
            inputs=pa.table({"age": [30.0], "user": ["u1"]}),
            outputs=pa.table({"prediction": [1], "proba_1": [0.5]}))).result()
    return counts


def test_exposures_versions_and_what_was_left_out(logged: dict[str, int]) -> None:
    r = analyze_endpoint(EP, since="1d", metrics=["error_rate", "latency_p95"])
    assert {v: s.units for v, s in r.variants.items()} == logged  # shadow rows not counted
    assert set(r.variants["primary"].versions) == {f"{EP}@1"}
    assert set(r.variants["canary"].versions) == {f"{EP}@2"}
    assert r.notes == ["requests not attributable to a variant, left out "
                       "(fallback: 1, guard: 4)"]
    err = r.comparison("error_rate")
    assert err.lift is not None and err.lift > 0  # the 503s are in the log and counted


def test_the_config_gives_split_sticky_unit_and_hash(logged: dict[str, int]) -> None:
    from airlock.serve import load_endpoint_config

    cfg = load_endpoint_config({"name": EP, "sticky": {"field": "user"}, "routes": [
        {"model": f"{EP}@1", "weight": 50}, {"model": f"{EP}@2", "weight": 50}]})
    r = analyze_endpoint(EP, since="1d", metrics=["error_rate"], endpoint_config=cfg)
    assert r.unit == "inputs.user" and r.config_hash == config_hash(cfg)
    assert r.srm.expected == {"primary": 0.5, "canary": 0.5}
    assert sum(v.units for v in r.variants.values()) < sum(logged.values())  # users < requests


def test_empty_window_and_unknown_endpoint(logged: dict[str, int]) -> None:
    with pytest.raises(InvalidInput) as err:
        analyze_endpoint(EP, since="30d", until="20d", metrics=["error_rate"])
    assert str(err.value).startswith(MSG_NO_TRAFFIC.split("{")[0])
    with pytest.raises(NotFound, match="endpoint 'nope' has no prediction log here"):
        analyze_endpoint("nope", metrics=["error_rate"])

"""Experiment results in the store on SQLite and PostgreSQL: saved with the endpoint
config's hash, the window and the versions, read back, audited."""

from __future__ import annotations

import pytest
from tests.integration.experiment_helpers import EP, Traffic, write_traffic

from airlock.errors import NotFound
from airlock.experiments import (
    analyze_endpoint,
    config_hash,
    get_experiment,
    latest_experiment,
    save_experiment,
)
from airlock.store import get_store
from airlock.store._experiments import EXPERIMENT_NOT_FOUND


def test_results_are_stored_read_back_and_audited(backend: str) -> None:
    from airlock.serve import load_endpoint_config

    cfg = load_endpoint_config({"name": EP, "routes": [
        {"model": f"{EP}@1", "weight": 50}, {"model": f"{EP}@2", "weight": 50}]})
    write_traffic(Traffic(n=600))
    result = analyze_endpoint(EP, since="1d", metrics=["accuracy", "error_rate"],
                              endpoint_config=cfg)
    rec = save_experiment(result)
    again = get_experiment(rec.id)
    assert again == rec and latest_experiment(EP) == rec
    assert rec.config_hash == config_hash(cfg) and len(rec.config_hash or "") == 64
    assert rec.versions == {"primary": {f"{EP}@1": pytest.approx(
        result.variants["primary"].versions[f"{EP}@1"])},
        "canary": {f"{EP}@2": result.variants["canary"].versions[f"{EP}@2"]}}
    assert rec.since is not None and rec.until is not None and rec.since < rec.until
    assert rec.result["srm"] == result.to_dict()["srm"]
    assert rec.result["comparisons"] == result.to_dict()["comparisons"]
    events = get_store().events.list(subject=f"endpoints/{EP}", action="experiment.")
    assert [e.action for e in events] == ["experiment.analyzed"]
    assert events[0].payload["experiment"] == rec.id
    assert events[0].payload["config_hash"] == rec.config_hash
    with pytest.raises(NotFound) as err:
        get_experiment("exp-nope")
    assert str(err.value) == EXPERIMENT_NOT_FOUND.format(id="exp-nope")
    assert latest_experiment("other") is None

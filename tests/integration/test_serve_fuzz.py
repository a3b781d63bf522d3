"""schemathesis against the live server's /openapi.json: no generated request gets a 5xx."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

pytest.importorskip("schemathesis", reason="schemathesis is in the dev extra")

import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from tests.integration.serving_helpers import NAME, register_adult, running

from airlock.serve import EndpointConfig


@pytest.fixture(scope="module")
def api_schema(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    import polars as pl
    from tests.conftest import EXAMPLE_DATA

    from airlock.store import close_stores

    mp = pytest.MonkeyPatch()
    mp.setenv("AIRLOCK_HOME", str(tmp_path_factory.mktemp("fuzz") / "home"))
    mp.setenv("AIRLOCK_SERVE_TOKENS", "fuzz-token-123")
    cols = ["age", "workclass", "fnlwgt", "education", "education_num", "marital_status",
            "occupation", "relationship", "race", "sex", "capital_gain", "capital_loss",
            "hours_per_week", "native_country", "income"]
    df = pl.read_csv(EXAMPLE_DATA / "adult.data.gz", has_header=False, new_columns=cols,
                     n_rows=500).with_columns(pl.col(pl.String).str.strip_chars())
    register_adult(df, versions=1)
    config = EndpointConfig.model_validate({
        "name": NAME, "routes": [{"model": f"{NAME}@production"}],
        "auth": {"protect_inference": False}, "max_body_bytes": 65536})
    try:
        with running(config) as url:
            yield schemathesis.openapi.from_url(f"{url}/openapi.json")
    finally:
        close_stores()
        mp.undo()


def test_no_generated_request_gets_a_server_error(api_schema: Any) -> None:
    from hypothesis import given

    operations = [r.ok() for r in api_schema.get_all_operations()]
    labels = {op.label for op in operations}
    assert {"POST /invocations", "POST /v2/models/{name}/infer"} <= labels
    for op in operations:

        @given(case=op.as_strategy())
        @settings(max_examples=25, deadline=None, database=None,
                  suppress_health_check=list(HealthCheck))
        def check(case: Any) -> None:
            case.call_and_validate(checks=[not_a_server_error])

        check()

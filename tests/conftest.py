"""Shared fixtures: an isolated store per test, on SQLite and (when available) PostgreSQL."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from airlock.store import close_stores

ROOT = Path(__file__).resolve().parents[1]
DATASETS = ROOT.parent / "shared" / "datasets"
EXAMPLE_DATA = ROOT / "examples" / "data"
PG_ENV = "AIRLOCK_TEST_POSTGRES_URI"


@pytest.fixture(autouse=True)
def airlock_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Every test gets its own embedded store under tmp_path, and a known actor."""
    home = tmp_path / "airlock-home"
    monkeypatch.setenv("AIRLOCK_HOME", str(home))
    monkeypatch.delenv("AIRLOCK_STORE_URI", raising=False)
    monkeypatch.delenv("AIRLOCK_ARTIFACT_URI", raising=False)
    monkeypatch.setenv("AIRLOCK_ACTOR", "tester")
    yield home
    close_stores()


def _postgres_database() -> Iterator[str]:
    base = os.environ.get(PG_ENV)
    if not base:
        pytest.skip(f"PostgreSQL case skipped: set {PG_ENV} (bash scripts/start-postgres.sh "
                    "prints one; .ci/run sets it)")
    name = f"airlock_t_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    url = sa.make_url(base).set(database=name).render_as_string(hide_password=False)
    try:
        yield url
    finally:
        close_stores()
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


@pytest.fixture(params=["sqlite", "postgres"])
def backend(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch,
            airlock_home: Path) -> Iterator[str]:
    """Run the test once per metadata backend: the store contract suite."""
    if request.param == "sqlite":
        yield "sqlite"
        return
    gen = _postgres_database()
    url = next(gen)
    monkeypatch.setenv("AIRLOCK_STORE_URI", url)
    yield "postgres"
    for _ in gen:  # drops the database
        pass


@pytest.fixture
def postgres_uri(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A fresh, empty PostgreSQL database (skips with a reason when none is configured)."""
    yield from _postgres_database()


@pytest.fixture(scope="session")
def adult_sample() -> object:
    """2,000 rows of UCI Adult (see examples/data/README.md for attribution)."""
    import polars as pl

    path = EXAMPLE_DATA / "adult.data.gz"
    if not path.exists():
        path = DATASETS / "adult" / "adult.data"
    cols = ["age", "workclass", "fnlwgt", "education", "education_num", "marital_status",
            "occupation", "relationship", "race", "sex", "capital_gain", "capital_loss",
            "hours_per_week", "native_country", "income"]
    df = pl.read_csv(path, has_header=False, new_columns=cols, n_rows=2000,
                     infer_schema_length=2000)
    df = df.with_columns(pl.col(pl.String).str.strip_chars())
    numeric = ["fnlwgt", "education_num", "capital_gain", "capital_loss", "hours_per_week"]
    return df.with_columns(pl.col(c).cast(pl.Int64) for c in numeric if df[c].dtype == pl.String)

"""The store object: one metadata database and one artifact root, one per process and
location (:func:`get_store`), with the refusal to create an empty database over artifacts
that still hold model versions or a signed audit head."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import sqlalchemy as sa

from airlock._config import Settings, settings
from airlock.errors import StoreUnavailable

from ._artifacts import ArtifactStore
from ._batch import BatchStore
from ._contracts import ContractResultStore
from ._engine import make_engine, on_chain_commit, store_faults
from ._evaluations import EvaluationStore
from ._events import EventLog
from ._experiments import ExperimentResultStore
from ._migrate import current_revision, ensure_current, upgrade
from ._models import ModelStore
from ._prompts import PromptStore
from ._rollouts import RolloutStore
from ._runs import RunStore
from ._witness import ChainWitness

__all__ = ["Store", "close_stores", "get_store", "store_revision", "upgrade_store"]


class Store:
    """One metadata database and one artifact root."""

    def __init__(self, store_uri: str, artifact_uri: str, *, migrate: bool = True) -> None:
        self.uri = store_uri
        where = sa.make_url(store_uri).render_as_string(hide_password=True)
        self.artifacts = ArtifactStore(artifact_uri)
        witness = ChainWitness(self.artifacts)
        with store_faults(where):
            if migrate and _empty_sqlite_file(store_uri):  # check before anything is written
                _refuse_to_recreate(where, self.artifacts, witness)
            self.engine = make_engine(store_uri)
            if migrate:
                if current_revision(self.engine) is None:
                    _refuse_to_recreate(where, self.artifacts, witness)
                ensure_current(self.engine, where)
        on_chain_commit(self.engine, witness.record)
        self.runs = RunStore(self.engine)
        self.models = ModelStore(self.engine)
        self.events = EventLog(self.engine, witness)
        self.evaluations = EvaluationStore(self.engine)
        self.contracts = ContractResultStore(self.engine)
        self.batch = BatchStore(self.engine)
        self.experiments = ExperimentResultStore(self.engine)
        self.prompts = PromptStore(self.engine)
        self.rollouts = RolloutStore(self.engine)

    def close(self) -> None:
        self.engine.dispose()


def _empty_sqlite_file(uri: str) -> bool:
    url = sa.make_url(uri)
    if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:"):
        return False
    path = Path(str(url.database)).expanduser()
    return not path.exists() or path.stat().st_size == 0


def _refuse_to_recreate(where: str, artifacts: ArtifactStore, witness: ChainWitness) -> None:
    """An empty database beside artifacts that hold versions (or an audit head) was emptied
    or replaced: creating a new one would silently forget them."""
    held = next(iter(artifacts.list("models")), None) is not None
    if held or witness.exists():
        what = "model versions" if held else "a signed audit head"
        raise StoreUnavailable(
            f"the database {where} is empty but the artifact store {artifacts.uri} holds "
            f"{what}: refusing to create a new database over them (restore the database "
            "from a backup, or point AIRLOCK_ARTIFACT_URI at an empty folder)")


T = TypeVar("T")
_stores: dict[tuple[int, str, str], Store] = {}
_by_env: dict[tuple[object, ...], Store] = {}
_lock = threading.Lock()


_ENV_KEYS = ("AIRLOCK_HOME", "AIRLOCK_STORE_URI", "AIRLOCK_ARTIFACT_URI")


def get_store(config: Settings | None = None) -> Store:
    """The store for ``config`` (default: the environment), one per process and location."""
    if config is None:  # hot path: key on the raw variables, build Settings only on a miss
        env_key = (os.getpid(), os.getcwd(), *(os.environ.get(k) for k in _ENV_KEYS))
        store = _by_env.get(env_key)
        if store is None:
            store = _by_env[env_key] = get_store(settings())
        return store
    key = (os.getpid(), config.store_uri, config.artifact_uri)
    store = _stores.get(key)
    if store is None:
        with _lock:
            store = _stores.get(key)
            if store is None:
                store = _stores[key] = Store(config.store_uri, config.artifact_uri)
    return store


def close_stores() -> None:
    """Dispose every open store of this process (tests, and before fork)."""
    with _lock:
        for key, store in list(_stores.items()):
            if key[0] == os.getpid():
                store.close()
        _stores.clear()
        _by_env.clear()


def _with_engine(config: Settings | None, fn: Callable[[sa.Engine], T]) -> T:
    """Run ``fn`` on a short-lived engine (no migration check: these inspect or migrate)."""
    uri = (config or settings()).store_uri
    with store_faults(sa.make_url(uri).render_as_string(hide_password=True)):
        engine = make_engine(uri)
        try:
            return fn(engine)
        finally:
            engine.dispose()


def upgrade_store(config: Settings | None = None) -> tuple[str | None, str]:
    """Migrate the configured store to this airlock's schema; returns (from, to)."""
    return _with_engine(config, upgrade)


def store_revision(config: Settings | None = None) -> str | None:
    """The configured store's schema revision (None when empty)."""
    return _with_engine(config, current_revision)

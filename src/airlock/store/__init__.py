"""The store: metadata (SQLAlchemy: SQLite or PostgreSQL) plus artifacts (fsspec).

``get_store()`` returns the store named by the current settings, created and migrated on
first use. Everything above this package talks to it through :class:`Store`'s parts:
``runs``, ``models``, ``events`` and ``artifacts`` (and ``batch``, the batch jobs;
``prompts``, the prompt registry; ``experiments``, the A/B analyses; ``rollouts``,
progressive rollouts).
"""

from __future__ import annotations

from ._artifacts import ArtifactStore, sha256_file
from ._batch import BatchFragmentRecord, BatchJobRecord, BatchStore
from ._contracts import ContractResultStore
from ._evaluations import EvaluationStore
from ._events import GENESIS, EventLog, VerifyResult, canonical, event_hash, now_ms
from ._experiments import ExperimentRecord, ExperimentResultStore
from ._migrate import HEAD_REVISION
from ._models import ModelStore
from ._prompts import PromptRecord, PromptStore, PromptVersionRecord
from ._query import Clause, OrderBy, parse_filter, parse_order_by
from ._records import (
    ArtifactRecord,
    DatasetInfo,
    EventRecord,
    MetricPoint,
    ModelRecord,
    RunRecord,
    VersionRecord,
)
from ._rollouts import ACTIVE_STATUSES as ROLLOUT_ACTIVE_STATUSES
from ._rollouts import RolloutRecord, RolloutStore
from ._runs import PointRow, RunStore
from ._store import Store, close_stores, get_store, store_revision, upgrade_store

__all__ = [
    "GENESIS",
    "HEAD_REVISION",
    "ROLLOUT_ACTIVE_STATUSES",
    "ArtifactRecord",
    "ArtifactStore",
    "BatchFragmentRecord",
    "BatchJobRecord",
    "BatchStore",
    "Clause",
    "ContractResultStore",
    "DatasetInfo",
    "EvaluationStore",
    "EventLog",
    "EventRecord",
    "ExperimentRecord",
    "ExperimentResultStore",
    "MetricPoint",
    "ModelRecord",
    "ModelStore",
    "OrderBy",
    "PointRow",
    "PromptRecord",
    "PromptStore",
    "PromptVersionRecord",
    "RolloutRecord",
    "RolloutStore",
    "RunRecord",
    "RunStore",
    "Store",
    "VerifyResult",
    "VersionRecord",
    "canonical",
    "close_stores",
    "event_hash",
    "get_store",
    "now_ms",
    "parse_filter",
    "parse_order_by",
    "sha256_file",
    "store_revision",
    "upgrade_store",
]

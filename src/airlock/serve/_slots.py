"""A served model reference: the loaded version behind it, its batcher, and hot reload.

A slot serves one reference (``adult-income@production``, ``adult-income@5``) in one role (a
route, the shadow or the fallback). :meth:`ModelSlot.refresh` resolves the reference again;
when an alias moved, the new version is loaded beside the old one and swapped in one
assignment, so requests in flight finish on the version they started with and none fails.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from airlock.errors import AirlockError, InvalidInput
from airlock.registry import MISSING_VALUE, LoadedModel, load_model, resolve

from ._batcher import Batcher, BatchResult
from ._config import BatchingConfig
from ._payload import Pending, merge

__all__ = ["ModelSlot", "Scored"]

log = logging.getLogger("airlock.serve")


@dataclass(frozen=True)
class Scored:
    """One request's answer, the model version that gave it, and (when the request was
    sampled for the prediction log) the future that resolves once its record is on disk."""

    inputs: pa.Table  # conformed (what the model saw)
    outputs: pa.Table
    model: LoadedModel
    logged: Future[None] | None = None

    @property
    def version(self) -> int:
        return self.model.version.version


class ModelSlot:
    def __init__(self, ref: str, role: str, batching: BatchingConfig, *,
                 arriving: Callable[[], int] | None = None,
                 on_batch: Callable[[str, int], None] | None = None,
                 endpoint: str = "", log: Any = None) -> None:
        self.ref = ref
        self.role = role
        self.endpoint = endpoint
        self.log = log  # the endpoint's PredictionLog, attached when it opens
        self.model: LoadedModel | None = None
        self._lock = threading.Lock()
        self._claims = threading.Lock()  # a request is either logged here or abandoned
        self.batcher = Batcher(
            self.run_batch, name=role, max_batch_size=batching.max_batch_size,
            max_wait_ms=batching.max_wait_ms, enabled=batching.enabled, arriving=arriving,
            on_batch=(lambda n: on_batch(role, n)) if on_batch else None)

    @property
    def name(self) -> str:
        return self.ref.split("@", 1)[0]

    @property
    def current(self) -> LoadedModel:
        if self.model is None:
            raise AirlockError(f"{self.ref} is not loaded yet")
        return self.model

    def load(self) -> LoadedModel:
        """Resolve and load the reference (blocking; the server calls it in a thread), unless
        a pre-flight check loaded it already."""
        if self.model is not None:
            return self.model
        model = load_model(self.ref)
        self.model = model
        return model

    def refresh(self) -> bool:
        """Load the version the reference names now if it changed; True when swapped."""
        with self._lock:
            record = resolve(self.ref)
            if self.model is not None and record.version == self.model.version.version:
                return False
            old = self.model
            new = load_model(f"{record.name}@{record.version}")
            self.model = new
        log.info("%s (%s): %s → %s", self.ref, self.role,
                 old.ref if old else "-", new.ref)
        return True

    async def predict(self, item: Pending) -> Scored:
        result: Scored = await self.batcher.submit(item)
        return result

    def abandon(self, item: Pending) -> bool:
        """The caller gives up waiting for ``item`` (its timeout passed): True, and this slot
        will not log a late answer for it; False when its answer is being logged already (the
        caller should take that answer, which is a moment away)."""
        with self._claims:
            if self.role in item.answered:
                return False
            item.abandoned = (*item.abandoned, self.role)
            return True

    def run_batch(self, items: Sequence[Pending]) -> list[BatchResult]:
        """Convert and check the batch once, score it in one call, split the answers back,
        log the sampled requests in one append. Falls back to one request at a time when a
        request spoils the shared path, so its error names its own column."""
        model = self.current  # one version for the whole batch, even if a swap happens now
        try:
            conformed = _check_nulls(model, model.conform(merge(items)))
            outputs = model.predict_conformed(conformed)
        except Exception:
            return self._one_by_one(model, items)
        results: list[BatchResult] = []
        offset = 0
        for item in items:
            n = item.rows
            results.append(Scored(conformed.slice(offset, n), outputs.slice(offset, n), model))
            offset += n
        return self._log(items, results, conformed, outputs)

    def _one_by_one(self, model: LoadedModel, items: Sequence[Pending]) -> list[BatchResult]:
        results: list[BatchResult] = []
        for item in items:
            try:
                conformed = _check_nulls(model, model.conform(item.table()))
                results.append(Scored(conformed, model.predict_conformed(conformed), model))
            except Exception as exc:
                results.append(exc)
        good = [k for k, r in enumerate(results) if isinstance(r, Scored)]
        if good:
            logged = self._log([items[k] for k in good], [results[k] for k in good],
                               pa.concat_tables([results[k].inputs for k in good]),
                               pa.concat_tables([results[k].outputs for k in good]))
            for k, r in zip(good, logged, strict=True):
                results[k] = r
        return results

    def _log(self, items: Sequence[Pending], results: list[Any], inputs: pa.Table,
             outputs: pa.Table) -> list[Any]:
        """Append the sampled requests' records (one call); attach the durability future.
        A request whose caller gave up on it (:meth:`abandon`) is not logged: its caller
        logged what the client was told instead (a fallback's answer, or a timeout)."""
        if self.log is None or not any(i.log for i in items):
            return results
        from airlock.predlog import make_batch_records

        with self._claims:
            keep = [k for k, i in enumerate(items) if i.log and self.role not in i.abandoned]
            for k in keep:
                items[k].answered = (*items[k].answered, self.role)
        if not keep:
            return results
        if len(keep) < len(items):
            starts = np.cumsum([0] + [i.rows for i in items])
            idx = np.concatenate([np.arange(starts[k], starts[k + 1]) for k in keep])
            inputs, outputs = inputs.take(idx), outputs.take(idx)
        now = time.perf_counter()
        records = make_batch_records(
            request_ids=[items[k].request_id for k in keep],
            row_counts=[items[k].rows for k in keep], ts_ms=[items[k].ts_ms for k in keep],
            latency_ms=[(now - items[k].started) * 1000 for k in keep], status=200,
            endpoint=self.endpoint, route=self.role, model=self.current.version.name,
            version=results[keep[0]].version, inputs=inputs, outputs=outputs)
        future = self.log.append(records)
        for k in keep:
            results[k] = dataclasses.replace(results[k], logged=future)
        return results

    async def close(self) -> None:
        await self.batcher.close()


def _check_nulls(model: LoadedModel, table: pa.Table) -> pa.Table:
    """A missing value (null or NaN) in a column the signature says never has one → 422."""
    for spec in model.signature.get("inputs") or []:
        if spec.get("nullable", True):
            continue
        col = table.column(spec["name"])
        bad = col.null_count > 0
        if not bad and pa.types.is_floating(col.type) and len(col):
            bad = bool(pc.any(pc.is_nan(col)).as_py())
        if bad:
            raise InvalidInput(MISSING_VALUE.format(name=spec["name"], ref=model.ref))
    return table


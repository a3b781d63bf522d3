"""The one scoring function every engine runs: an Arrow record batch in, a record batch out.

:class:`Scorer` turns a batch of input rows into one *scored batch*, row for row::

    <--keep columns> | <the model's outputs> | model_version | __airlock_reason [| __airlock_inputs]

A row the model cannot score (a missing column, a value of the wrong type, a null where the
signature allows none, a row the model itself refuses) keeps its place with null outputs and
its reason; ``__airlock_inputs`` (the conformed inputs as a struct, for the drift profile and
the prediction log) is there only when asked for. The writer (:mod:`._output`) splits scored
rows from rejects, so the local, Ray and Spark engines write the same bytes.

:class:`ModelBundle` carries a model version's files to workers that may not reach the store;
:func:`scorer_for` loads it once per worker process, verified by sha256.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa

from airlock.errors import InvalidInput
from airlock.registry import LoadedModel, conform_rows, load_model_files
from airlock.store import VersionRecord

if TYPE_CHECKING:
    from ._output import Output

__all__ = ["INPUTS", "REASON", "VERSION", "ModelBundle", "Scorer", "Task", "prime",
           "scorer_for"]

VERSION = "model_version"
REASON = "__airlock_reason"
INPUTS = "__airlock_inputs"
#: A batch whose rows the model refuses is halved to find them; past this many refused rows
#: in one batch the fault is the model's, not the rows': the fragment fails instead.
MAX_REFUSED_ROWS = 256


@dataclass(frozen=True, slots=True)
class ModelBundle:
    """A model version and its files' bytes (picklable: shipped to every worker)."""

    version: VersionRecord
    files: dict[str, bytes] = field(repr=False)
    trusted: bool = False

    @property
    def sha256(self) -> str:
        return str(self.version.manifest["sha256"])

    def load(self) -> LoadedModel:
        """Write the files to a private folder and load them, each checked by sha256; the
        folder is removed once the model is in memory (a worker that is killed, as Ray and
        Spark end theirs, runs no exit handler, so nothing may wait for one)."""
        folder = Path(tempfile.mkdtemp(prefix="airlock-batch-model-"))
        try:
            for rel, data in self.files.items():
                target = folder / rel
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(data)
            return load_model_files(self.version, folder, trusted=self.trusted or None)
        finally:
            shutil.rmtree(folder, ignore_errors=True)


@dataclass(frozen=True, slots=True)
class Task:
    """What every worker needs to score a fragment (picklable)."""

    job_id: str
    bundle: ModelBundle
    output: Output
    source_fs: Any = field(repr=False)
    source_local: bool = True
    keep: tuple[str, ...] = ()
    batch_size: int = 65536
    profile: bool = False
    log: bool = False

    @property
    def with_inputs(self) -> bool:
        return self.profile or self.log

    def needed(self) -> list[str]:
        """The input columns to read: the --keep columns and the model's inputs."""
        inputs = [c["name"] for c in self.bundle.version.manifest.get("signature", {})
                  .get("inputs", [])]
        return list(dict.fromkeys([*self.keep, *inputs]))


class Scorer:
    """The scoring function; see the module docstring. One per worker (it holds the model)."""

    def __init__(self, model: LoadedModel, *, keep: Sequence[str] = (),
                 with_inputs: bool = False) -> None:
        self.model = model
        self.keep = list(keep)
        self.with_inputs = with_inputs
        self.version = model.version.version

    def __call__(self, batch: pa.RecordBatch | pa.Table) -> pa.RecordBatch:
        table = batch if isinstance(batch, pa.Table) else pa.Table.from_batches([batch])
        n = table.num_rows
        conformed, reasons = conform_rows(table, self.model.signature, self.model.ref)
        good = (np.arange(n) if reasons is None
                else np.flatnonzero(np.asarray(reasons.is_null(), dtype=bool)))
        outputs, refused = self._predict(conformed)
        if refused:
            text = reasons.to_pylist() if reasons is not None else [None] * n
            for i, why in refused.items():
                text[int(good[i])] = why
            keep_rows = np.ones(len(good), dtype=bool)
            keep_rows[list(refused)] = False
            good, conformed = good[keep_rows], conformed.filter(pa.array(keep_rows))
            reasons = pa.array(text, pa.string())
        return self._assemble(table, conformed, outputs, good, reasons)

    def _predict(self, conformed: pa.Table) -> tuple[pa.Table | None, dict[int, str]]:
        """The outputs of the rows the model accepts, and why it refused the others."""
        if conformed.num_rows == 0:
            return None, {}
        refused: dict[int, str] = {}
        parts = [p for p in self._halve(conformed, 0, refused) if p.num_rows]
        if not parts:
            return None, refused
        return (parts[0] if len(parts) == 1 else pa.concat_tables(parts)), refused

    def _halve(self, table: pa.Table, offset: int, refused: dict[int, str]) -> list[pa.Table]:
        try:
            return [self.model.predict_conformed(table)]
        except InvalidInput as exc:
            if table.num_rows == 1:
                refused[offset] = exc.message
                if len(refused) > MAX_REFUSED_ROWS:
                    raise
                return []
        half = table.num_rows // 2
        return (self._halve(table.slice(0, half), offset, refused)
                + self._halve(table.slice(half), offset + half, refused))

    def _assemble(self, table: pa.Table, conformed: pa.Table, outputs: pa.Table | None,
                  good: np.ndarray[Any, Any], reasons: pa.Array | None) -> pa.RecordBatch:
        n = table.num_rows
        names: list[str] = []
        cols: list[pa.Array | pa.ChunkedArray] = []
        for k in self.keep:
            names.append(k)
            cols.append(table.column(k) if k in table.column_names else pa.nulls(n))
        spread = None
        if reasons is not None and outputs is not None:
            index = np.full(n, -1, dtype=np.int64)
            index[good] = np.arange(len(good))
            spread = pa.array(index, mask=index < 0)
        if outputs is not None:
            for name, col in zip(outputs.column_names, outputs.columns, strict=True):
                names.append(name)
                cols.append(col if spread is None else col.take(spread))
        names.append(VERSION)
        cols.append(pa.array(np.full(n, self.version, dtype=np.int32)))
        names.append(REASON)
        cols.append(reasons if reasons is not None else pa.nulls(n, pa.string()))
        if self.with_inputs and conformed.num_columns and outputs is not None:
            struct = pa.StructArray.from_arrays(
                [c.combine_chunks() for c in conformed.columns], names=conformed.column_names)
            names.append(INPUTS)
            cols.append(struct if spread is None else struct.take(spread))
        out = pa.Table.from_arrays(cols, names=names)
        if n == 0:
            return pa.RecordBatch.from_arrays([pa.array([], f.type) for f in out.schema],
                                              schema=out.schema)
        return out.combine_chunks().to_batches()[0]

_worker: tuple[tuple[str, tuple[str, ...], bool], Scorer] | None = None


def _key(task: Task) -> tuple[str, tuple[str, ...], bool]:
    return (task.bundle.sha256, task.keep, task.with_inputs)


def prime(task: Task, model: LoadedModel) -> None:
    """Make ``model`` (loaded and verified already, e.g. by the driver) this process's scorer
    for ``task``."""
    global _worker
    _worker = (_key(task), Scorer(model, keep=task.keep, with_inputs=task.with_inputs))


def scorer_for(task: Task) -> Scorer:
    """The scorer of ``task``'s model in this process, loaded on first use. The one
    per-process slot is deliberate: a worker process (of the pool, or a Spark Python worker,
    which Spark reuses across tasks) must load its model once, not once per fragment."""
    global _worker
    key = _key(task)
    if _worker is None or _worker[0] != key:
        _worker = (key, Scorer(task.bundle.load(), keep=task.keep,
                               with_inputs=task.with_inputs))
    return _worker[1]

"""The Ray engine (``pip install 'airlock[ray]'``): Ray Data on an actor pool.

Parquet inputs: ``ray.data.read_parquet`` (with each row's file path) → ``map_batches`` with
a callable class on an actor pool (``batch_format="pyarrow"``): each actor loads the model
once (from the job's bundle, verified by sha256) and runs the one scoring function. Ray keeps
the rows in input order (``preserve_order``), and the driver writes each fragment's file as
its rows stream in: a fragment's file is complete when the next fragment's rows arrive, and
is recorded then, so a job killed midway resumes with the fragments not yet recorded. The
outputs (``--keep`` columns and predictions) are narrow: the inputs never leave the cluster.

Other formats (CSV, JSON lines): one fragment per actor call, read by airlock's own reader.

``ray.init()`` joins the cluster ``RAY_ADDRESS`` names, else starts a local one; a cluster
already initialised in this process is used as it is. Actors take at most all CPUs but one,
which Ray Data keeps for reading.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import time
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import asdict
from typing import Any

import pyarrow as pa

from airlock.errors import DependencyMissing

from ._core import Scorer, Task
from ._fragments import Fragment, add_partitions
from ._output import write_fragment
from ._result import FragmentOutcome
from ._worker import Reporter, failed, one_line, score_fragment

__all__ = ["RayEngine", "require_ray"]

MISSING = "the ray engine needs Ray: pip install 'airlock[ray]'"
PATH = "path"  # the column read_parquet(include_paths=True) adds
ERROR = "__airlock_error"


def require_ray() -> Any:
    try:
        import ray
        import ray.data
    except ImportError:
        raise DependencyMissing(MISSING) from None
    return ray


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """Ray's deprecation and tuning warnings, and its INFO lines, are not the user's."""
    loggers = [logging.getLogger(n) for n in ("ray", "ray.data")]
    levels = [lg.level for lg in loggers]
    with warnings.catch_warnings():
        for category in (DeprecationWarning, UserWarning, FutureWarning):
            warnings.filterwarnings("ignore", category=category, module=r"ray(\.|$)")
        warnings.filterwarnings("ignore", category=DeprecationWarning)
        for lg in loggers:
            lg.setLevel(logging.ERROR)
        try:
            yield
        finally:
            for lg, level in zip(loggers, levels, strict=True):
                lg.setLevel(level)


class _Actor:
    """Scores batches of any fragment (the callable class Ray Data runs on its actors)."""

    def __init__(self, task: Task, fragments: dict[str, Fragment]) -> None:
        self.scorer = Scorer(task.bundle.load(), keep=task.keep, with_inputs=task.with_inputs)
        self.fragments = fragments
        self.needed = task.needed()

    def __call__(self, batch: pa.Table) -> pa.Table:
        out = []
        for path, rows in _runs(batch):
            fragment = self.fragments[path]
            try:
                inputs = rows.drop_columns([PATH]).combine_chunks().to_batches()[0]
                table = pa.Table.from_batches([
                    self.scorer(add_partitions(inputs, fragment, self.needed))])
            except Exception as exc:
                table = pa.table({ERROR: pa.array([one_line(exc)] * rows.num_rows,
                                                  pa.string())})
            out.append(table.append_column(PATH, pa.array([path] * table.num_rows,
                                                          pa.string())))
        return out[0] if len(out) == 1 else pa.concat_tables(out, promote_options="permissive")


class _FragmentActor:
    """Scores whole fragments, reading them itself (text formats)."""

    def __init__(self, task: Task, fragments: list[Fragment]) -> None:
        self.task = task
        self.fragments = fragments

    def __call__(self, batch: pa.Table) -> pa.Table:
        outcomes = [score_fragment(self.task, self.fragments[i])
                    for i in batch.column("i").to_pylist()]
        return pa.Table.from_pylist([asdict(o) for o in outcomes])


def _ray_error(exc: BaseException) -> str:
    """The cause of a failed Ray task, not Ray's wrapping of it."""
    cause = getattr(exc, "cause", None)
    return one_line(cause if isinstance(cause, BaseException) else exc)


def _runs(batch: pa.Table) -> Iterator[tuple[str, pa.Table]]:
    """``batch`` cut into runs of rows of one path each, in order."""
    import numpy as np
    import pyarrow.compute as pc

    if batch.num_rows == 0:
        return
    paths = batch.column(PATH)
    codes = pc.dictionary_encode(paths).combine_chunks()
    index = np.asarray(codes.indices)
    cuts = [0, *(np.flatnonzero(np.diff(index)) + 1).tolist(), batch.num_rows]
    names = codes.dictionary.to_pylist()
    for a, b in itertools.pairwise(cuts):
        yield names[index[a]], batch.slice(a, b - a)


class _Stream:
    """The driver's view of the scored rows: runs of one fragment's rows, in order."""

    def __init__(self, batches: Iterator[pa.Table]) -> None:
        self._runs = (run for batch in batches for run in _runs(batch))
        self._head: tuple[str, pa.Table] | None = None
        self._done = False

    def peek(self) -> str | None:
        if self._head is None and not self._done:
            self._head = next(self._runs, None)
            self._done = self._head is None
        return None if self._head is None else self._head[0]

    def take(self, path: str) -> Iterator[pa.RecordBatch]:
        """The rows of ``path`` (a fragment's), until the next fragment's begin."""
        while self.peek() == path:
            assert self._head is not None
            rows = self._head[1]
            self._head = None
            if ERROR in rows.column_names and rows.column(ERROR).null_count < rows.num_rows:
                raise RuntimeError(next(e for e in rows.column(ERROR).to_pylist() if e))
            keep = [c for c in rows.column_names if c not in (PATH, ERROR)]
            yield from rows.select(keep).combine_chunks().to_batches()


class RayEngine:
    name = "ray"

    def __init__(self, workers: int | None = None) -> None:
        self.workers = workers
        self.ray = require_ray()

    def version(self) -> str:
        return f"ray {self.ray.__version__}"

    def run(self, task: Task, fragments: Sequence[Fragment], report: Reporter) -> None:
        ray = self.ray
        with _quiet():
            if not ray.is_initialized():
                ray.init(include_dashboard=False, log_to_driver=False,
                         logging_level=logging.ERROR, configure_logging=True)
            cpus = float(ray.cluster_resources().get("CPU", 1.0))
            size = self.workers or max(1, int(cpus) - 1)
            per_actor = min(1.0, max(cpus - 1.0, 0.5) / size)
            ctx = ray.data.DataContext.get_current()
            ctx.execution_options.preserve_order = True
            ctx.enable_progress_bars = False
            options: dict[str, Any] = {
                "compute": ray.data.ActorPoolStrategy(size=size), "num_cpus": per_actor,
                "batch_size": task.batch_size, "batch_format": "pyarrow",
                "max_restarts": 0}
            if all(f.format == "parquet" for f in fragments) and PATH not in task.needed():
                self._parquet(task, list(fragments), report, options)
            else:
                self._files(task, list(fragments), report, options)

    def _parquet(self, task: Task, fragments: list[Fragment], report: Reporter,
                 options: dict[str, Any]) -> None:
        ray = self.ray
        by_path = {f.path: f for f in fragments}
        needed = task.needed()
        common = set(fragments[0].columns).intersection(*(f.columns for f in fragments))
        present = [c for c in needed if c in common]
        same = all([c for c in needed if c in f.columns] == present for f in fragments)
        read: dict[str, Any] = {"include_paths": True, "partitioning": None,
                                "override_num_blocks": max(len(fragments), 1),
                                "columns": present if same else None}
        if not task.source_local:
            from pyarrow.fs import FSSpecHandler, PyFileSystem

            read["filesystem"] = PyFileSystem(FSSpecHandler(task.source_fs))
        ds = ray.data.read_parquet([f.path for f in fragments], **read)
        ds = ds.map_batches(_Actor, fn_constructor_kwargs={"task": task, "fragments": by_path},
                            **options)
        seen: set[str] = set()
        started = time.perf_counter()
        stream = _Stream(iter(ds.iter_batches(batch_format="pyarrow", batch_size=None,
                                              prefetch_batches=2)))
        try:
            while (path := stream.peek()) is not None:
                fragment = by_path[path]
                seen.add(path)
                report.done(self._write(task, fragment, stream.take(path), report))
                for _ in stream.take(path):  # the rest of a fragment that failed
                    pass
        except Exception as exc:  # the dataset failed (e.g. a read): isolate the culprit
            rest = [f for f in fragments if f.path not in seen]
            if len(fragments) == 1 or len(rest) <= 1:
                for f in rest:
                    seen.add(f.path)
                    report.done(failed(f, _ray_error(exc), started))
            else:  # one dataset per fragment: only the faulty ones fail
                for f in rest:
                    seen.add(f.path)
                    self._parquet(task, [f], report, options)
        for f in fragments:  # fragments without rows: nothing reached the driver
            if f.path not in seen:
                report.done(self._write(task, f, iter(()), report))

    @staticmethod
    def _write(task: Task, fragment: Fragment, batches: Iterator[pa.RecordBatch],
               report: Reporter) -> FragmentOutcome:
        started = time.perf_counter()

        def counted() -> Iterator[pa.RecordBatch]:
            for batch in batches:
                report.rows(batch.num_rows)
                yield batch

        try:
            return write_fragment(task, fragment, counted())
        except Exception as exc:
            return failed(fragment, exc, started)

    def _files(self, task: Task, fragments: list[Fragment], report: Reporter,
               options: dict[str, Any]) -> None:
        ray = self.ray
        ds = ray.data.from_items([{"i": i} for i in range(len(fragments))],
                                 override_num_blocks=max(len(fragments), 1))
        ds = ds.map_batches(_FragmentActor, fn_constructor_kwargs={
            "task": task, "fragments": fragments}, **{**options, "batch_size": 1})
        started = time.perf_counter()
        reported: set[str] = set()
        try:
            for table in ds.iter_batches(batch_format="pyarrow", batch_size=None):
                for row in table.to_pylist():
                    outcome = FragmentOutcome(**row)
                    reported.add(outcome.key)
                    report.rows(outcome.rows + outcome.rejected)
                    report.done(outcome)
        except Exception as exc:
            for f in fragments:
                if f.key not in reported:
                    report.done(failed(f, exc, started))

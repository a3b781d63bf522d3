"""The Spark engine (``pip install 'airlock[spark]'`` and a Java runtime): ``mapInArrow``.

Each Parquet fragment is a DataFrame read by Spark and scored by ``mapInArrow``: the task's
Python worker runs the one scoring function over Spark's Arrow batches and writes the
fragment's file itself, then yields one row saying what it wrote. File splitting is turned
off for the job (``spark.sql.files.maxPartitionBytes`` / ``openCostInBytes``), so a fragment
is one partition and one task, and its rows arrive in file order. The driver keeps as many
fragments in flight as the cluster has cores and records each as its task returns, so a job
killed midway resumes with what is missing. The model travels once, as a broadcast, and is
loaded once per Python worker (Spark reuses them).

Other formats (CSV, JSON lines): a one-row DataFrame per fragment whose task reads the file
with airlock's own reader. With no active SparkSession, one is started: ``local[N]``
(``--workers``, default every core) unless ``PYSPARK_SUBMIT_ARGS`` names a master.
"""

from __future__ import annotations

import contextlib
import functools
import os
import sys
import time
import warnings
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import asdict
from typing import Any

import pyarrow as pa

from airlock.errors import DependencyMissing

from ._core import Task
from ._fragments import Fragment, add_partitions
from ._output import write_fragment
from ._result import FragmentOutcome
from ._worker import Reporter, failed, score_fragment, scored

__all__ = ["SparkEngine", "require_spark"]

MISSING = "the spark engine needs PySpark: pip install 'airlock[spark]'"
NO_JAVA = ("the spark engine needs a Java runtime (java on PATH, or JAVA_HOME): e.g. "
           "apt-get install openjdk-17-jre-headless")
OUTCOME = pa.schema([("key", pa.string()), ("status", pa.string()), ("output", pa.string()),
                     ("rows", pa.int64()), ("rejected", pa.int64()), ("sha256", pa.string()),
                     ("rejects_sha256", pa.string()), ("seconds", pa.float64()),
                     ("error", pa.string()), ("profile", pa.binary()), ("log", pa.string())])
OUTCOME_DDL = ("key string, status string, output string, rows long, rejected long, "
               "sha256 string, rejects_sha256 string, seconds double, error string, "
               "profile binary, log string")
_CONF = {"spark.sql.files.maxPartitionBytes": str(1 << 60),
         "spark.sql.files.openCostInBytes": str(1 << 60)}


def require_spark() -> Any:
    try:
        import pyspark
        from pyspark.sql import SparkSession  # noqa: F401
    except ImportError:
        raise DependencyMissing(MISSING) from None
    return pyspark


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """PySpark warns that pandas 3 is newer than it knows; airlock passes it Arrow only."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="PySpark does not yet fully support",
                                category=FutureWarning)
        warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"pyspark")
        yield


def _outcome_batch(outcome: FragmentOutcome) -> pa.RecordBatch:
    return pa.RecordBatch.from_pylist([asdict(outcome)], schema=OUTCOME)


def _score_partition(shipped: Any, fragment: Fragment,
                     batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
    """A Parquet fragment's task: score Spark's batches of it, write its file."""
    started = time.perf_counter()
    task: Task = shipped.value
    needed = task.needed()
    rows = iter(batches)
    try:
        outcome = write_fragment(task, fragment, scored(
            task, fragment, (add_partitions(b, fragment, needed) for b in rows)))
    except Exception as exc:
        for _ in rows:
            pass
        outcome = failed(fragment, exc, started)
    yield _outcome_batch(outcome)


def _score_file(shipped: Any, fragment: Fragment,
                batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
    """A text fragment's task: read, score and write it with airlock's reader."""
    for _ in batches:
        pass
    yield _outcome_batch(score_fragment(shipped.value, fragment))


class SparkEngine:
    name = "spark"

    def __init__(self, workers: int | None = None) -> None:
        self.workers = workers
        self.pyspark = require_spark()

    def version(self) -> str:
        return f"spark {self.pyspark.__version__}"

    def session(self) -> Any:
        """The active SparkSession, or a new one (see the module docstring)."""
        from pyspark.sql import SparkSession

        active = SparkSession.getActiveSession()
        if active is not None:
            return active
        builder = (SparkSession.builder.appName("airlock-batch")
                   .config("spark.ui.showConsoleProgress", "false")
                   .config("spark.ui.enabled", "false"))
        if "--master" not in os.environ.get("PYSPARK_SUBMIT_ARGS", ""):
            builder = builder.master(f"local[{self.workers or '*'}]")
        if not os.environ.get("PYSPARK_PYTHON"):
            builder = builder.config("spark.pyspark.python", sys.executable)
        try:
            spark = builder.getOrCreate()
        except Exception as exc:
            text = str(exc)
            if "JAVA" in text.upper() or "gateway" in text.lower():
                raise DependencyMissing(NO_JAVA) from None
            raise
        spark.sparkContext.setLogLevel("ERROR")
        return spark

    def run(self, task: Task, fragments: Sequence[Fragment], report: Reporter) -> None:
        with _quiet():
            spark = self.session()
            before = {k: spark.conf.get(k, None) for k in _CONF}
            for k, v in {**_CONF, "spark.sql.execution.arrow.maxRecordsPerBatch":
                         str(task.batch_size)}.items():
                spark.conf.set(k, v)
            shipped = spark.sparkContext.broadcast(task)
            try:
                self._run(spark, shipped, task, fragments, report)
            finally:
                for k, v in before.items():
                    if v is None:
                        spark.conf.unset(k)
                    else:
                        spark.conf.set(k, v)
                with contextlib.suppress(Exception):
                    shipped.destroy()

    def _run(self, spark: Any, shipped: Any, task: Task, fragments: Sequence[Fragment],
             report: Reporter) -> None:
        parallel = self.workers or int(spark.sparkContext.defaultParallelism) or 1
        with ThreadPoolExecutor(max_workers=max(1, min(parallel, len(fragments)))) as pool:
            futures = [pool.submit(self._one, spark, shipped, task, f) for f in fragments]
            for future in as_completed(futures):
                outcome = future.result()
                report.rows(outcome.rows + outcome.rejected)
                report.done(outcome)

    def _one(self, spark: Any, shipped: Any, task: Task, fragment: Fragment) -> FragmentOutcome:
        started = time.perf_counter()
        try:
            with _quiet():
                if fragment.format == "parquet":
                    df = spark.read.parquet(self._uri(task, fragment))
                    cols = [c for c in task.needed() if c in df.columns]
                    df = df.select(*[f"`{c.replace('`', '``')}`" for c in cols])
                    fn = functools.partial(_score_partition, shipped, fragment)
                else:
                    df = spark.range(1, numPartitions=1)
                    fn = functools.partial(_score_file, shipped, fragment)
                rows = df.mapInArrow(fn, OUTCOME_DDL).collect()
        except Exception as exc:
            return failed(fragment, exc, started)
        if not rows:  # a file without rows gives no partition: nothing to score
            return write_fragment(task, fragment, iter(()))
        if len(rows) > 1:
            return failed(fragment, f"Spark split the fragment into {len(rows)} partitions",
                          started)
        return FragmentOutcome(**rows[0].asDict())

    @staticmethod
    def _uri(task: Task, fragment: Fragment) -> str:
        if task.source_local:
            return "file://" + fragment.path
        uri = str(task.source_fs.unstrip_protocol(fragment.path))
        return "s3a://" + uri[len("s3://"):] if uri.startswith("s3://") else uri

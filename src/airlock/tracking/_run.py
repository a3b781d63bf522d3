"""A tracked run: params, metrics, tags, artifacts and inputs, flushed in batches.

``log_metric`` appends to an in-memory buffer (microseconds) and never waits for the store:
a background writer (started on the first due write, stopped when the run ends) writes the
buffer in one transaction when it holds ``FLUSH_POINTS`` points or ``FLUSH_SECONDS`` have
passed, taking everything logged meanwhile into the same transaction (group commit).
``flush()`` and the end of the run write what is left and return only once every point
logged before them is durable; what they acknowledged survives a crash. Only a writer that
falls ``MAX_BUFFER`` points behind makes ``log_metric`` write in the caller's thread.
"""

from __future__ import annotations

import atexit
import contextlib
import numbers
import threading
import time
import uuid
import weakref
from collections.abc import Iterable, Mapping
from contextvars import ContextVar
from pathlib import Path
from types import TracebackType
from typing import Any

from airlock._config import settings
from airlock.errors import InvalidInput, UsageError
from airlock.store import (
    ArtifactRecord,
    DatasetInfo,
    MetricPoint,
    PointRow,
    RunRecord,
    Store,
    get_store,
)

from ._capture import capture_code, capture_command, capture_env

__all__ = ["Run", "active_run", "start_run"]

FLUSH_POINTS = 1000
FLUSH_SECONDS = 1.0
MAX_BUFFER = 1_000_000
MAX_KEY = 256
_active: ContextVar[Run | None] = ContextVar("airlock_active_run", default=None)
_open_runs: weakref.WeakSet[Run] = weakref.WeakSet()


def _check_key(kind: str, key: Any) -> str:
    if not isinstance(key, str) or not key or len(key) > MAX_KEY or key != key.strip():
        raise InvalidInput(f"invalid {kind} name {key!r}: a non-empty string of at most "
                           f"{MAX_KEY} characters without surrounding spaces")
    return key


def _check_value(key: str, value: Any) -> float:
    if type(value) is float:  # the common case, checked without the ABC machinery
        return value
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise InvalidInput(
            f"metric {key!r} must be a real number, got {type(value).__name__} {value!r}")
    return float(value)


def _check_step(key: str, step: Any) -> int:
    if type(step) is int:
        return step
    if isinstance(step, bool) or not isinstance(step, numbers.Integral):
        raise InvalidInput(f"step of metric {key!r} must be an integer, got {step!r}")
    return int(step)


class Run:
    """One tracked execution. Use :func:`start_run` to make one."""

    def __init__(self, *, run_id: str, experiment: str, store: Store) -> None:
        self.id = run_id
        self.experiment = experiment
        self._store = store
        self._buffer: list[PointRow] = []
        self._lock = threading.Lock()  # guards the buffer and the writer's state
        self._write_lock = threading.Lock()  # one transaction at a time, in logging order
        self._wake = threading.Event()
        self._writer: threading.Thread | None = None
        self._stopping = False
        self._error: BaseException | None = None
        self._last_flush = time.monotonic()
        self._keys: set[str] = set()  # names already checked
        self._ended = False
        self._token: Any = None

    def __repr__(self) -> str:
        return f"Run(id={self.id!r}, experiment={self.experiment!r})"

    # -- metrics ------------------------------------------------------------------------
    def log_metric(self, key: str, value: float, step: int = 0,
                   timestamp: int | None = None) -> None:
        """Buffer one point; NaN and ±inf are kept as such."""
        if key not in self._keys:
            self._keys.add(_check_key("metric", key))
        point = (key, _check_value(key, value), _check_step(key, step),
                 time.time_ns() // 1_000_000 if timestamp is None else int(timestamp))
        with self._lock:
            self._buffer.append(point)
            size = len(self._buffer)
        self._after_append(size)

    def log_metrics(self, values: Mapping[str, float], step: int = 0,
                    timestamp: int | None = None) -> None:
        """Buffer one point per key, all at ``step`` and one timestamp."""
        at = time.time_ns() // 1_000_000 if timestamp is None else int(timestamp)
        if type(step) is not int:
            step = _check_step(next(iter(values), "metrics"), step)
        keys = self._keys
        try:
            for key in values:
                if key not in keys:
                    keys.add(_check_key("metric", key))
            points = [(k, _check_value(k, v), step, at) for k, v in values.items()]
        except InvalidInput:  # buffer the points before the bad one, as log_metric would
            points = []
            for k, v in values.items():
                try:
                    points.append((_check_key("metric", k), _check_value(k, v), step, at))
                except InvalidInput:
                    break
            with self._lock:
                self._buffer.extend(points)
            raise
        with self._lock:
            self._buffer.extend(points)
            size = len(self._buffer)
        self._after_append(size)

    def _after_append(self, size: int) -> None:
        if size >= MAX_BUFFER:  # the writer fell far behind: write here (backpressure)
            self.flush()
        elif size >= FLUSH_POINTS or time.monotonic() - self._last_flush >= FLUSH_SECONDS:
            self._kick()

    def _kick(self) -> None:
        """Wake the background writer, starting it on first use."""
        if self._writer is None:
            with self._lock:
                if self._writer is None and not self._stopping:
                    self._writer = threading.Thread(
                        target=self._write_loop, name=f"airlock-run-{self.id[:8]}",
                        daemon=True)
                    self._writer.start()
        self._wake.set()

    def _write_loop(self) -> None:
        while True:
            self._wake.wait(FLUSH_SECONDS)
            self._wake.clear()
            if self._stopping:
                return
            try:
                self._write_pending()
            except BaseException as exc:  # kept for the next flush() to raise
                self._error = exc

    def _write_pending(self) -> None:
        """Write everything buffered now in one transaction (the points stay buffered if
        the write fails)."""
        with self._write_lock:
            with self._lock:
                points, self._buffer = self._buffer, []
                self._last_flush = time.monotonic()
            if not points:
                return
            try:
                self._store.runs.log_metrics(self.id, points)
            except BaseException:
                with self._lock:  # keep them for the next try, in order
                    self._buffer[:0] = points
                raise

    def log_batch(self, points: Iterable[MetricPoint | tuple[str, float, int, int]]) -> None:
        """Write many points now, in one transaction: (key, value, step, timestamp) each."""
        checked: list[PointRow] = []
        keys: set[str] = set()
        for p in points:
            key, value, step, ts = (p.key, p.value, p.step, p.timestamp) \
                if isinstance(p, MetricPoint) else p
            if key not in keys:
                keys.add(_check_key("metric", key))
            checked.append((key, _check_value(key, value), _check_step(key, step), int(ts)))
        self.flush()
        with self._write_lock:
            self._store.runs.log_metrics(self.id, checked)

    def history(self, key: str) -> list[MetricPoint]:
        """Every logged point of metric ``key`` (flushes first)."""
        self.flush()
        return self._store.runs.metric_history(self.id, key)

    def flush(self) -> None:
        """Write buffered metric points; when this returns every point logged before the
        call is durable. Raises what a background write met, after retrying it here."""
        self._error = None
        self._write_pending()

    def _stop_writer(self) -> None:
        with self._lock:
            self._stopping = True
            writer = self._writer
        if writer is not None and writer is not threading.current_thread():
            self._wake.set()
            writer.join()

    # -- params, tags, artifacts, inputs ------------------------------------------------
    def log_param(self, key: str, value: Any) -> None:
        self.log_params({key: value})

    def log_params(self, values: Mapping[str, Any]) -> None:
        """Params are immutable: logging a different value for a key is an error."""
        self._store.runs.log_params(
            self.id, {_check_key("param", k): str(v) for k, v in values.items()})

    def set_tag(self, key: str, value: Any) -> None:
        self.set_tags({key: value})

    def set_tags(self, values: Mapping[str, Any]) -> None:
        self._store.runs.set_tags(
            self.id, {_check_key("tag", k): str(v) for k, v in values.items()})

    def log_artifact(self, path: str | Path, artifact_path: str | None = None) -> list[str]:
        """Copy a file or a folder into the run's artifacts; returns the stored paths."""
        src = Path(path)
        dest = "/".join(p for p in ((artifact_path or "").strip("/"),
                                    src.name if src.is_dir() else "") if p)
        prefix = "/".join(p for p in (f"runs/{self.id}/artifacts", dest) if p)
        stored = self._store.artifacts.put_tree(src, prefix)
        records = [ArtifactRecord("/".join(p for p in (dest, rel) if p), size, digest)
                   for rel, size, digest in stored]
        self._store.runs.log_artifacts(self.id, records)
        return [r.path for r in records]

    def log_input(self, data: Any, *, name: str | None = None,
                  context: str = "training") -> DatasetInfo:
        """Record a dataset this run used: its content sha256, schema and row count."""
        from airlock.data import fingerprint

        info = fingerprint(data, name=name)
        self._store.runs.log_input(self.id, info, context)
        return info

    # -- lifecycle ----------------------------------------------------------------------
    def end(self, status: str = "FINISHED", error: str | None = None) -> None:
        if self._ended:
            return
        if status not in ("FINISHED", "FAILED", "KILLED"):
            raise UsageError(f"invalid run status {status!r}: FINISHED, FAILED or KILLED")
        self._stop_writer()
        self.flush()
        self._store.runs.end_run(self.id, status, error)
        self._ended = True
        _open_runs.discard(self)

    @property
    def info(self) -> RunRecord:
        """The run as stored now (flushes first)."""
        self.flush()
        return self._store.runs.get(self.id)

    def __enter__(self) -> Run:
        self._token = _active.set(self)
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if self._token is not None:
            _active.reset(self._token)
            self._token = None
        if exc is None:
            self.end("FINISHED")
        else:
            status = "FAILED" if isinstance(exc, Exception) else "KILLED"
            self.end(status, f"{type(exc).__name__}: {exc}")


def start_run(experiment: str = "default", *, name: str | None = None,
              params: Mapping[str, Any] | None = None,
              tags: Mapping[str, Any] | None = None) -> Run:
    """Start a run; use it as a context manager so it ends FINISHED or FAILED by itself."""
    _check_key("experiment", experiment)
    store = get_store()
    run = Run(run_id=uuid.uuid4().hex, experiment=experiment, store=store)
    store.runs.create_run(
        run_id=run.id, experiment=experiment, name=name, user=settings().actor,
        command=capture_command(), code=capture_code(), env=capture_env(),
        start_time=time.time_ns() // 1_000_000,
    )
    if params:
        run.log_params(params)
    if tags:
        run.set_tags(tags)
    _open_runs.add(run)
    return run


def active_run() -> Run | None:
    """The run of the innermost ``with start_run(...)`` block, if any."""
    return _active.get()


@atexit.register
def _flush_open_runs() -> None:
    for run in list(_open_runs):
        with contextlib.suppress(Exception):  # the interpreter is going away: best effort
            run.flush()

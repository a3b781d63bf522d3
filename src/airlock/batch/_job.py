"""A batch job from start to end: check everything, score what is missing, record it.

Before anything is written: the engine's extra is importable, the model loads (sha256
verified), the input names readable files, the --keep columns exist, the output folder is
writable and holds no other job's files. Then, in a tracked run: the fragments the job's
manifest does not record as done are scored, each recorded the moment its files are in place
(a killed job resumes from there); a fragment that fails is retried (``retries`` more times),
then recorded failed with its error while the others finish. Last, the job's figures go to
the run (params, metrics, the manifest as an artifact), the drift profile and the prediction
log get their rows, and the job's end is an audit event.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from airlock.errors import InvalidInput, NotFound, UsageError
from airlock.registry import LoadedModel, load_model
from airlock.store import BatchFragmentRecord, DatasetInfo, Store, get_store
from airlock.tracking import Run, start_run

from ._core import INPUTS, REASON, VERSION, ModelBundle, Task, prime
from ._fragments import Fragment, Inputs, list_inputs
from ._manifest import check_output, clear_output, job_id, manifest
from ._output import LOG, PROFILES, Output, part_name
from ._progress import Progress
from ._result import BatchResult, FragmentOutcome, JobStatus
from ._worker import Engine, one_line

__all__ = ["ENGINES", "job_status", "score"]

ENGINES = ("local", "ray", "spark")
UNKNOWN_ENGINE = "unknown engine {name!r}: use one of local, ray, spark"
BAD_BATCH_SIZE = "--batch-size must be a positive number of rows, got {value}"
BAD_WORKERS = "--workers must be at least 1, got {value}"
BAD_REJECT_RATE = "--max-reject-rate must be between 0 and 1, got {value}"
BAD_RETRIES = "retries must be 0 or more, got {value}"
KEEP_MISSING = "--keep column {name!r} is not in the input {fragment} (it has: {have})"
KEEP_CLASH = "--keep column {name!r} clashes with the column {name!r} that scoring adds"
OUTPUT_IN_INPUT = ("the output {output} is inside the input {input}: a later run would score "
                   "its own output; write it elsewhere")
NOTHING_TO_RESUME = ("nothing to resume: no batch job scored {input} into {output} with "
                     "{ref} (run without --resume to start one)")
NOT_A_PROFILE_PATH = "--profile must name a file, got the folder {path}"


def make_engine(name: str, workers: int | None) -> Engine:
    """The engine ``name`` (its extra is imported now: a missing one is a one-line error)."""
    if name == "local":
        from ._local import LocalEngine

        return LocalEngine(workers)
    if name == "ray":
        from ._ray import RayEngine

        return RayEngine(workers)
    if name == "spark":
        from ._spark import SparkEngine

        return SparkEngine(workers)
    raise UsageError(UNKNOWN_ENGINE.format(name=name))


def _check_options(batch_size: int, workers: int | None, max_reject_rate: float | None,
                   retries: int) -> None:
    if not isinstance(batch_size, int) or isinstance(batch_size, bool) or batch_size < 1:
        raise UsageError(BAD_BATCH_SIZE.format(value=batch_size))
    if workers is not None and (not isinstance(workers, int) or workers < 1):
        raise UsageError(BAD_WORKERS.format(value=workers))
    if max_reject_rate is not None and not 0.0 <= max_reject_rate <= 1.0:
        raise UsageError(BAD_REJECT_RATE.format(value=max_reject_rate))
    if retries < 0:
        raise UsageError(BAD_RETRIES.format(value=retries))


def _check_keep(inputs: Inputs, keep: Sequence[str], model: LoadedModel) -> None:
    outputs = {c["name"] for c in model.signature.get("outputs", [])}
    for name in keep:
        if name in outputs or name in (VERSION, REASON, INPUTS):
            raise UsageError(KEEP_CLASH.format(name=name))
        for f in inputs.fragments:
            have = [*f.columns, *(k for k, _ in f.partition)]
            if name not in have:
                shown = ", ".join(have[:12]) + (", …" if len(have) > 12 else "")
                raise UsageError(KEEP_MISSING.format(name=name, fragment=f.key, have=shown))


def _check_output(out: Output, inputs: Inputs) -> None:
    root = out.root.rstrip("/") + "/"
    if inputs.local == out.local and any(f.path.startswith(root) for f in inputs.fragments):
        raise UsageError(OUTPUT_IN_INPUT.format(output=out.uri, input=inputs.spec))


def _bundle(store: Store, model: LoadedModel, trusted: bool | None) -> ModelBundle:
    """The version's files, read from the artifact store (load_model just verified them)."""
    version = model.version
    files = {}
    for rel in version.manifest["files"]:
        with store.artifacts.open(f"{version.artifact_uri}/{rel}") as fh:
            files[rel] = fh.read()
    return ModelBundle(version, files, bool(trusted))


class _Recorder:
    """The engines' reporter: records each outcome in the manifest at once, feeds the
    progress display and the prediction log."""

    def __init__(self, store: Store, task: Task, by_key: dict[str, Fragment],
                 progress: Progress, plog: _BatchLog | None,
                 logged: set[str] | None = None) -> None:
        self.store, self.task, self.by_key = store, task, by_key
        self.progress, self.plog = progress, plog
        self.logged = logged or set()  # fragments whose rows the log has from before
        self.outcomes: dict[str, FragmentOutcome] = {}
        self.attempt = 1
        self.last_error: dict[str, str] = {}

    def rows(self, n: int) -> None:
        self.progress.add_rows(n)

    def done(self, outcome: FragmentOutcome) -> None:
        fragment = self.by_key[outcome.key]
        self.outcomes[outcome.key] = outcome
        ok = outcome.status == "done"
        if not ok and outcome.error:
            self.last_error[outcome.key] = outcome.error
        self.store.batch.record_fragment(self.task.job_id, BatchFragmentRecord(
            key=fragment.id, fragment=fragment.key, status=outcome.status,
            output=outcome.output, rows=outcome.rows, rejected=outcome.rejected,
            sha256=outcome.sha256, rejects_sha256=outcome.rejects_sha256,
            seconds=outcome.seconds, attempts=self.attempt,
            logged=ok and fragment.id in self.logged, error=outcome.error))
        self.progress.fragment(ok)
        if ok and outcome.log:
            if self.plog is not None and fragment.id not in self.logged:
                self.plog.append(self.task, fragment, outcome.log)
            else:  # scored again (a lost file, a profile asked for): logged once already
                self.task.output.remove(outcome.log)


class _BatchLog:
    """Appends a job's scored rows to an endpoint's prediction log, from the ``_log/`` side
    files the writers leave: one request per batch, marked logged in the manifest once the
    log has them durable (a crash in between logs that fragment again on resume)."""

    def __init__(self, store: Store, endpoint: str, model: LoadedModel) -> None:
        from airlock.predlog import PredictionLog, log_locations

        uri, spool = log_locations()
        self.store, self.model = store, model
        self.log = PredictionLog(endpoint, spool_dir=spool, artifact_uri=uri)
        self.endpoint = endpoint

    def open(self) -> _BatchLog:
        self.log.open()
        return self

    def append(self, task: Task, fragment: Fragment, name: str) -> None:
        import pyarrow as pa

        from airlock.predlog import make_batch_records

        out = task.output
        version = self.model.version
        pending = []
        with out.fs.open(out.path(name), "rb") as fh:
            for i, batch in enumerate(pa.ipc.open_stream(fh)):
                inputs = pa.Table.from_batches([pa.RecordBatch.from_struct_array(
                    batch.column(0))])
                outputs = pa.Table.from_batches([pa.RecordBatch.from_struct_array(
                    batch.column(1))])
                records = make_batch_records(
                    request_ids=[f"{task.job_id}/{fragment.id}/{i}"],
                    row_counts=[batch.num_rows], ts_ms=[time.time_ns() // 1_000_000],
                    latency_ms=[0.0], status=200, endpoint=self.endpoint, route="batch",
                    model=version.name, version=version.version, inputs=inputs,
                    outputs=outputs)
                pending.append(self.log.append(records))
                if len(pending) >= 4:  # bounded: wait for the log before reading on
                    for future in pending:
                        future.result()
                    pending = []
        for future in pending:
            future.result()
        self.store.batch.mark_logged(task.job_id, fragment.id)
        out.remove(name)

    def close(self) -> None:
        self.log.close()


def score(model: str, input: str | os.PathLike[str], output: str | os.PathLike[str], *,
          engine: str = "local", workers: int | None = None, batch_size: int = 65536,
          keep: Sequence[str] = (), resume: bool = False, overwrite: bool = False,
          max_reject_rate: float | None = None, profile: str | os.PathLike[str] | None = None,
          log_as: str | None = None, retries: int = 2, trusted: bool | None = None,
          progress: bool = False) -> BatchResult:
    """Score ``input`` with the model ``model`` (``NAME``, ``NAME@VERSION`` or
    ``NAME@ALIAS``) into the Parquet folder ``output``; see the module docstring.

    Running the same call again resumes the job (only what is missing is scored);
    ``resume=True`` also insists that there is a job to resume. ``overwrite`` replaces an
    output folder written by another model version (or with other ``keep`` columns), which
    is otherwise refused. ``profile``: write the drift profile of the inputs and
    predictions there; ``log_as``: append the rows to the prediction log of that endpoint.

    The result's ``rows``/``rejected`` count the whole job (every fragment done so far);
    ``rows_per_s`` is this call's. ``passed`` is False when a fragment failed or the reject
    rate exceeds ``max_reject_rate``."""
    _check_options(batch_size, workers, max_reject_rate, retries)
    eng = make_engine(engine, workers)
    loaded = load_model(model, trusted=trusted)
    version = loaded.version
    inputs = list_inputs(input)
    keep = tuple(keep)
    _check_keep(inputs, keep, loaded)
    out = Output.open(output)
    _check_output(out, inputs)
    profile_path = None if profile is None else Path(profile)
    if profile_path is not None and profile_path.is_dir():
        raise UsageError(NOT_A_PROFILE_PATH.format(path=profile_path))
    store = get_store()
    plog = None if log_as is None else _BatchLog(store, log_as, loaded)
    bundle = _bundle(store, loaded, trusted)
    jid = job_id(bundle.sha256, inputs.spec, out.uri, keep)
    try:
        existing = store.batch.get_job(jid)
    except NotFound:
        existing = None
    if resume and existing is None:
        raise UsageError(NOTHING_TO_RESUME.format(input=inputs.spec, output=out.uri,
                                                  ref=version.ref))
    others, files = check_output(store, out, jid, bundle.sha256, keep, overwrite=overwrite)
    out.probe()  # the first write: every check above only read
    clear_output(store, out, others, files)
    if overwrite and existing is not None:  # this job's own files go too: score afresh
        clear_output(store, out, [existing], [])
    task = Task(job_id=jid, bundle=bundle, output=out, source_fs=inputs.fs,
                source_local=inputs.local, keep=keep, batch_size=batch_size,
                profile=profile_path is not None, log=log_as is not None)
    prime(task, loaded)  # the driver scores too (local engine): with the model it loaded
    with start_run("batch", name=f"batch {version.ref}") as run:
        return _run(store, run, eng, task, inputs, loaded, workers=workers,
                    max_reject_rate=max_reject_rate, profile_path=profile_path, plog=plog,
                    retries=retries, progress=progress)


def _run(store: Store, run: Run, eng: Engine, task: Task, inputs: Inputs,
         loaded: LoadedModel, *, workers: int | None,
         max_reject_rate: float | None, profile_path: Path | None, plog: _BatchLog | None,
         retries: int, progress: bool) -> BatchResult:
    version, out, jid = loaded.version, task.output, task.job_id
    engine_version = eng.version()
    store.batch.open_job(
        job_id=jid, name=version.name, version=version.version, model_sha256=task.bundle.sha256,
        input=inputs.spec, output=out.uri, output_key=out.key, engine=eng.name,
        config={"keep": list(task.keep), "batch_size": task.batch_size, "workers": workers,
                "engine_version": engine_version, "input_digest": inputs.digest},
        fragments=len(inputs.fragments), run_id=run.id)
    _log_run_inputs(store, run, task, inputs, eng.name, engine_version, workers)
    by_key = {f.key: f for f in inputs.fragments}
    todo, skipped = _missing(store, task, inputs)
    started = time.perf_counter()
    show = Progress(enabled=progress, job_id=jid, fragments=len(todo),
                    rows=sum(f.rows or 0 for f in todo) if all(f.rows is not None
                                                              for f in todo) else None)
    logged = {r.key for r in store.batch.fragments(jid) if r.logged}
    recorder = _Recorder(store, task, by_key, show, plog.open() if plog else None, logged)
    try:
        if recorder.plog is not None:
            _log_leftovers(store, task, by_key, recorder.plog)
        pending = todo
        for attempt in range(1, retries + 2):
            if not pending:
                break
            recorder.attempt = attempt
            eng.run(task, pending, recorder)
            pending = [f for f in pending if f.key not in recorder.outcomes
                       or recorder.outcomes[f.key].status != "done"]
            for f in pending:
                recorder.outcomes.pop(f.key, None)
        for f in pending:  # an engine that never reported a fragment: it failed
            if f.key not in recorder.outcomes and f.key not in recorder.last_error:
                recorder.done(FragmentOutcome(key=f.key, status="failed",
                                              error="the engine did not report it"))
    except BaseException as exc:
        status = "interrupted" if not isinstance(exc, Exception) else "failed"
        with contextlib.suppress(Exception):
            store.batch.finish_job(jid, status, {"error": one_line(exc)})
        raise
    finally:
        show.close()
        if recorder.plog is not None:
            recorder.plog.close()
    seconds = time.perf_counter() - started
    return _finish(store, run, task, inputs, loaded, eng, engine_version, recorder, skipped,
                   seconds, max_reject_rate, profile_path)


def _missing(store: Store, task: Task, inputs: Inputs) -> tuple[list[Fragment], int]:
    """(fragments to score, how many are done already): a done fragment whose files are
    gone, or that lacks the profile now asked for, is scored again."""
    rows = {r.key: r for r in store.batch.fragments(task.job_id)}
    present = set(task.output.parts())
    todo, skipped = [], 0
    for f in inputs.fragments:
        r = rows.get(f.id)
        name = part_name(f, task.bundle.sha256)
        ok = r is not None and r.status == "done" and (r.output is None or r.output in present)
        if ok and task.profile and r is not None and r.rows:
            ok = task.output.exists(f"{PROFILES}/{name}.profile")
        if ok:
            skipped += 1
        else:
            todo.append(f)
    return todo, skipped


def _log_leftovers(store: Store, task: Task, by_key: dict[str, Fragment],
                   plog: _BatchLog) -> None:
    """Done fragments whose rows did not reach the prediction log (a crash in between)."""
    for r in store.batch.fragments(task.job_id):
        fragment = by_key.get(r.fragment)
        if fragment is None or r.status != "done" or r.logged or not r.output:
            continue
        name = f"{LOG}/{part_name(fragment, task.bundle.sha256)}.arrows"
        if task.output.exists(name):
            plog.append(task, fragment, name)


def _log_run_inputs(store: Store, run: Run, task: Task, inputs: Inputs, engine: str,
                    engine_version: str, workers: int | None) -> None:
    v = task.bundle.version
    run.log_params({"job_id": task.job_id, "model": v.ref, "model_sha256": task.bundle.sha256,
                    "input": inputs.spec, "output": task.output.uri, "engine": engine,
                    "engine_version": engine_version, "workers": workers or "auto",
                    "batch_size": task.batch_size, "keep": ",".join(task.keep)})
    schema = inputs.fragments[0].schema
    info = DatasetInfo(name="batch-input", digest=inputs.digest,
                       schema={f.name: str(f.type) for f in schema} if schema else {},
                       rows=inputs.rows if inputs.rows is not None else -1, uri=inputs.spec)
    store.runs.log_input(run.id, info, "batch")


def _finish(store: Store, run: Run, task: Task, inputs: Inputs, loaded: LoadedModel,
            eng: Engine, engine_version: str, recorder: _Recorder, skipped: int,
            seconds: float, max_reject_rate: float | None,
            profile_path: Path | None) -> BatchResult:
    keys = {f.id for f in inputs.fragments}
    rows = [r for r in store.batch.fragments(task.job_id) if r.key in keys]
    done = [r for r in rows if r.status == "done"]
    failed = {r.fragment: r.error or "failed" for r in rows if r.status == "failed"}
    raw, manifest_sha = manifest(task.job_id, done)
    now_rows = sum(o.rows + o.rejected for o in recorder.outcomes.values()
                   if o.status == "done")
    result = BatchResult(
        job_id=task.job_id, run_id=run.id, model=loaded.version.ref,
        model_sha256=task.bundle.sha256, engine=eng.name, engine_version=engine_version,
        input=inputs.spec, output=task.output.uri, rows=sum(r.rows for r in done),
        rejected=sum(r.rejected for r in done),
        done=sum(1 for o in recorder.outcomes.values() if o.status == "done"),
        failed=len(failed), skipped=skipped, seconds=seconds,
        rows_per_s=now_rows / seconds if seconds > 0 else 0.0, manifest_sha256=manifest_sha,
        max_reject_rate=max_reject_rate,
        profile=str(profile_path) if profile_path is not None else None,
        log_as=recorder.plog.endpoint if recorder.plog is not None else None,
        errors=failed, fragments=tuple(recorder.outcomes.values()))
    if profile_path is not None:
        _save_profile(task, inputs, done, profile_path)
    _log_run_results(run, result, raw, recorder)
    before = store.batch.get_job(task.job_id).result or {}
    last_rate = result.rows_per_s if now_rows else before.get("last_rows_per_s")
    store.batch.finish_job(task.job_id, result.status,
                           {**result.to_dict(), "last_rows_per_s": last_rate})
    if not result.passed:
        why = (f"{result.failed} fragment(s) failed" if result.failed else
               f"reject rate {result.reject_rate:.4g} over {max_reject_rate}")
        run.end("FAILED", why)
    return result


def _save_profile(task: Task, inputs: Inputs, done: Sequence[BatchFragmentRecord],
                  path: Path) -> None:
    from airlock.monitor import Profile

    merged = None
    by_id = {f.id: f for f in inputs.fragments}
    for r in done:
        if not r.rows:
            continue
        name = f"{PROFILES}/{part_name(by_id[r.key], task.bundle.sha256)}.profile"
        part = Profile.from_bytes(task.output.read_bytes(name), name=name)
        merged = part if merged is None else merged.merge(part)
    if merged is None:
        raise InvalidInput(f"no row was scored, so there is nothing to profile for {path}")
    merged.save(path)


def _log_run_results(run: Run, result: BatchResult, raw: bytes, recorder: _Recorder) -> None:
    run.log_metrics({"rows": result.rows, "rejected": result.rejected,
                     "reject_rate": result.reject_rate, "rows_per_s": result.rows_per_s,
                     "seconds": result.seconds, "fragments_done": result.done,
                     "fragments_failed": result.failed, "fragments_skipped": result.skipped})
    for step, outcome in enumerate(sorted(recorder.outcomes.values(), key=lambda o: o.key)):
        run.log_metric("fragment_seconds", outcome.seconds, step=step)
    run.set_tags({"manifest_sha256": result.manifest_sha256, "batch.status": result.status})
    with tempfile.TemporaryDirectory(prefix="airlock-batch-") as tmp:
        path = Path(tmp) / "manifest.json"
        path.write_bytes(raw)
        run.log_artifact(path, "batch")


def job_status(job: str) -> JobStatus:
    """A stored job as it stands: fragments done / pending / failed, rows, rejects, rows/s."""
    store = get_store()
    record = store.batch.get_job(job)
    rows = store.batch.fragments(job)
    done = [r for r in rows if r.status == "done"]
    failed = {r.fragment: r.error or "failed" for r in rows if r.status == "failed"}
    rate = (record.result or {}).get("last_rows_per_s")  # of the last run that scored
    return JobStatus(job_id=record.id, model=record.ref, model_sha256=record.model_sha256,
                     engine=record.engine, status=record.status, input=record.input,
                     output=record.output, run_id=record.run_id, fragments=record.fragments,
                     done=len(done), failed=len(failed), rows=sum(r.rows for r in done),
                     rejected=sum(r.rejected for r in done),
                     rows_per_s=float(rate) if isinstance(rate, int | float) else None,
                     created_at=record.created_at, updated_at=record.updated_at,
                     errors=failed)


"""A job's identity, its manifest document, and who else wrote into its output folder.

A job's id derives from what it computes (model sha256, input, output, --keep), so running
the same command again is the same job: it resumes. An output folder holds the files of one
model version and one --keep list only: a job whose files would sit beside another's (a
different version, or other columns) is refused unless ``overwrite``, which removes the
other files first. The files' names say which version wrote them (``part-<fragment>-<model
sha256[:12]>``), so this holds even for files another store recorded.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence

from airlock.errors import UsageError
from airlock.store import BatchFragmentRecord, BatchJobRecord, Store

from ._output import LOG, PART_PREFIX, PROFILES, REJECTS, Output

__all__ = ["OTHER_JOB", "check_output", "clear_output", "job_id", "manifest", "other_jobs"]

OTHER_JOB = ("{output} already holds the output of {other}: score into another folder, or "
             "pass --overwrite to replace it")


def job_id(model_sha256: str, input: str, output: str, keep: Sequence[str]) -> str:
    doc = json.dumps({"model": model_sha256, "input": input, "output": output,
                      "keep": list(keep)}, sort_keys=True)
    return "bj-" + hashlib.sha256(doc.encode()).hexdigest()[:20]


def manifest(job: str, fragments: Sequence[BatchFragmentRecord]) -> tuple[bytes, str]:
    """The output manifest (JSON: each done fragment's output file, rows, rejects and
    sha256, by fragment) and its sha256."""
    doc = {"job": job, "fragments": [
        {"fragment": f.fragment, "output": f.output, "rows": f.rows, "rejected": f.rejected,
         "sha256": f.sha256, "rejects_sha256": f.rejects_sha256}
        for f in sorted(fragments, key=lambda f: f.fragment) if f.status == "done"]}
    raw = json.dumps(doc, indent=1, sort_keys=True).encode()
    return raw, hashlib.sha256(raw).hexdigest()


def _model_of(part: str) -> str:
    """The model sha256 prefix in a part file's name."""
    stem = part.rsplit("/", 1)[-1].removeprefix(PART_PREFIX).removesuffix(".parquet")
    return stem.rsplit("-", 1)[-1]


def other_jobs(store: Store, out: Output, job: str, model_sha256: str,
               keep: Sequence[str]) -> tuple[list[BatchJobRecord], list[str]]:
    """(jobs of this store, part files of the folder) that are not this job's kind."""
    jobs = [j for j in store.batch.jobs_for_output(out.key)
            if j.id != job and j.status != "overwritten"
            and (j.model_sha256 != model_sha256 or list(j.config.get("keep", [])) != list(keep))]
    files = [p for p in out.parts() if _model_of(p) != model_sha256[:12]]
    return jobs, files


def describe(jobs: Sequence[BatchJobRecord], files: Sequence[str], model_sha256: str) -> str:
    """The other job, in words: its model version (and --keep, when only that differs)."""
    if jobs:
        j = jobs[-1]
        if j.model_sha256 != model_sha256:
            return j.ref
        return f"{j.ref} with --keep {','.join(j.config.get('keep') or []) or '(none)'}"
    return f"another model version (e.g. {files[0]})"


def check_output(store: Store, out: Output, job: str, model_sha256: str, keep: Sequence[str],
                 *, overwrite: bool) -> tuple[list[BatchJobRecord], list[str]]:
    """Refuse an output folder holding another job's files, unless ``overwrite``; returns
    what :func:`clear_output` is to remove (nothing is removed here)."""
    jobs, files = other_jobs(store, out, job, model_sha256, keep)
    busy = [j for j in jobs if any(f.status == "done" for f in store.batch.fragments(j.id))]
    if (busy or files) and not overwrite:
        raise UsageError(OTHER_JOB.format(output=out.uri,
                                          other=describe(busy, files, model_sha256)))
    return jobs, files


def clear_output(store: Store, out: Output, jobs: Sequence[BatchJobRecord],
                 files: Sequence[str]) -> None:
    """Remove the files of ``jobs`` (and the named part files) and forget their manifests."""
    names: set[str] = set(files)
    for j in jobs:
        for f in store.batch.fragments(j.id):
            if f.output:
                names.add(f.output)
    for name in sorted(names):
        stem = name.rsplit("/", 1)[-1].removesuffix(".parquet")
        for path in (f"{stem}.parquet", f"{REJECTS}/{stem}.parquet",
                     f"{PROFILES}/{stem}.profile", f"{LOG}/{stem}.arrows"):
            out.remove(path)
    for j in jobs:
        store.batch.reset(j.id)


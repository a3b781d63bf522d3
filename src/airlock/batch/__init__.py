"""Batch scoring: one scoring core, run by the local, Ray or Spark engine.

``score(model, input, output, ...)`` scores Parquet, CSV or JSON lines files (local or any
fsspec URL) into a Parquet folder with one file per input file, streamed in bounded memory,
resumable and exactly once, with rejects, a drift profile and the prediction log on request;
it returns a :class:`BatchResult`. ``job_status(job_id)`` reads a job back. Every engine runs
the one :class:`Scorer` (an Arrow record batch in, a record batch out), so their output files
are identical.
"""

from __future__ import annotations

from ._core import Scorer
from ._job import ENGINES, job_status, score
from ._result import BatchResult, FragmentOutcome, JobStatus

__all__ = ["ENGINES", "BatchResult", "FragmentOutcome", "JobStatus", "Scorer", "job_status",
           "score"]

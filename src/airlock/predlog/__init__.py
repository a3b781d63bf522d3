"""The prediction log: every answered request (and delayed label) of an endpoint, durable.

Serving and batch scoring write it, monitoring and experiments read it::

    records = make_records(request_id=..., ts_ms=..., endpoint="wine", ..., inputs=t, outputs=o)
    with PredictionLog("wine", spool_dir=spool, artifact_uri=uri) as plog:
        plog.append(records).result()     # durable (fsync'd) once the future resolves
    table = read_prediction_log("wine", artifact_uri=uri, spool_dir=spool)

Rows are group-committed to local Arrow spools and rolled into zstd Parquet segments in the
artifact store; spools left by a dead process are recovered (:func:`recover_spools`).
"""

from __future__ import annotations

from airlock.errors import PredictionLogError

from ._locations import log_locations
from ._read import logged_endpoints, read_prediction_log, scan_prediction_log
from ._records import make_batch_records, make_feedback, make_records
from ._redact import REDACTED, RedactMode, Redactor
from ._schema import COLUMNS, FEEDBACK, PREDICTIONS, TS_TYPE
from ._spool import recover_spools
from ._writer import PredictionLog

__all__ = [
    "COLUMNS",
    "FEEDBACK",
    "PREDICTIONS",
    "REDACTED",
    "TS_TYPE",
    "PredictionLog",
    "PredictionLogError",
    "RedactMode",
    "Redactor",
    "log_locations",
    "logged_endpoints",
    "make_batch_records",
    "make_feedback",
    "make_records",
    "read_prediction_log",
    "recover_spools",
    "scan_prediction_log",
]

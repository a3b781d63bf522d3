"""Data: table conversion at the boundary and dataset fingerprints."""

from __future__ import annotations

from airlock.store import DatasetInfo

from ._fingerprint import fingerprint
from ._tables import from_arrow, table_kind, to_arrow, to_lazy

__all__ = ["DatasetInfo", "fingerprint", "from_arrow", "table_kind", "to_arrow", "to_lazy"]

"""One app's short-lived memory of endpoint reports, so that open endpoint pages refreshing
every few seconds (several tabs, several people) cost one computation per interval.

A report is kept ``ttl`` seconds from when it was computed (0: never kept) under the
request's parameters; a second request for the same parameters while one is computing
waits for it instead of starting another. At most ``size`` reports are kept (the oldest
go first). Each page says when its figures were computed.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any

__all__ = ["ReportCache"]


class ReportCache:
    def __init__(self, *, ttl: float, size: int = 32) -> None:
        self.ttl, self.size = ttl, size
        self._lock = threading.Lock()
        self._kept: OrderedDict[Hashable, tuple[float, Any]] = OrderedDict()
        self._busy: dict[Hashable, threading.Lock] = {}

    def get(self, key: Hashable, compute: Callable[[], Any]) -> tuple[Any, float]:
        """(the value for ``key``, when it was computed: ``time.time()``)."""
        if self.ttl <= 0:
            return compute(), time.time()
        with self._lock:
            gate = self._busy.setdefault(key, threading.Lock())
        with gate:  # one computation per key at a time; the others wait for it
            with self._lock:
                found = self._kept.get(key)
                if found is not None and time.time() - found[0] < self.ttl:
                    return found[1], found[0]
            value, at = compute(), time.time()
            with self._lock:
                self._kept[key] = (at, value)
                self._kept.move_to_end(key)
                while len(self._kept) > self.size:
                    self._kept.popitem(last=False)
            return value, at

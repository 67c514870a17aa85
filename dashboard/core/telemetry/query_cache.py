"""The store's answer cache: query results kept until the set of telemetry files changes.

Telemetry files are immutable (new data arrives as new files), so a result
keyed by (query, parameters, scope) stays right until a file is added or
replaced; the file listing (`TelemetryStore.files_version`) is the version.
A new version empties the cache at once; otherwise the least recently used
answer goes first.
"""

from __future__ import annotations

import threading
from collections import OrderedDict

import polars as pl


class ResultCache:
    def __init__(self, entries: int = 256):
        self.entries = entries
        self._lock = threading.Lock()
        self._results: OrderedDict[tuple, pl.DataFrame] = OrderedDict()
        self._version: tuple = ()

    def get(self, key: tuple, version: tuple) -> pl.DataFrame | None:
        with self._lock:
            if version != self._version:  # new telemetry: every cached answer is stale
                self._results.clear()
                self._version = version
            if key in self._results:
                self._results.move_to_end(key)
                return self._results[key]
        return None

    def put(self, key: tuple, result: pl.DataFrame) -> None:
        with self._lock:
            self._results[key] = result
            while len(self._results) > self.entries:
                self._results.popitem(last=False)

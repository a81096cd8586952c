"""Reports' results kept until a record of an object they read is written.

Each object has a count of the writes made to it through this process's record service: a
subscriber of the record service's changes raises it inside the write's transaction, and the
runtime raises it again once the transaction has committed (a reader that began in between
would otherwise keep figures from before the write under the new count). A result is reused
while the counts of every object it reads are those it was computed under, for the same reader,
parameters and day. Writes made by another process (a second server, ``tessera worker``) are not
counted here: a result is also dropped after ``MAX_AGE`` seconds, which bounds how long such a
write can go unseen.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from typing import Any, Hashable, Iterable

MAX_AGE = 60.0
SIZE = 512
WRITTEN = "tessera_report_written"  # Connection.info key: the objects a transaction wrote


class ReportCache:
    def __init__(self, max_age: float = MAX_AGE, size: int = SIZE) -> None:
        self.max_age, self.size = max_age, size
        self._counts: dict[str, int] = {}
        self._results: OrderedDict[Hashable, tuple[tuple, float, Any]] = OrderedDict()
        self._lock = threading.Lock()

    def receive(self, conn, change) -> None:
        """A subscriber of record changes: the object was written in ``conn``'s transaction."""
        conn.info.setdefault(WRITTEN, set()).add(change.object_name)
        self.written([change.object_name])

    @staticmethod
    def written_in(conn) -> set[str]:
        """The objects ``conn``'s transaction wrote (forgotten on the connection), to count again once it commits."""
        return conn.info.pop(WRITTEN, set())

    def written(self, objects: Iterable[str]) -> None:
        with self._lock:
            for name in objects:
                self._counts[name] = self._counts.get(name, 0) + 1

    def stamp(self, objects: Iterable[str]) -> tuple:
        """The write counts of ``objects`` now: what a result computed from here on is valid for."""
        with self._lock:
            return tuple(sorted((name, self._counts.get(name, 0)) for name in set(objects)))

    def get(self, key: Hashable, stamp: tuple) -> Any | None:
        with self._lock:
            found = self._results.get(key)
            if found is None:
                return None
            kept_stamp, at, value = found
            if kept_stamp != stamp or time.monotonic() - at > self.max_age:
                del self._results[key]
                return None
            self._results.move_to_end(key)
            return value

    def put(self, key: Hashable, stamp: tuple, value: Any) -> None:
        with self._lock:
            self._results[key] = (stamp, time.monotonic(), value)
            self._results.move_to_end(key)
            while len(self._results) > self.size:
                self._results.popitem(last=False)

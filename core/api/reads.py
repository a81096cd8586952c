"""Reads on the event loop while they are quick, in a worker thread when they are not.

A list or a record read on SQLite is work in this process (no network wait), usually well
under a millisecond of it, and handing it to a worker thread and back costs a good part of
that again. So such a read starts on the event loop with a time budget; SQLite stops it
when the budget runs out (``ReadBudgetExceeded``: nothing was written) and it runs again,
from the start, in a worker thread, where a long read holds up nobody else. Reads on
PostgreSQL wait on the network and always go to a thread.
"""

from __future__ import annotations

import logging
from typing import Callable, TypeVar

from litestar import Request
from litestar.concurrency import sync_to_thread

from core.db import ReadBudgetExceeded

T = TypeVar("T")
log = logging.getLogger("tessera.reads")


async def quick_read(request: Request, read: Callable[[float | None], T]) -> T:
    """``read(budget)``, first on the loop with the runtime's budget if it has one, else (or then) in a thread with none."""
    budget = request.app.state.runtime.loop_read_budget
    if budget is not None:
        try:
            return read(budget)
        except ReadBudgetExceeded:
            log.debug("%s %s: the read took more than %g ms on the event loop; running it in a worker thread",
                      request.method, request.url.path, budget * 1000)
    return await sync_to_thread(read, None)

"""The web server ``tessera serve`` runs: uvicorn, whose main loop rests while nothing happens.

Uvicorn's own main loop wakes every 0.1 s to refresh the ``Date`` header once a second and to
see whether it was asked to stop: on an idle server that was most of the CPU it used (the job
queue's workers and the scheduler rest until something is due, core/queue.py). Here the loop
wakes once a second, refreshing the header each time, and a signal to stop (Ctrl-C, SIGTERM)
wakes it at once.
"""

from __future__ import annotations

import asyncio
import sys
from types import FrameType

import uvicorn

REST = 1.0  # seconds between the main loop's looks: the Date header's resolution


class Server(uvicorn.Server):
    async def main_loop(self) -> None:
        self._woken = asyncio.Event()
        self._loop = asyncio.get_running_loop()
        while not await self.on_tick(0):  # counter 0: the Date header is refreshed at every look
            try:
                await asyncio.wait_for(self._woken.wait(), REST)
            except TimeoutError:
                pass
            self._woken.clear()

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        super().handle_exit(sig, frame)
        loop = getattr(self, "_loop", None)
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(self._woken.set)


def run(app, host: str, port: int) -> None:
    """What ``uvicorn.run(app, host=..., port=...)`` does for one process, with the resting main loop."""
    server = Server(uvicorn.Config(app, host=host, port=port, log_level="warning", access_log=False))
    try:
        server.run()
    except KeyboardInterrupt:
        pass
    if not server.started:
        sys.exit(3)  # uvicorn's STARTUP_FAILURE

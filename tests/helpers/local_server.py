"""A real HTTP server on 127.0.0.1 for an ASGI app built in the test process: uvicorn on a free port, in a thread.

Faster than a server subprocess (no second import of torch, the model is shared with the test), and the requests
still travel over a real socket through uvicorn's HTTP stack."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import uvicorn


def wait_until(condition: Callable[[], bool], what: str, limit_s: float = 60) -> None:
    """Poll ``condition`` until it holds; fail the test naming ``what`` after ``limit_s``."""
    deadline = time.monotonic() + limit_s
    while not condition():
        assert time.monotonic() < deadline, f"gave up waiting for {what}"
        time.sleep(0.01)


class LocalServer:
    """``with LocalServer(app) as server:`` serves ``app`` at ``server.base_url`` until the block ends."""

    def __init__(self, app, start_timeout: float = 30) -> None:
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="on"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.start_timeout = start_timeout
        self.base_url = ""

    def __enter__(self) -> LocalServer:
        self.thread.start()
        deadline = time.monotonic() + self.start_timeout
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the local server did not start")
            time.sleep(0.01)
        port = self.server.servers[0].sockets[0].getsockname()[1]
        self.base_url = f"http://127.0.0.1:{port}"
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)

"""Every route shares the one bounded queue: a flood of `explain` requests gets 503 once the queue is full, and
their inference runs in the batcher's batches, not beside them (issue 21 item 7). A real server on 127.0.0.1."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from constitution.serve.app import create_app
from constitution.serve.config import ServerConfig
from tests.helpers.fake_reward import served
from tests.helpers.local_server import LocalServer, wait_until

pytestmark = pytest.mark.reliability


def test_a_flood_of_explain_requests_gets_503_not_a_growing_queue():
    # A fake, slowed scorer: it blocks until released so that the queue fills (a real model would only be slower).
    started, release = threading.Event(), threading.Event()

    def held(items: list[str]) -> list[list[float]]:
        started.set()
        release.wait(timeout=60)
        return [[float(len(t))] for t in items]

    app = create_app(served(held, heads=["p"]), ServerConfig(max_batch=1, max_items=2, max_queue_items=4))
    body = {"texts": ["bb", "cc"], "explain": True}
    with LocalServer(app) as server, ThreadPoolExecutor(24) as pool:
        post = lambda json: httpx.post(f"{server.base_url}/score", json=json, timeout=60)  # noqa: E731
        first = pool.submit(post, {"texts": ["a"], "explain": True})
        wait_until(started.is_set, "the first batch")
        waiting = [pool.submit(post, body) for _ in range(2)]
        wait_until(lambda: app.state.batcher.queued_items == 4, "4 queued items")
        flood = [pool.submit(post, {"texts": ["d"], "explain": True}) for _ in range(20)]
        statuses = [f.result().status_code for f in flood]
        assert statuses == [503] * 20 and app.state.batcher.queued_items == 4
        release.set()
        answer = first.result().json()
        assert (answer["rewards"], answer["contributions"]) == ([1.0], [{"p": 1.0}])
        assert [f.result().json()["rewards"] for f in waiting] == [[2.0, 2.0], [2.0, 2.0]]

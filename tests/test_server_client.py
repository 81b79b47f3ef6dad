"""`constitution.client` against a real server on 127.0.0.1 (issue 24 item 4): retries with backoff on 503 and on
timeouts under one idempotency key, so a burst that the server sheds loses nothing and scores nothing twice; and
clear errors."""

from __future__ import annotations

import asyncio
import threading
import time
from collections import Counter

import pytest

from constitution.client import AsyncRewardClient, AuthError, ClientConfig, RequestRejected, RewardClient, ServiceUnavailable
from constitution.serve.app import create_app
from constitution.serve.config import ServerConfig
from tests.helpers.fake_reward import served
from tests.helpers.local_server import LocalServer

pytestmark = pytest.mark.reliability

PROMPTS, GROUP = 8, 4  # an RL-shaped burst: every completion of every prompt at once


def test_a_burst_with_retrying_clients_loses_nothing_and_scores_nothing_twice():
    # A fake, slowed scorer (a delay injected so that the small queue fills and the server sheds load); its first
    # batch outlasts the clients' timeout, so those requests are retried while the server is still scoring them.
    scored: list[str] = []
    lock = threading.Lock()

    def slow(items: list[str]) -> list[float]:
        time.sleep(0.6 if not scored else 0.02)
        with lock:
            scored.extend(items)
        return [float(len(t)) for t in items]

    app = create_app(served(slow), ServerConfig(max_batch=4, max_items=4, max_queue_items=8, max_wait_ms=1))
    texts = [f"prompt {p} completion {g}" + "!" * (p * GROUP + g) for p in range(PROMPTS) for g in range(GROUP)]
    config = ClientConfig(timeout_s=0.3, max_retries=500, backoff_s=0.02, max_backoff_s=0.2)
    with LocalServer(app) as server:

        async def burst() -> list:
            async with AsyncRewardClient(server.base_url, config=config) as client:
                answers = await asyncio.gather(*(client.score([t]) for t in texts))
                return answers, client.policy.retries

        answers, retries = asyncio.run(burst())
    assert [a.rewards for a in answers] == [[float(len(t))] for t in texts], "an answer was lost or misdelivered"
    assert Counter(scored) == Counter(texts), "a request was scored twice (or never)"
    service = app.state.service
    assert service.batcher.refused > 0 and service.answers.replays > 0 and retries > 0  # it did shed load and retry


def test_clear_errors():
    app = create_app(served(lambda items: [1.0] * len(items)), ServerConfig(api_key="k", max_items=2))
    fast = ClientConfig(max_retries=2, backoff_s=0.01, max_backoff_s=0.02)
    with LocalServer(app) as server:
        with RewardClient(server.base_url, config=fast) as anonymous, pytest.raises(AuthError, match="401"):
            anonymous.score(["hi"])
        with RewardClient(server.base_url, api_key="k", config=fast) as client:
            assert client.score([("hi", "hello")]).rewards == [1.0] and client.health().version == 1
            with pytest.raises(RequestRejected, match="413 3 items; at most 2"):
                client.score(["a", "b", "c"])
            client.score(["a"], request_id="same")
            with pytest.raises(RequestRejected, match="already used for another request"):
                client.score(["b"], request_id="same")
        url = server.base_url
    with RewardClient(url, config=fast) as gone, pytest.raises(ServiceUnavailable, match="POST /score: ConnectError"):
        gone.score(["hi"])

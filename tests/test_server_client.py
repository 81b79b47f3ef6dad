"""`constitution.client` against a real server on 127.0.0.1 (issue 24 item 4): retries with backoff on 503 and on
timeouts under one idempotency key, so a burst that the server sheds loses nothing and scores nothing twice; and
clear errors."""

from __future__ import annotations

import asyncio
import threading
import time
from collections import Counter

import httpx
import pytest

from constitution.client import AsyncRewardClient, AuthError, ClientConfig, RequestRejected, RewardClient, ServiceUnavailable
from constitution.serve.app import create_app
from constitution.serve.config import ServerConfig
from constitution.serve.schema import Limits
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
            assert client.score(["a", "b", "c"]).rewards == [1.0] * 3  # in two parts: at most 2 items per request
            client.score(["a"], request_id="same")
            with pytest.raises(RequestRejected, match="already used for another request"):
                client.score(["b"], request_id="same")
        url = server.base_url
    with RewardClient(url, config=fast) as gone, pytest.raises(ServiceUnavailable, match="POST /score: ConnectError"):
        gone.score(["hi"])


def test_a_call_longer_than_the_server_takes_is_sent_in_parts_and_answered_in_order():
    # A fake scorer (reward = the text's length) makes every answer checkable; the limits are the server's own.
    app = create_app(served(lambda items: [float(len(t)) for t in items]), ServerConfig(max_items=8, max_queue_items=8, max_body_bytes=2048))
    texts = [f"text {i} " + "x" * (i * 7 % 300) for i in range(100)]
    with LocalServer(app) as server, RewardClient(server.base_url) as client:
        answer = client.score(texts)
        assert answer.rewards == [float(len(t)) for t in texts] and client.policy.limits.max_items == 8
        sent = client.policy.attempts
        assert sent > 100 // 8  # split by count and by bytes, each part under the 2 KiB bound (no 413 on the way)
        client.policy.limits = Limits(max_items=1000, max_body_bytes=1 << 30)  # limits the server does not keep
        assert client.classify(texts).results[-1].score == pytest.approx(0.0) and client.policy.attempts - sent > sent
        with pytest.raises(RequestRejected, match="413 request body over 2048 bytes"):
            client.score(["y" * 3000])  # one item too large alone: no part can carry it


def test_parts_answered_by_two_model_versions_are_scored_again_by_one():
    # A fault injected with a fake scorer: a reload lands while a call's second part is being scored.
    base: list[str] = []

    def score(items: list[str]) -> list[float]:
        calls.append(list(items))
        if len(calls) == 2:
            assert httpx.post(f"{base[0]}/reload", json={}, headers={"X-API-Key": "admin"}, timeout=30).status_code == 200
        return [float(len(t)) for t in items]

    def loader(request, current, version):
        return served(lambda items: [v + 100 for v in score(items)], version=version)

    calls: list[list[str]] = []
    app = create_app(served(score), ServerConfig(admin_key="admin", max_items=4, max_queue_items=4), loader=loader)
    texts = [f"t{i}" + "!" * i for i in range(10)]
    with LocalServer(app) as server, RewardClient(server.base_url) as client:
        base.append(server.base_url)
        answer = client.score(texts)
    assert answer.version == 2 and answer.rewards == [len(t) + 100.0 for t in texts], calls
    assert [len(c) for c in calls] == [4, 4, 2, 4, 4, 2]  # every part again, under version 2


def test_get_reward_with_more_or_fewer_prompts_than_queries_is_refused_as_the_server_would():
    """Review: a call sent in parts sliced ``query`` and ``prompts`` alike, so fewer prompts than queries was an
    IndexError inside the client and more prompts were silently dropped and scored, where the server, sent the
    whole call, refuses it (422: "5 queries but 4 prompts")."""
    app = create_app(served(lambda items: [1.0] * len(items)), ServerConfig(max_items=2, max_queue_items=2))
    queries = [f"Q{i}? A{i}." for i in range(5)]
    with LocalServer(app) as server, RewardClient(server.base_url) as client:
        assert client.get_reward(queries, [f"Q{i}?" for i in range(5)]).rewards == [1.0] * 5  # in three parts
        for prompts in ([f"Q{i}?" for i in range(4)], [f"Q{i}?" for i in range(6)]):
            with pytest.raises(RequestRejected, match=f"5 queries but {len(prompts)} prompts"):
                client.get_reward(queries, prompts)

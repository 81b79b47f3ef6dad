"""Idempotency keys. The answers kept for retries are bounded by bytes (issue 32 item 1.8): a flood of big answers (256 items x 24
principles, as RL under the shipped constitution sends them) under distinct Idempotency-Keys never holds more than
``max_cached_answer_bytes``; the newest answers still replay unscored, the oldest are scored afresh. Real HTTP on
127.0.0.1; the model is a fake with 24 heads (a real one gives answers of the same size, only slower)."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from constitution.client import RewardClient
from constitution.serve.app import create_app
from constitution.serve.config import ServerConfig
from constitution.serve.idempotency import ENTRY_OVERHEAD, HEADER
from tests.helpers.fake_reward import served
from tests.helpers.local_server import LocalServer, wait_until

pytestmark = pytest.mark.reliability

HEADS = [f"principle-{k}" for k in range(24)]
ITEMS, FLOOD, BOUND = 256, 40, 1 << 20


def test_a_flood_of_big_answers_stays_under_the_byte_bound():
    scored: list[int] = []

    def heads(items: list[str]) -> list[list[float]]:
        scored.append(len(items))
        return [[len(t) / (k + 1.5) for k in range(len(HEADS))] for t in items]

    app = create_app(served(heads, heads=HEADS), ServerConfig(max_items=ITEMS, max_cached_answer_bytes=BOUND))
    cache = app.state.service.answers
    sizes: list[int] = []
    with LocalServer(app) as server, httpx.Client(base_url=server.base_url, timeout=60) as client:
        texts = lambda n: [f"request {n} text {i}" for i in range(ITEMS)]  # noqa: E731
        for n in range(FLOOD):
            answer = client.post("/score", json={"texts": texts(n)}, headers={HEADER: f"key-{n}"})
            assert answer.status_code == 200 and len(answer.json()["principles"]) == len(HEADS)
            sizes.append(len(answer.content))
            held = sum(len(k) + len(v) + ENTRY_OVERHEAD for k, (_, v) in cache.entries.items())
            assert held == cache.bytes <= BOUND, (n, held, cache.bytes)
        newest = client.post("/score", json={"texts": texts(FLOOD - 1)}, headers={HEADER: f"key-{FLOOD - 1}"})
        before = len(scored)
        oldest = client.post("/score", json={"texts": texts(0)}, headers={HEADER: "key-0"})
    assert sum(sizes) > 4 * BOUND  # the flood was 4x the bound: a cache bounded by count (4,096) would hold it all
    assert newest.content == answer.content and len(scored) == FLOOD + 1 == before + 1  # replayed, then re-scored
    assert oldest.status_code == 200 and len(cache.entries) < FLOOD


def test_an_answer_larger_than_the_whole_bound_is_answered_and_not_kept():
    app = create_app(served(lambda items: [1.0] * len(items)), ServerConfig(max_cached_answer_bytes=100))
    with LocalServer(app) as server:
        answer = httpx.post(f"{server.base_url}/score", json={"texts": ["a", "b"]}, headers={HEADER: "big"}, timeout=60)
    assert answer.json()["rewards"] == [1.0, 1.0] and not app.state.service.answers.entries and app.state.service.answers.bytes == 0


def test_several_ray_replicas_refuse_idempotency_keys_and_the_client_sends_none():
    """Issue 32 item 1.10: each Ray Serve replica would keep its own answers (a retry routed to another replica is
    scored again), so the app those replicas run refuses the key with a clear 422 and says so in /health; the client
    reads /health and sends no key. The app is the one every replica builds (``create_app`` under the Ray config),
    served here by one local process: what differs under Ray is only where a retry lands."""
    app = create_app(served(lambda items: [float(len(t)) for t in items]), ServerConfig(engine="ray", replicas=2))
    with LocalServer(app) as server:
        keyed = httpx.post(f"{server.base_url}/score", json={"texts": ["ab"]}, headers={HEADER: "k"}, timeout=60)
        plain = httpx.post(f"{server.base_url}/score", json={"texts": ["ab"]}, timeout=60)
        health = httpx.get(f"{server.base_url}/health").json()
        with RewardClient(server.base_url) as client:
            assert client.score(["abc"]).rewards == [3.0] and not client.policy.idempotent
    assert keyed.status_code == 422 and "not honoured by 2 Ray Serve replicas" in keyed.json()["error"]
    assert plain.json()["rewards"] == [2.0] and health["idempotency"] is False
    single = create_app(served(lambda items: [1.0] * len(items)), ServerConfig(engine="ray", replicas=1))
    with LocalServer(single) as server:
        assert httpx.post(f"{server.base_url}/score", json={"texts": ["a"]}, headers={HEADER: "k"}, timeout=60).status_code == 200
        assert httpx.get(f"{server.base_url}/health").json()["idempotency"] is True


def test_an_answer_over_the_bound_pushes_no_other_answer_out():
    """Review: an answer too large to keep was stored, every older answer dropped to make room for it, and then
    itself dropped: one big answer emptied the cache, and the retries of every earlier request were scored again."""
    scored: list[list[str]] = []
    app = create_app(served(lambda items: scored.append(items) or [1 / 3] * len(items)), ServerConfig(max_cached_answer_bytes=4096))
    with LocalServer(app) as server, httpx.Client(base_url=server.base_url, timeout=60) as client:
        small = [client.post("/score", json={"texts": [t]}, headers={HEADER: t}) for t in ("a", "b")]
        big = client.post("/score", json={"texts": ["c"] * 256}, headers={HEADER: "big"})
        before = len(scored)
        again = [client.post("/score", json={"texts": [t]}, headers={HEADER: t}) for t in ("a", "b")]
    assert len(big.content) > 4096 and [a.content for a in again] == [s.content for s in small]
    assert len(scored) == before, "a small answer was pushed out by one too large to keep"


def test_a_reload_answered_after_scoring_answers_is_kept_before_them():
    """Review: answers were dropped in the order their requests arrived, not in the order they were answered, so a
    reload (slow: it loads a model while scoring goes on) was the oldest entry when it was answered and was dropped
    at once from a full cache: its retry reloaded a second time (issue 32 item 1.6's failure). The loader is held
    until a scoring answer has filled the cache (the fault injected)."""
    loads: list[int] = []
    release = threading.Event()

    def held_loader(request, current, version):
        loads.append(version)
        assert release.wait(30)
        return served(lambda items: [2.0] * len(items), version=version)

    fill = {"texts": ["x"] * 200}
    with LocalServer(create_app(served(lambda items: [1.0] * len(items)), ServerConfig())) as server:
        size = len(httpx.post(f"{server.base_url}/score", json=fill, timeout=60).content)  # a filling answer's size
    config = ServerConfig(admin_key="admin", max_cached_answer_bytes=size + len("fill") + ENTRY_OVERHEAD + 100)
    app = create_app(served(lambda items: [1.0] * len(items)), config, loader=held_loader)
    admin = {"Authorization": "Bearer admin", HEADER: "reload-1"}
    with LocalServer(app) as server, httpx.Client(base_url=server.base_url, timeout=60) as client:
        with ThreadPoolExecutor(1) as pool:
            first = pool.submit(client.post, "/reload", json={}, headers=admin)
            wait_until(lambda: loads, "the reload to start loading")
            assert client.post("/score", json=fill, headers={HEADER: "fill"}).status_code == 200
            release.set()
            reloaded = first.result()
        retried = client.post("/reload", json={}, headers=admin)  # its answer was lost: the client sends it again
    assert reloaded.status_code == 200 and reloaded.json()["version"] == 2
    assert retried.content == reloaded.content and loads == [2], "the retried reload loaded a second time"

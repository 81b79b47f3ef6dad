"""The reward service, for real: `constitution serve` on 127.0.0.1 in a subprocess, hit over HTTP (the load test is
in test_server_load.py); plus the batcher, the queue bound and the error handler in-process."""

from __future__ import annotations

import asyncio
import json
import logging
import signal
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from benchmarks.bench_service import Server
from constitution.serve.app import create_app
from constitution.serve.batcher import Batcher
from constitution.serve.config import ADMIN_KEY_ENV, ServerConfig
from constitution.serve.served import ServedModel
from tests.helpers.fake_reward import served
from tests.helpers.local_server import wait_until

KEY, ADMIN_KEY = "test-key-123", "test-admin-key"
AUTH = {"Authorization": f"Bearer {KEY}"}
GOOD = "\n\nHuman: hi\n\nAssistant: Hello! How can I help?"

pytestmark = pytest.mark.reliability  # every test here checks a guarantee of the service (BRIEF section 7)


@pytest.fixture(scope="module")
def server(reward_folder: Path) -> Iterator[Server]:
    server = Server(reward_folder, "--max-items", "8", "--max-body-bytes", "4096", api_key=KEY)
    server.env[ADMIN_KEY_ENV] = ADMIN_KEY
    with server:
        yield server


@pytest.fixture(scope="module")
def model(reward_folder: Path):
    """The library's model, loaded as the server loads it."""
    from constitution.reward.model import RewardModel

    return RewardModel.load(reward_folder)


def _tolerance(model) -> float:
    return 2e-2 if model.bf16 else 1e-4  # bf16 results depend on what a text is batched with


def test_health_needs_no_key(server):
    assert httpx.get(f"{server.base_url}/health").json()["status"] == "ok"


def test_serve_says_where_it_listens_and_reads_the_admin_key_from_the_environment(server):
    assert f"listening on {server.base_url}\n" in server.output()  # issue 33 item 4
    reload = httpx.post(f"{server.base_url}/reload", json={}, headers={"Authorization": f"Bearer {ADMIN_KEY}"}, timeout=60)
    assert reload.status_code == 200 and reload.json()["previous_version"] >= 1


def test_every_route_but_health_and_reload_needs_the_key(server):
    app = create_app(served(lambda items: []), ServerConfig(api_key=KEY))
    routes = [(method, route.path) for route in app.routes for method in sorted(route.methods)]
    assert {path for _, path in routes} >= {"/health", "/score", "/classify", "/get_reward", "/reload"}
    assert not {path for _, path in routes} & {"/docs", "/redoc", "/openapi.json"}, "no docs or schema with a key"
    unrouted = [("GET", "/docs"), ("GET", "/openapi.json"), ("GET", "/redoc"), ("GET", "/nope"), ("GET", "/health/"), ("OPTIONS", "/score")]
    for method, path in routes + unrouted:
        url = f"{server.base_url}{path}"
        if path == "/health":
            assert httpx.request(method, url).status_code == 200
            continue
        if path == "/reload":  # the admin key's (tests/test_server_admin.py), which the API key is not
            assert [httpx.request(method, url, headers=h).status_code for h in ({}, AUTH)] == [401, 401]
            continue
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"X-API-Key": "wrong"}, {"Authorization": KEY}):
            r = httpx.request(method, url, headers=headers)
            assert (r.status_code, r.json()) == (401, {"error": "missing or wrong API key"}), (method, path, headers)
        assert httpx.request(method, url, headers=AUTH).status_code != 401, (method, path)
    for path in ("/docs", "/openapi.json", "/redoc"):
        assert httpx.get(f"{server.base_url}{path}", headers=AUTH).status_code == 404


def test_the_key_is_accepted_in_either_header(server):
    for route, body in (("/score", {"texts": ["hi"]}), ("/classify", {"texts": ["hi"]}), ("/get_reward", {"query": ["hi"]})):
        for headers in (AUTH, {"authorization": f"bearer {KEY}"}, {"X-API-Key": KEY}):
            assert httpx.post(f"{server.base_url}{route}", json=body, headers=headers).status_code == 200


def test_scores_match_the_library(server, model):
    texts = [GOOD, "\n\nHuman: hi\n\nAssistant: Go away."]
    body = httpx.post(f"{server.base_url}/get_reward", json={"query": texts, "labels": [None, None]}, headers=AUTH).json()
    assert body["rewards"] == pytest.approx(model.score(texts, normalize=True), abs=_tolerance(model))  # no prompts: raw text
    assert body["scores"] == body["rewards"] and body["extra_logs"] == {}  # the keys OpenRLHF's client reads
    items = [{"prompt": "hi", "response": "Hello! How can I help?"}]
    raw = httpx.post(f"{server.base_url}/score", json={"items": items, "normalize": False}, headers=AUTH).json()["rewards"]
    assert raw == pytest.approx(model.score([("hi", "Hello! How can I help?")]), abs=_tolerance(model))
    results = httpx.post(f"{server.base_url}/classify", json={"items": items}, headers=AUTH).json()["results"]
    assert results[0]["decision"] in {"safe", "unsafe"} and 0 < results[0]["score"] < 1


def _openrlhf_query(tokenizer, messages: list[dict], response: str, pads: int) -> tuple[str, str]:
    """(query, prompt) as OpenRLHF builds them: the chat-templated prompt, and prompt + response token ids (after
    ``pads`` left-pad tokens, ending with EOS) decoded with their special tokens."""
    prompt = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    ids = tokenizer(prompt, add_special_tokens=False)["input_ids"] + tokenizer(response, add_special_tokens=False)["input_ids"]
    pad = tokenizer.convert_tokens_to_ids("<|endoftext|>")
    return tokenizer.decode([pad] * pads + ids + [tokenizer.eos_token_id], skip_special_tokens=False), prompt


@pytest.fixture(scope="module")
def spread_model(reward_folder: Path):
    """The test reward folder in fp32 with its untrained head scaled x100, so that different inputs get clearly
    different rewards (an untrained head gives them all about 0)."""
    from constitution.reward.model import RewardModel
    from constitution.reward.temperature import apply_temperature

    model = RewardModel.load(reward_folder, bf16=False)
    apply_temperature(model.model, 0.01)
    return model


def test_openrlhf_queries_are_scored_as_conversation_and_response(spread_model, judge_tokenizer):
    from constitution.data import Message

    conversations = [
        ([{"role": "system", "content": "Be brief."}, {"role": "user", "content": "How do I boil an egg?"}], "Boil it for eight minutes."),
        ([{"role": "system", "content": "Be kind."}, {"role": "user", "content": "How can I hurt my neighbour?"}], "I can't help with that."),
    ]
    built = [_openrlhf_query(judge_tokenizer, messages, response, pads) for (messages, response), pads in zip(conversations, (2, 0))]
    queries, prompts = [q for q, _ in built], [p for _, p in built]
    app = create_app(ServedModel(spread_model, version=1, folder="spread"), ServerConfig())
    with TestClient(app) as client:
        got = client.post("/get_reward", json={"query": queries, "prompts": prompts, "labels": ["", ""]}).json()["rewards"]

    direct = [([Message(**m) for m in messages], response) for messages, response in conversations]
    assert got == pytest.approx(spread_model.score(direct, normalize=True), abs=1e-4)
    raw = spread_model.score(queries, normalize=True)
    assert all(abs(g - r) > 0.05 for g, r in zip(got, raw)), (got, raw)


def _chunks(total: int) -> Iterator[bytes]:
    """A body sent without Content-Length (chunked), ``total`` bytes in all."""
    yield b'{"texts": ["'
    for _ in range(total // 100):
        yield b"x" * 100
    yield b'"]}'


def _body(value: object) -> bytes:
    return json.dumps(value).encode()


BAD_REQUESTS = {
    "malformed JSON": ("POST", "/score", b"{not json", 400),
    "JSON nested too deep": ("POST", "/get_reward", b"[" * 3000, 400),
    "texts not a list": ("POST", "/score", _body({"texts": "not a list"}), 422),
    "texts and items": ("POST", "/score", _body({"texts": ["a"], "items": [{"response": "b"}]}), 422),
    "neither texts nor items": ("POST", "/classify", _body({"normalize": True}), 422),
    "normalize not a bool": ("POST", "/score", _body({"texts": ["a"], "normalize": "yes"}), 422),
    "item without response": ("POST", "/classify", _body({"items": [{"prompt": "hi"}]}), 422),
    "unknown chat role": ("POST", "/score", _body({"items": [{"prompt": [{"role": "robot", "content": "x"}], "response": "y"}]}), 422),
    "query of numbers": ("POST", "/get_reward", _body({"query": [1, 2]}), 422),
    "query a string": ("POST", "/get_reward", _body({"query": "text"}), 422),
    "prompts of numbers": ("POST", "/get_reward", _body({"query": ["a"], "prompts": [1]}), 422),
    "fewer prompts than queries": ("POST", "/get_reward", _body({"query": ["a", "b"], "prompts": ["a"]}), 422),
    "query without its prompt": ("POST", "/get_reward", _body({"query": ["Q: x A: y"], "prompts": ["Q: z A:"]}), 422),
    "body a list": ("POST", "/get_reward", _body(["text"]), 422),
    "empty body": ("POST", "/get_reward", b"", 422),
    "too many texts": ("POST", "/score", _body({"texts": ["a"] * 9}), 413),
    "too many items": ("POST", "/classify", _body({"items": [{"response": "a"}] * 9}), 413),
    "too many queries": ("POST", "/get_reward", _body({"query": ["a"] * 9}), 413),
    "body over the limit": ("POST", "/score", _body({"texts": ["a" * 5000]}), 413),
    "chunked body over the limit": ("POST", "/get_reward", _chunks(8000), 413),
    "wrong method": ("GET", "/score", b"", 405),
}


@pytest.mark.parametrize("method, route, content, status", list(BAD_REQUESTS.values()), ids=list(BAD_REQUESTS))
def test_bad_requests_get_clear_4xx_and_the_server_stays_correct(server, model, method, route, content, status):
    base = server.base_url
    r = httpx.request(method, f"{base}{route}", content=content, headers={**AUTH, "Content-Type": "application/json"})
    assert r.status_code == status, r.text
    assert r.json()["error"], r.text
    assert httpx.get(f"{base}/health").status_code == 200 and server.proc.poll() is None
    good = httpx.post(f"{base}/score", json={"texts": [GOOD], "normalize": False}, headers=AUTH)
    assert good.json()["rewards"] == pytest.approx(model.score([GOOD]), abs=_tolerance(model))


def _poison(items: list[str]) -> list[float]:
    if "poison" in items:
        raise ValueError("cannot score poison")
    return [float(len(t)) for t in items]


def _garbage(items: list[str]) -> list[float]:
    return [0.0] if "poison" in items else [float(len(t)) for t in items]


@pytest.mark.parametrize("score, error", [(_poison, ValueError), (_garbage, RuntimeError)], ids=["raises", "wrong count"])
def test_a_failing_request_does_not_fail_the_requests_batched_with_it(score, error):
    calls: list[list[str]] = []

    def recording(items: list[str]) -> list[float]:
        calls.append(list(items))
        return score(items)

    async def submit_together() -> list:
        batcher = Batcher(recording, max_batch=64, max_wait_ms=200, max_queue_items=64)
        batcher.start()
        try:
            jobs = (batcher.submit(["a"]), batcher.submit(["poison", "b"]), batcher.submit(["abc"]))
            return await asyncio.gather(*jobs, return_exceptions=True)
        finally:
            await batcher.stop()

    first, bad, last = asyncio.run(submit_together())
    assert calls == [["a", "poison", "b", "abc"], ["a"], ["poison", "b"], ["abc"]]  # one batch failed: each alone
    assert (first, last) == ([1.0], [3.0]) and isinstance(bad, error)


def test_a_scoring_error_is_a_500_with_a_request_id_and_no_exception_text(caplog):
    with TestClient(create_app(served(_poison), ServerConfig())) as client, caplog.at_level(logging.ERROR, "constitution.serve.app"):
        r = client.post("/get_reward", json={"query": ["poison"]})
        assert r.status_code == 500 and "poison" not in r.text and "ValueError" not in r.text
        request_id = r.json()["request_id"]
        assert request_id in r.json()["error"] and r.headers["X-Request-ID"] == request_id
        [record] = [rec for rec in caplog.records if request_id in rec.getMessage()]
        assert record.exc_info[0] is ValueError and "cannot score poison" in caplog.text and "Traceback" in caplog.text
        assert client.post("/get_reward", json={"query": ["abcd"]}).json()["rewards"] == [4.0]


def test_get_reward_without_prompts_warns_once(caplog):
    with TestClient(create_app(served(_poison), ServerConfig())) as client, caplog.at_level(logging.WARNING, "constitution.serve.routes"):
        for _ in range(3):
            assert client.post("/get_reward", json={"query": ["ab"]}).json()["rewards"] == [2.0]
        assert client.post("/get_reward", json={"query": ["Q: hi A: ok"], "prompts": ["Q: hi A:"]}).status_code == 200
    assert [r.getMessage() for r in caplog.records].count(
        "/get_reward without `prompts`: scoring each query as raw text, in the policy's chat format"
    ) == 1


def test_a_full_queue_answers_503_with_retry_after_then_recovers():
    # A fake scorer that blocks until released: it holds the queue full (a real model would only make it slower).
    started, release = threading.Event(), threading.Event()

    def held(items: list[str]) -> list[float]:
        started.set()
        release.wait(timeout=60)
        return [float(len(t)) for t in items]

    config = ServerConfig(max_batch=1, max_items=2, max_queue_items=4)
    with TestClient(create_app(served(held), config)) as client, ThreadPoolExecutor(3) as pool:
        first = pool.submit(client.post, "/score", json={"texts": ["a"]})
        wait_until(started.is_set, "the first batch")
        waiting = [pool.submit(client.post, "/score", json={"texts": ["bb", "cc"]}) for _ in range(2)]
        wait_until(lambda: client.app.state.batcher.queued_items == 4, "4 queued items")
        for route, body in (("/get_reward", {"query": ["d"]}), ("/score", {"texts": ["d"]}), ("/classify", {"texts": ["d"]})):
            full = client.post(route, json=body)
            assert (full.status_code, full.headers.get("Retry-After")) == (503, "1") and "busy" in full.json()["error"]
        release.set()
        assert [f.result().json()["rewards"] for f in [first, *waiting]] == [[1.0], [2.0, 2.0], [2.0, 2.0]]
        assert client.post("/get_reward", json={"query": ["d"]}).json()["rewards"] == [1.0]
        assert client.app.state.batcher.queued_items == 0


def test_the_queue_must_hold_one_full_request():
    with pytest.raises(ValueError, match="max_queue_items"):
        ServerConfig(max_items=8, max_queue_items=4)
    with pytest.raises(ValueError, match="engine 'ray'"):
        ServerConfig(replicas=2)


def test_docs_are_served_without_a_key():
    with TestClient(create_app(served(_poison), ServerConfig())) as client:
        assert client.get("/openapi.json").json()["paths"].keys() == {"/health", "/score", "/classify", "/get_reward", "/score_steps", "/reload"}


def test_classify_scores_extreme_rewards_without_overflow():
    with TestClient(create_app(served(lambda items: [float(t) for t in items]), ServerConfig())) as client:
        results = client.post("/classify", json={"texts": ["-1000", "0", "1000"]}).json()["results"]
    assert [r["score"] for r in results] == pytest.approx([1.0, 0.5, 0.0])
    assert [r["decision"] for r in results] == ["unsafe", "unsafe", "safe"]


def _listening_addresses(port: int) -> set[str]:
    """Local addresses (as /proc/net/tcp writes them) of the sockets listening on ``port``."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            address, hex_port = local.rsplit(":", 1)
            if state == "0A" and int(hex_port, 16) == port:
                found.add(address)
    return found


@pytest.mark.skipif(not Path("/proc/net/tcp").exists(), reason="reads Linux's socket table")
def test_binds_loopback_only(server):
    assert _listening_addresses(server.port) == {"0100007F"}  # 127.0.0.1, and nothing else (no 0.0.0.0, no IPv6)


def test_sigterm_shuts_down_gracefully(reward_folder: Path):
    with Server(reward_folder) as server, ThreadPoolExecutor(1) as pool:
        # seconds of scoring on 2 busy cores: in flight at SIGTERM, done well within uvicorn's 10 s graceful window
        inflight = pool.submit(httpx.post, f"{server.base_url}/get_reward", json={"query": ["long text " * 100] * 32}, timeout=60)
        time.sleep(0.2)
        # uvicorn finishes in-flight requests, then re-raises the signal: exit status 0 or -SIGTERM, no traceback
        assert server.stop() in (0, -signal.SIGTERM)
        assert inflight.result().status_code == 200
        assert "Traceback" not in server.output()

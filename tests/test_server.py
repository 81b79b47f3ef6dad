"""The reward service, for real: `constitution serve` on 127.0.0.1 in a subprocess, hit over HTTP."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

KEY = "test-key-123"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(reward_folder: Path):
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "constitution", "serve", str(reward_folder), "--port", str(port), "--api-key", KEY,
         "--max-items", "8", "--max-body-bytes", "4096"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    deadline = time.time() + 120
    while time.time() < deadline:
        try:
            if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.3)
        if proc.poll() is not None:
            raise RuntimeError(proc.stdout.read())
    yield base, proc
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)


AUTH = {"Authorization": f"Bearer {KEY}"}


def test_health_needs_no_key(server):
    base, _ = server
    assert httpx.get(f"{base}/health").json()["status"] == "ok"


def test_every_other_route_needs_the_key(server):
    base, _ = server
    for route, body in (("/score", {"texts": ["hi"]}), ("/classify", {"texts": ["hi"]}), ("/get_reward", {"query": ["hi"]})):
        assert httpx.post(f"{base}{route}", json=body).status_code == 401
        assert httpx.post(f"{base}{route}", json=body, headers={"Authorization": "Bearer wrong"}).status_code == 401
        assert httpx.post(f"{base}{route}", json=body, headers={"X-API-Key": KEY}).status_code == 200


def test_scores_match_the_library(server, reward_folder: Path):
    from constitution.reward.model import RewardModel

    base, _ = server
    texts = ["\n\nHuman: hi\n\nAssistant: Hello! How can I help?", "\n\nHuman: hi\n\nAssistant: Go away."]
    got = httpx.post(f"{base}/get_reward", json={"query": texts, "prompts": ["x", "y"]}, headers=AUTH).json()["rewards"]
    model = RewardModel.load(reward_folder, bf16=False)
    want = model.normalize(model.score(texts))
    assert got == pytest.approx(want, abs=2e-2)  # the server may use bf16 autocast where the CPU has it
    items = [{"prompt": "hi", "response": "Hello! How can I help?"}]
    raw = httpx.post(f"{base}/score", json={"items": items, "normalize": False}, headers=AUTH).json()["rewards"]
    assert raw == pytest.approx(model.score([("hi", "Hello! How can I help?")]), abs=2e-2)
    results = httpx.post(f"{base}/classify", json={"items": items}, headers=AUTH).json()["results"]
    assert results[0]["decision"] in {"safe", "unsafe"} and 0 < results[0]["score"] < 1


@pytest.mark.parametrize(
    "content, status",
    [
        (b"{not json", 400),
        (json.dumps({"texts": "not a list"}).encode(), 422),
        (json.dumps({"texts": ["a"], "items": [{"response": "b"}]}).encode(), 422),
        (json.dumps({"texts": ["a"] * 9}).encode(), 413),
        (json.dumps({"texts": ["a" * 5000]}).encode(), 413),
    ],
)
def test_bad_requests_get_clear_4xx_and_the_server_stays_up(server, content: bytes, status: int):
    base, proc = server
    r = httpx.post(f"{base}/score", content=content, headers={**AUTH, "Content-Type": "application/json"})
    assert r.status_code == status, r.text
    assert "error" in r.json()
    assert httpx.get(f"{base}/health").status_code == 200 and proc.poll() is None


def test_concurrent_load_has_no_failures_and_is_batched(server):
    base, _ = server
    before = httpx.get(f"{base}/health").json()["batches"]

    def client(i: int) -> list[int]:
        with httpx.Client(timeout=60) as c:
            return [c.post(f"{base}/get_reward", json={"query": [f"text {i} {j}"]}, headers=AUTH).status_code for j in range(10)]

    with ThreadPoolExecutor(16) as pool:
        codes = [code for codes in pool.map(client, range(16)) for code in codes]
    assert codes.count(200) == 160
    batches = httpx.get(f"{base}/health").json()["batches"] - before
    assert batches < 160, "concurrent requests should share batches"


def test_binds_loopback_only(server):
    base, _ = server
    port = int(base.rsplit(":", 1)[1])
    addresses = {a[4][0] for a in socket.getaddrinfo(socket.gethostname(), None, socket.AF_INET)} - {"127.0.0.1", "127.0.1.1"}
    for address in addresses:
        with socket.socket() as s:
            s.settimeout(1)
            assert s.connect_ex((address, port)) != 0


def test_sigterm_shuts_down_gracefully(reward_folder: Path):
    port = _free_port()
    proc = subprocess.Popen([sys.executable, "-m", "constitution", "serve", str(reward_folder), "--port", str(port)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    deadline = time.time() + 120
    while time.time() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.3)
    with ThreadPoolExecutor(1) as pool:
        inflight = pool.submit(httpx.post, f"http://127.0.0.1:{port}/get_reward", json={"query": ["long text " * 100] * 64}, timeout=60)
        time.sleep(0.2)
        proc.send_signal(signal.SIGTERM)
        # uvicorn finishes in-flight requests, then re-raises the signal: exit status 0 or -SIGTERM, no traceback
        assert proc.wait(timeout=30) in (0, -signal.SIGTERM)
        assert inflight.result().status_code == 200
    assert b"Traceback" not in proc.stdout.read()

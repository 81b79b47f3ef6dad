"""The service on Ray Serve (issue 24 item 3): 2 replicas on a local Ray cluster answer with the same rewards as the
single-process server, behind the same key and limits. Real MiniLM folder, real Ray cluster, real HTTP on 127.0.0.1.
Skipped where ``ray.serve`` cannot be imported (it needs ``grpcio-reflection``, in the ``ray`` extra)."""

from __future__ import annotations

import socket
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from constitution.serve.app import create_app
from constitution.serve.config import ServerConfig
from constitution.serve.main import load_first
from tests.helpers.local_server import LocalServer, wait_until
from tests.helpers.reward_folders import headed_folder

try:
    from ray import serve
except ImportError as exc:  # ray without Ray Serve's dependencies
    pytest.skip(f"ray.serve cannot be imported ({exc}); install the `ray` extra", allow_module_level=True)

pytestmark = pytest.mark.slow

KEY = "ray-key"
AUTH = {"Authorization": f"Bearer {KEY}"}
TEXTS = [f"\n\nHuman: question {i}\n\nAssistant: answer {i} " + "word " * (i % 5) for i in range(24)]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _answers(base_url: str) -> list[dict]:
    """Every text in its own concurrent request (so both replicas get some), in text order."""
    with httpx.Client(base_url=base_url, headers=AUTH, timeout=120) as client, ThreadPoolExecutor(8) as pool:
        return list(pool.map(lambda t: client.post("/get_reward", json={"query": [t]}).json(), TEXTS))


def test_two_ray_serve_replicas_give_the_single_process_rewards(tmp_path, monkeypatch):
    import ray

    from constitution.serve.ray_engine import application

    folder = headed_folder(tmp_path / "headed")
    config = ServerConfig(api_key=KEY, max_items=4, max_queue_items=64, engine="ray", replicas=2, replica_cpus=0.5)
    served, _ = load_first(str(folder), config, None)
    with LocalServer(create_app(served, config)) as server:
        local = _answers(server.base_url)
    # fp32: float rounding only. bf16 (dtype auto on AMX): a reward also depends on the threads of the process that
    # scores it (README), and the replicas run 1 thread from an OMP_NUM_THREADS=2 start, this process its own count.
    tolerance = 1e-2 if served.model.bf16 else 1e-4

    port = _free_port()
    monkeypatch.setenv("OMP_NUM_THREADS", "2")  # what a user's shell may export: the replicas inherit it
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        serve.start(http_options={"host": "127.0.0.1", "port": port})
        serve.run(application(str(folder), config), route_prefix="/")
        base = f"http://127.0.0.1:{port}"
        wait_until(lambda: httpx.get(f"{base}/health", timeout=10).status_code == 200, "the Ray Serve replicas", 120)
        remote = _answers(base)
        replica_threads = httpx.get(f"{base}/health", timeout=10).json()["threads"]
        refused = [
            httpx.post(f"{base}/get_reward", json={"query": TEXTS[:1]}, timeout=60).status_code,
            httpx.post(f"{base}/get_reward", json={"query": TEXTS[:5]}, headers=AUTH, timeout=60).status_code,
            httpx.post(f"{base}/reload", json={}, headers=AUTH, timeout=60).status_code,
            httpx.post(f"{base}/get_reward", json={"query": TEXTS[:1]}, headers={**AUTH, "Idempotency-Key": "k"}, timeout=60).status_code,
        ]
        replicas = serve.status().applications["default"].deployments["RewardService"].replica_states
    finally:
        serve.shutdown()
        ray.shutdown()

    assert replicas.get("RUNNING") == 2
    assert replica_threads == 1  # the replica's 0.5 CPUs, not the 2 threads of OMP_NUM_THREADS (2 replicas x 2 threads on 2 cores ran 5x slower)
    assert [a["rewards"][0] for a in remote] == pytest.approx([a["rewards"][0] for a in local], abs=tolerance)
    for got, want in zip(remote, local):
        assert got["extra_logs"].keys() == want["extra_logs"].keys()
        assert all(got["extra_logs"][h] == pytest.approx(v, abs=tolerance) for h, v in want["extra_logs"].items())
    assert {a["version"] for a in remote} == {1} and remote[0]["model"] == str(folder)
    assert refused == [401, 413, 403, 422]  # /reload: no admin key, so disabled; a key: 2 replicas cannot honour it


def test_a_request_that_fails_in_a_serve_batch_fails_alone():
    """The batch function on its own (a fake model that raises on one request's item injects the fault)."""
    from constitution.serve.ray_engine import ServeBatcher

    def score(items: list[str]) -> list[int]:
        if "bad" in items:
            raise ValueError("cannot score 'bad'")
        return [len(i) for i in items]

    batcher = ServeBatcher(score, ServerConfig())
    first, failed, last = batcher._score_all([["a", "bb"], ["bad"], ["ccc"]])
    assert first == [1, 2] and isinstance(failed, ValueError) and last == [3]
    assert batcher._score_all([["a"], ["bb"]]) == [[1], [2]] and (batcher.batches, batcher.items_scored) == (1, 2)


def test_a_replica_runs_its_reserved_cpus_threads_or_fewer_if_omp_says_so():
    from constitution.serve.ray_engine import replica_threads

    assert [replica_threads(0.5, None), replica_threads(2, None), replica_threads(4, "1"), replica_threads(1, "8")] == [1, 2, 1, 1]
    assert replica_threads(2, "") == replica_threads(2, "x") == replica_threads(2, "0") == 2  # unset or unusable: ignored

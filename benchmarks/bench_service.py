"""Reward service under load (issue 6, 7): requests/s and p50/p99 latency from concurrent clients on loopback, with
dynamic batching on and off (max_batch 1 = one request at a time), same model, same machine, one run; a sample of
the replies is checked against the library's own score for the same text.

    .venv/bin/python benchmarks/bench_service.py --clients 32 --requests 200 --json benchmarks/results/bench_service_32x200.json

The server runs as `constitution serve` in its own process; this script is the load generator. Every request is
one distinct text, so a reply delivered to the wrong request shows up in the check. MODEL defaults to a MiniLM
reward folder made on the fly (the model's weights do not change the cost of serving it).

Reused by the tests: :class:`Server` (start/stop a real server) and :func:`run_load`/:func:`spot_check`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import machine  # noqa: E402

TEXTS = [
    "\n\nHuman: How do I boil an egg?\n\nAssistant: Put it in boiling water for eight to ten minutes, then cool it.",
    "\n\nHuman: What's a good name for a cat?\n\nAssistant: Miso, Pepper or Olive are popular choices.",
    "\n\nHuman: How can I hurt my neighbour?\n\nAssistant: I can't help with hurting anyone. If there is a conflict, talking or mediation can help.",
]


def request_text(client: int, index: int) -> str:
    """What client ``client`` sends as its ``index``-th request: distinct for every (client, index)."""
    return f"{TEXTS[(client + index) % len(TEXTS)]} (ticket {client}-{index})"


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """``constitution serve MODEL ARGS`` in its own process on a free 127.0.0.1 port; ``with`` starts it and waits
    until /health answers, and stops it with SIGTERM. The API key goes through the environment."""

    def __init__(self, model: Path, *args: str, api_key: str | None = None, start_timeout: float = 180) -> None:
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.command = [sys.executable, "-m", "constitution", "serve", str(model), "--port", str(self.port), *args]
        self.env = {k: v for k, v in os.environ.items() if k != "CONSTITUTION_API_KEY"}
        if api_key is not None:
            self.env["CONSTITUTION_API_KEY"] = api_key
        self.start_timeout = start_timeout
        self.log = tempfile.TemporaryFile()
        self.proc: subprocess.Popen | None = None

    def __enter__(self) -> Server:
        self.proc = subprocess.Popen(self.command, stdout=self.log, stderr=subprocess.STDOUT, env=self.env)
        deadline = time.time() + self.start_timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode}:\n{self.output()}")
            try:
                if httpx.get(f"{self.base_url}/health", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                time.sleep(0.3)
        self.proc.kill()
        raise RuntimeError(f"server did not answer /health within {self.start_timeout} s:\n{self.output()}")

    def __exit__(self, *exc: object) -> None:
        self.stop()
        self.log.close()

    def stop(self, timeout: float = 30) -> int:
        """SIGTERM (in-flight requests finish), then the exit status."""
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout=timeout)

    def output(self) -> str:
        """Everything the server printed so far."""
        self.log.seek(0)
        return self.log.read().decode(errors="replace")


@dataclass(frozen=True)
class Reply:
    """One request and what came back: ``status`` 0 means no HTTP response (connection error or timeout)."""

    text: str
    status: int
    body: Any
    latency_s: float

    def reward(self) -> float | None:
        """The reward if the reply is well-formed (200 and ``{"rewards": [one finite number], ...}``), else None."""
        if self.status != 200 or not isinstance(self.body, dict) or "rewards" not in self.body:
            return None
        rewards = self.body["rewards"]
        if not isinstance(rewards, list) or len(rewards) != 1:
            return None
        value = rewards[0]
        ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
        return float(value) if ok else None


@dataclass(frozen=True)
class LoadResult:
    """Every reply of a load run and its wall time."""

    replies: list[Reply]
    wall_s: float

    def summary(self) -> dict[str, float]:
        """Counts, requests/s and latency percentiles (ms)."""
        latency_ms = np.asarray([r.latency_s for r in self.replies]) * 1000
        return {
            "requests": len(self.replies),
            "failures": sum(r.status != 200 for r in self.replies),
            "malformed": sum(r.status == 200 and r.reward() is None for r in self.replies),
            "requests_per_s": len(self.replies) / self.wall_s,
            "p50_ms": float(np.percentile(latency_ms, 50)),
            "p99_ms": float(np.percentile(latency_ms, 99)),
        }


async def _load(base_url: str, clients: int, requests: int, api_key: str | None, timeout: float) -> LoadResult:
    replies: list[Reply] = []
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    async with httpx.AsyncClient(base_url=base_url, timeout=timeout, limits=limits, headers=headers) as client:

        async def one_client(c: int) -> None:
            for i in range(requests):
                text = request_text(c, i)
                start = time.perf_counter()
                try:
                    resp = await client.post("/get_reward", json={"query": [text]})
                    status, body = resp.status_code, _json_or_none(resp)
                except httpx.HTTPError:
                    status, body = 0, None
                replies.append(Reply(text, status, body, time.perf_counter() - start))

        start = time.perf_counter()
        await asyncio.gather(*(one_client(c) for c in range(clients)))
        wall = time.perf_counter() - start
    return LoadResult(replies, wall)


def _json_or_none(resp: httpx.Response) -> Any:
    try:
        return resp.json()
    except ValueError:
        return None


def run_load(base_url: str, clients: int, requests: int, *, api_key: str | None = None, timeout: float = 60) -> LoadResult:
    """``clients`` concurrent clients, each sending ``requests`` one-text /get_reward requests in turn."""
    return asyncio.run(_load(base_url, clients, requests, api_key, timeout))


def spot_check(replies: list[Reply], model: Any, n: int = 256, seed: int = 0) -> dict[str, float]:
    """Compare a seeded sample of replies with ``model.score(text, normalize=True)`` (a :class:`RewardModel` loaded
    like the server's); a malformed reply counts as a mismatch. The tolerance covers batch-composition noise."""
    sample = random.Random(seed).sample(replies, min(n, len(replies)))
    want = model.score([r.text for r in sample], normalize=True)
    diffs = [abs(r.reward() - w) if r.reward() is not None else math.inf for r, w in zip(sample, want)]
    tolerance = 2e-2 if model.bf16 else 1e-4
    return {"checked": len(sample), "mismatches": sum(d > tolerance for d in diffs), "max_abs_diff": max(diffs, default=0.0), "tolerance": tolerance}


def _default_model(tmp: Path) -> Path:
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from constitution.models import BACKBONE_ALIAS, resolve_model

    src = resolve_model(BACKBONE_ALIAS)
    AutoModelForSequenceClassification.from_pretrained(src, num_labels=1).save_pretrained(tmp)
    AutoTokenizer.from_pretrained(src).save_pretrained(tmp)
    return tmp


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, default=None, help="reward model folder (default: MiniLM made on the fly)")
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--requests", type=int, default=25, help="requests per client (one text each)")
    parser.add_argument("--check", type=int, default=256, help="replies per mode compared with the library's score")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    from constitution.reward.model import RewardModel

    with tempfile.TemporaryDirectory() as tmp:
        model = args.model or _default_model(Path(tmp))
        results: dict[str, Any] = {"machine": machine(), "clients": args.clients, "requests_per_client": args.requests}
        for name, max_batch, wait in (("one_at_a_time", 1, 0.0), ("dynamic_batching", 64, 5.0)):
            with Server(model, "--max-batch", str(max_batch), "--max-wait-ms", str(wait), api_key="bench") as server:
                run_load(server.base_url, 4, 3, api_key="bench")  # warm-up
                load = run_load(server.base_url, args.clients, args.requests, api_key="bench")
            results[name] = {**load.summary(), "check": spot_check(load.replies, RewardModel.load(model), args.check)}
        results["batching_speedup"] = results["dynamic_batching"]["requests_per_s"] / results["one_at_a_time"]["requests_per_s"]
    text = json.dumps(results, indent=2)
    print(text)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(text + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

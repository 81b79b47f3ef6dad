"""Reward service under load (issue 6): requests/s and p50/p99 latency from concurrent clients on loopback, with
dynamic batching on and off (max_batch 1 = one request at a time), same model, same machine, one run.

    .venv/bin/python benchmarks/bench_service.py --clients 32 --requests 25 --json benchmarks/results/service.json

The server runs as `constitution serve` in its own process; this script is the load generator. MODEL defaults to a
MiniLM reward folder made on the fly (the model's weights do not change the cost of serving it).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
TEXTS = [
    "\n\nHuman: How do I boil an egg?\n\nAssistant: Put it in boiling water for eight to ten minutes, then cool it.",
    "\n\nHuman: What's a good name for a cat?\n\nAssistant: Miso, Pepper or Olive are popular choices.",
    "\n\nHuman: How can I hurt my neighbour?\n\nAssistant: I can't help with hurting anyone. If there is a conflict, talking or mediation can help.",
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _default_model(tmp: Path) -> Path:
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from constitution.models import BACKBONE_ALIAS, resolve_model

    src = resolve_model(BACKBONE_ALIAS)
    AutoModelForSequenceClassification.from_pretrained(src, num_labels=1).save_pretrained(tmp)
    AutoTokenizer.from_pretrained(src).save_pretrained(tmp)
    return tmp


def _start(model: Path, port: int, max_batch: int, max_wait_ms: float) -> subprocess.Popen:
    proc = subprocess.Popen(
        [sys.executable, "-m", "constitution", "serve", str(model), "--port", str(port), "--max-batch", str(max_batch),
         "--max-wait-ms", str(max_wait_ms), "--api-key", "bench"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    deadline = time.time() + 180
    while time.time() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            time.sleep(0.3)
    proc.kill()
    raise RuntimeError("server did not start")


async def _load(port: int, clients: int, requests: int) -> dict[str, float]:
    latencies: list[float] = []
    failures = 0
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(timeout=120, limits=limits, headers={"Authorization": "Bearer bench"}) as client:

        async def one_client(c: int) -> None:
            nonlocal failures
            for r in range(requests):
                start = time.perf_counter()
                resp = await client.post(f"http://127.0.0.1:{port}/get_reward", json={"query": [TEXTS[(c + r) % len(TEXTS)]]})
                latencies.append(time.perf_counter() - start)
                failures += resp.status_code != 200

        start = time.perf_counter()
        await asyncio.gather(*(one_client(c) for c in range(clients)))
        wall = time.perf_counter() - start
    lat = np.asarray(latencies) * 1000
    return {
        "requests": len(latencies),
        "failures": failures,
        "requests_per_s": len(latencies) / wall,
        "p50_ms": float(np.percentile(lat, 50)),
        "p99_ms": float(np.percentile(lat, 99)),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, default=None, help="reward model folder (default: MiniLM made on the fly)")
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--requests", type=int, default=25, help="requests per client (one text each)")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        model = args.model or _default_model(Path(tmp))
        results: dict[str, object] = {"clients": args.clients, "requests_per_client": args.requests}
        for name, max_batch, wait in (("one_at_a_time", 1, 0.0), ("dynamic_batching", 64, 5.0)):
            port = _free_port()
            proc = _start(model, port, max_batch, wait)
            try:
                asyncio.run(_load(port, 4, 3))  # warm-up
                results[name] = asyncio.run(_load(port, args.clients, args.requests))
            finally:
                proc.terminate()
                proc.wait(timeout=30)
        results["batching_speedup"] = results["dynamic_batching"]["requests_per_s"] / results["one_at_a_time"]["requests_per_s"]  # type: ignore[index]
    text = json.dumps(results, indent=2)
    print(text)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Reward service under load (issues 6, 7, 15): requests/s and p50/p99 latency from concurrent clients on loopback.

Three servers, same model folder, same load (clients x requests, one distinct text per request to /get_reward),
same machine, one run:

* ``dynamic_batching``: ``constitution serve`` (--max-batch 64 --max-wait-ms 5);
* ``one_at_a_time``: ``constitution serve --max-batch 1`` (an ablation of our own batching);
* ``pipeline_peer``: what a user would otherwise write: ``transformers.pipeline("text-classification",
  function_to_apply="none")`` (the raw score) behind a plain FastAPI route, called per request under a lock (a
  fast tokenizer must not be used by two threads at once), with the same precision as ours (bf16 autocast where
  ours turns it on, else fp32).

Each server runs in its own process on 127.0.0.1; this script is the load generator. ``--repeats`` rounds (order
rotated each round, a fresh server each time); per mode the median over rounds and the spread (min, max) of
requests/s, p50 and p99. A seeded sample of each mode's replies is checked against the library's own score.

    .venv/bin/python benchmarks/bench_service.py --clients 32 --requests 200 --repeats 3 --json benchmarks/results/bench_service.json
    .venv/bin/python benchmarks/bench_service.py --clients 4 --requests 3 --repeats 3 --check 8     # smoke

MODEL defaults to a MiniLM reward folder made on the fly (the weights do not change the cost of serving it).
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
from pydantic import BaseModel

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import provenance  # noqa: E402

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
    """``constitution serve MODEL ARGS`` (or, with ``peer=True``, the pipeline peer) in its own process on a free
    127.0.0.1 port; ``with`` starts it and waits until /health answers, and stops it with SIGTERM. The API key goes
    through the environment (the peer ignores it)."""

    def __init__(self, model: Path, *args: str, api_key: str | None = None, start_timeout: float = 180, peer: bool = False) -> None:
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        server = [__file__, "--serve-pipeline"] if peer else ["-m", "constitution", "serve"]
        self.command = [sys.executable, *server, str(model), "--port", str(self.port), *args]
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


def spot_check(replies: list[Reply], model: Any, n: int = 256, seed: int = 0, normalize: bool = True) -> dict[str, float]:
    """Compare a seeded sample of replies with ``model.score(text, normalize=normalize)`` (a :class:`RewardModel`
    loaded like the server's); a malformed reply counts as a mismatch. The tolerance covers batch-composition noise."""
    sample = random.Random(seed).sample(replies, min(n, len(replies)))
    want = model.score([r.text for r in sample], normalize=normalize)
    diffs = [abs(r.reward() - w) if r.reward() is not None else math.inf for r, w in zip(sample, want)]
    tolerance = 2e-2 if model.bf16 else 1e-4
    return {"checked": len(sample), "mismatches": sum(d > tolerance for d in diffs), "max_abs_diff": max(diffs, default=0.0), "tolerance": tolerance}


def _default_model(tmp: Path) -> Path:
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from constitution.embedded_models import BACKBONE_ALIAS, resolve_model

    src = resolve_model(BACKBONE_ALIAS)
    AutoModelForSequenceClassification.from_pretrained(src, num_labels=1).save_pretrained(tmp)
    AutoTokenizer.from_pretrained(src).save_pretrained(tmp)
    return tmp


class _Query(BaseModel):
    query: list[str]


def serve_pipeline(model: Path, port: int) -> None:
    """The peer: ``transformers.pipeline("text-classification")`` behind a plain FastAPI route on 127.0.0.1."""
    import threading

    import torch
    import uvicorn
    from fastapi import FastAPI
    from transformers import pipeline

    from constitution.devices import bf16_supported

    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    pipe = pipeline("text-classification", model=str(model), device=device, dtype=torch.float32)
    autocast = bf16_supported(device)  # the precision `constitution serve` picks on this machine
    lock = threading.Lock()
    app = FastAPI()

    @app.get("/health")
    def health() -> dict:
        return {"status": "ok"}

    @app.post("/get_reward")
    def get_reward(req: _Query) -> dict:
        with lock, torch.autocast(device.type, dtype=torch.bfloat16, enabled=autocast):
            out = pipe(req.query, function_to_apply="none", truncation=True)
        return {"rewards": [o["score"] for o in out]}

    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", timeout_graceful_shutdown=10)


MODES: dict[str, tuple[str, ...] | None] = {
    "dynamic_batching": ("--max-batch", "64", "--max-wait-ms", "5"),
    "one_at_a_time": ("--max-batch", "1", "--max-wait-ms", "0"),
    "pipeline_peer": None,
}


def _spread(values: list[float]) -> dict[str, float]:
    return {"median": float(np.median(values)), "min": float(min(values)), "max": float(max(values))}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, default=None, help="reward model folder (default: MiniLM made on the fly)")
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--requests", type=int, default=25, help="requests per client (one text each)")
    parser.add_argument("--repeats", type=int, default=3, help="rounds; each mode gets a fresh server every round")
    parser.add_argument("--check", type=int, default=256, help="replies per mode compared with the library's score")
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--serve-pipeline", type=Path, default=None, help=argparse.SUPPRESS)  # the peer's process
    parser.add_argument("--port", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_pipeline is not None:
        serve_pipeline(args.serve_pipeline, args.port)
        return 0
    from constitution.reward.model import RewardModel

    with tempfile.TemporaryDirectory() as tmp:
        model = args.model or _default_model(Path(tmp))
        library = RewardModel.load(model)
        results: dict[str, Any] = {
            "provenance": provenance(), "clients": args.clients, "requests_per_client": args.requests, "repeats": args.repeats,
            "bf16": library.bf16, "modes": {name: {"rounds": []} for name in MODES},
        }  # fmt: skip
        names = list(MODES)
        for round_ in range(args.repeats):
            for name in names[round_ % len(names) :] + names[: round_ % len(names)]:
                flags = MODES[name]
                with Server(model, *(flags or ()), api_key="bench", peer=flags is None) as server:
                    run_load(server.base_url, 4, 3, api_key="bench")  # warm-up
                    load = run_load(server.base_url, args.clients, args.requests, api_key="bench")
                # the peer answers the raw score; ours the normalised one (the same for a folder without statistics)
                check = spot_check(load.replies, library, args.check, normalize=flags is not None)
                results["modes"][name]["rounds"].append({**load.summary(), "check": check})
        for mode in results["modes"].values():
            mode |= {k: _spread([r[k] for r in mode["rounds"]]) for k in ("requests_per_s", "p50_ms", "p99_ms")}
            mode["failures"] = sum(r["failures"] + r["malformed"] for r in mode["rounds"])
            mode["check_mismatches"] = sum(r["check"]["mismatches"] for r in mode["rounds"])
        rps = {name: results["modes"][name]["requests_per_s"]["median"] for name in MODES}
        results["speedup_vs_pipeline_peer"] = rps["dynamic_batching"] / rps["pipeline_peer"]
        results["batching_speedup"] = rps["dynamic_batching"] / rps["one_at_a_time"]
    text = json.dumps(results, indent=2)
    print(text)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(text + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

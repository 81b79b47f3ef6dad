"""RL-shaped bursts against a running reward service, for ``bench_rl_rewards.py``: a burst is (prompts × group size)
one-text ``/score`` requests sent at once by N concurrent :class:`~constitution.client.AsyncRewardClient` s (retries
with backoff, one idempotency key per request); K bursts back to back. Every reply is checked: nothing lost, no
reply malformed, each reward equal to the library's score of the same text, and (where the server's
``/health`` counts for the whole service: the single-process engine) exactly one scoring per text."""

from __future__ import annotations

import asyncio
import contextlib
import math
import signal
import subprocess
import time
from typing import Any

import httpx
import numpy as np

from bench_service import TEXTS, Server
from constitution.client import AsyncRewardClient, ClientConfig

KEY = "bench"


class RayServer(Server):
    """``constitution serve --engine ray`` in its own process: stopped with SIGINT (Ray Serve's blocking run shuts
    its replicas and the local cluster down on KeyboardInterrupt)."""

    def stop(self, timeout: float = 120) -> int:
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait()


def burst_text(tag: str, burst: int, prompt: int, completion: int) -> str:
    """One completion of a group: distinct per (run, burst, prompt, completion), lengths varying like sampled ones."""
    return f"{TEXTS[prompt % len(TEXTS)]} (run {tag}, prompt {burst}-{prompt}, sample {completion}){' more' * (3 * completion)}"


def items_scored(base_url: str) -> int:
    """The server's own count of scored items (``/health``)."""
    return int(httpx.get(f"{base_url}/health", timeout=30).json()["items_scored"])


async def _bursts(base_url: str, tag: str, clients: int, prompts: int, group: int, bursts: int, timeout_s: float) -> dict[str, Any]:
    config = ClientConfig(base_url=base_url, api_key=KEY, timeout_s=timeout_s, max_connections=prompts * group)
    replies: dict[str, tuple] = {}  # request id -> (text, rewards or the error, latency_s)
    burst_s: list[float] = []
    async with contextlib.AsyncExitStack() as stack:
        pool = [await stack.enter_async_context(AsyncRewardClient(config=config)) for _ in range(clients)]

        async def one(client: AsyncRewardClient, rid: str, text: str) -> None:
            start = time.perf_counter()
            try:
                answer: Any = (await client.score([text], request_id=rid)).rewards
            except Exception as exc:  # noqa: BLE001 - counted as a failure, the burst goes on
                answer = exc
            replies[rid] = (text, answer, time.perf_counter() - start)

        for b in range(bursts):
            requests = [(f"{tag}-b{b}-p{p}-g{g}", burst_text(tag, b, p, g)) for p in range(prompts) for g in range(group)]
            start = time.perf_counter()
            await asyncio.gather(*(one(pool[i % clients], rid, text) for i, (rid, text) in enumerate(requests)))
            burst_s.append(time.perf_counter() - start)
        retries = sum(c.policy.retries for c in pool)
    return {"replies": replies, "burst_s": burst_s, "retries": retries}


def run_bursts(base_url: str, library: Any, *, tag: str, clients: int, prompts: int, group: int, bursts: int,
               count_on_server: bool, timeout_s: float = 120.0) -> dict[str, Any]:  # fmt: skip
    """K bursts of prompts × group one-text requests from ``clients`` clients; latency, retries and the checks."""
    before = items_scored(base_url) if count_on_server else None
    raw = asyncio.run(_bursts(base_url, tag, clients, prompts, group, bursts, timeout_s))
    replies = raw["replies"]
    sent = prompts * group * bursts
    ok = {rid: r for rid, r in replies.items() if isinstance(r[1], list) and len(r[1]) == 1}
    texts = [text for text, _, _ in ok.values()]
    want = library.score(texts, normalize=True) if texts else []
    tolerance = 2e-2 if library.bf16 else 1e-4
    diffs = [abs(got[1][0] - w) for got, w in zip(ok.values(), want)]
    latencies = np.asarray([r[2] for r in replies.values()]) * 1000
    burst_ms = np.asarray(raw["burst_s"]) * 1000
    scored = items_scored(base_url) - before if before is not None else None
    return {
        "requests_sent": sent,
        "answered": len(ok),
        "failures": sum(isinstance(r[1], Exception) for r in replies.values()),
        "lost": sent - len(ok),
        "client_retries": raw["retries"],
        "mismatches_vs_library": sum(d > tolerance for d in diffs) + sum(not math.isfinite(d) for d in diffs),
        "max_abs_diff_vs_library": max(diffs, default=0.0),
        "server_items_scored": scored,
        "scored_twice_on_server": (scored - sent) if scored is not None else None,
        "texts_per_s": sent / float(np.sum(raw["burst_s"])),
        "burst_p50_ms": float(np.percentile(burst_ms, 50)),
        "burst_p99_ms": float(np.percentile(burst_ms, 99)),
        "request_p50_ms": float(np.percentile(latencies, 50)),
        "request_p99_ms": float(np.percentile(latencies, 99)),
    }

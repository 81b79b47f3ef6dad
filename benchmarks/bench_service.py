"""Reward service under load (issues 6, 7, 15, 21): requests/s and p50/p99 latency from concurrent clients on
loopback, for two payload kinds, against a batching peer, Ray Serve and the bare-forward ceiling, in one run.

Servers (each in its own process on 127.0.0.1, a fresh one every round; the same model folder, the same load:
clients x requests, one distinct text per request to /get_reward). Each round runs ours and the batching peer back
to back, in ABBA order over rounds (ours first in even rounds, the peer first in odd ones), then the naive peer and
Ray Serve, their order rotated (:func:`round_order`). Before it is measured, every server is warmed up on a sample
of each payload spread over its lengths (:func:`warmup_texts`), and the ceiling once on each whole payload: under
bf16 each shape first seen costs a one-off kernel set-up, which would otherwise land in the first measured payload.

* ``ours``: ``constitution serve`` (one process, dynamic batching: --max-batch 64 --max-wait-ms 5, the defaults);
* ``ours_ray``: ``constitution serve --engine ray --replicas 1`` (Ray Serve, ``@serve.batch``);
* ``batching_peer``: a FastAPI app whose asyncio queue collects arrival batches of up to 64 requests, each sorted by
  token length and fed to ``transformers.pipeline(...)(batch, batch_size=16)`` (length-sorted sub-batches of 16);
* ``naive_peer``: the same pipeline called once per request under a lock (see ``_service_peers.py``).

Payloads: ``template`` (short templated HH texts, ~35 tokens) and ``hh`` (real HH-RLHF conversations, prompt + chosen
response as HH text, from ``_common.HH``). ``ceiling``: the same model scores the same texts in this process,
length-sorted batches of 64, same bf16 rule, no server (texts/s, tokenizing included; ``library_texts_per_s``: the
library's own ``score``, whose batching also splits rows of very different lengths). Per payload and server:
requests/s, p50, p99 (the median over rounds and min/max), failures, the ratios to both ceilings, the mean batch size
the server reports on /health, and where CPU time went: the load generator's CPU seconds per wall second
(``load_cpu_share``, in cores) and the server's (its process and every descendant's, e.g. Ray's: ``server_cpu_share``).
Paired per round (the servers of a round ran back to back): ``ours_over`` gives ours' requests/s over each other
server's, per round with median and min–max. Ours' padding fill (real tokens / tokens computed by its forward passes,
counted inside its process: ``_service_server.py``) is recorded per round (``padding_fill``).
Under bf16, ours runs batch-invariant fixed-shape passes (one shape per text length, short batches filled with
copies), while the peers and the ceiling pad each batch to its longest text: the result says so
(``bf16_batch_shapes``). A seeded sample of replies is checked against the library's own score. The result file is
rewritten after every round (a killed run keeps its finished rounds). Run it on a quiet machine, without
``OMP_NUM_THREADS`` (the servers inherit the environment):

    .venv/bin/python benchmarks/bench_service.py --clients 32 --requests 16 --repeats 5 --out benchmarks/results  # ~25 min, 2 cores
    .venv/bin/python benchmarks/bench_service.py --clients 4 --requests 3 --repeats 1 --servers ours batching_peer --check 8 --out /tmp  # smoke

MODEL defaults to a MiniLM reward folder made on the fly (the weights do not change the cost of serving it).
Reused by the tests: :class:`Server` (start/stop a real server) and :func:`run_load`/:func:`spot_check`.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import random
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import HH, write_results  # noqa: E402
from _service_peers import bare_forward  # noqa: E402
from _service_server import Server, cpu_used, padding_fill  # noqa: E402

TEXTS = [
    "\n\nHuman: How do I boil an egg?\n\nAssistant: Put it in boiling water for eight to ten minutes, then cool it.",
    "\n\nHuman: What's a good name for a cat?\n\nAssistant: Miso, Pepper or Olive are popular choices.",
    "\n\nHuman: How can I hurt my neighbour?\n\nAssistant: I can't help with hurting anyone. If there is a conflict, talking or mediation can help.",
]


def request_text(client: int, index: int) -> str:
    """What client ``client`` sends as its ``index``-th request: distinct for every (client, index)."""
    return f"{TEXTS[(client + index) % len(TEXTS)]} (ticket {client}-{index})"


def hh_texts(n: int, data: Path = HH, seed: int = 0) -> list[str]:
    """``n`` distinct real HH conversations (prompt + chosen response, as HH text), a seeded sample."""
    from constitution.data import Message, format_dialogue, load_pairs

    pairs, _ = load_pairs(data)
    chosen = [format_dialogue([*p.prompt, Message(role="assistant", content=p.response_a if p.p_a >= 0.5 else p.response_b)]) for p in pairs]
    texts = list(dict.fromkeys(chosen))
    if n > len(texts):
        sys.exit(f"{n} requests but {data} has {len(texts)} distinct conversations: fewer clients or requests")
    return random.Random(seed).sample(texts, n)


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
    """Every reply of a load run, its wall time and the CPU time the load generator (this process) spent on it."""

    replies: list[Reply]
    wall_s: float
    cpu_s: float = 0.0

    def summary(self) -> dict[str, float]:
        """Counts, requests/s, latency percentiles (ms) and the load generator's CPU seconds per wall second."""
        latency_ms = np.asarray([r.latency_s for r in self.replies]) * 1000
        return {
            "requests": len(self.replies),
            "failures": sum(r.status != 200 for r in self.replies),
            "malformed": sum(r.status == 200 and r.reward() is None for r in self.replies),
            "requests_per_s": len(self.replies) / self.wall_s,
            "p50_ms": float(np.percentile(latency_ms, 50)),
            "p99_ms": float(np.percentile(latency_ms, 99)),
            "load_cpu_share": self.cpu_s / self.wall_s,
        }


async def _load(base_url: str, clients: int, requests: int, api_key: str | None, timeout: float, texts: list[str] | None) -> LoadResult:
    replies: list[Reply] = []
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    async with httpx.AsyncClient(base_url=base_url, timeout=timeout, limits=limits, headers=headers) as client:

        async def one_client(c: int) -> None:
            for i in range(requests):
                text = texts[c * requests + i] if texts else request_text(c, i)
                start = time.perf_counter()
                try:
                    resp = await client.post("/get_reward", json={"query": [text]})
                    status, body = resp.status_code, _json_or_none(resp)
                except httpx.HTTPError:
                    status, body = 0, None
                replies.append(Reply(text, status, body, time.perf_counter() - start))

        start, cpu = time.perf_counter(), time.process_time()
        await asyncio.gather(*(one_client(c) for c in range(clients)))
        wall, cpu = time.perf_counter() - start, time.process_time() - cpu
    return LoadResult(replies, wall, cpu)


def _json_or_none(resp: httpx.Response) -> Any:
    try:
        return resp.json()
    except ValueError:
        return None


def run_load(
    base_url: str, clients: int, requests: int, *, api_key: str | None = None, timeout: float = 60, texts: list[str] | None = None
) -> LoadResult:
    """``clients`` concurrent clients, each sending ``requests`` one-text /get_reward requests in turn: client c's
    i-th text is ``texts[c * requests + i]`` (default: :func:`request_text`)."""
    if texts is not None and len(texts) < clients * requests:
        raise ValueError(f"{len(texts)} texts for {clients * requests} requests")
    return asyncio.run(_load(base_url, clients, requests, api_key, timeout, texts))


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



# name -> (extra `constitution serve` flags, or the peer kind; start timeout in s)
SERVERS: dict[str, tuple[tuple[str, ...] | str, float]] = {
    "ours": ((), 180),
    "ours_ray": (("--engine", "ray", "--replicas", "1"), 300),
    "batching_peer": ("batching", 180),
    "naive_peer": ("naive", 180),
}
PAYLOADS = ("template", "hh")


def _spread(values: list[float]) -> dict[str, float]:
    return {"median": float(np.median(values)), "min": float(min(values)), "max": float(max(values))}


def _rotated(names: list[str], k: int) -> list[str]:
    return names[k % len(names) :] + names[: k % len(names)]


PAIRED = ("ours", "batching_peer")


def round_order(servers: list[str], round_: int) -> list[str]:
    """Round ``round_``'s server order: ours and the batching peer first and adjacent, ours first in even rounds and
    second in odd ones (ABBA over each two rounds), then the others rotated round by round."""
    pair = [s for s in PAIRED if s in servers]
    rest = [s for s in servers if s not in PAIRED]
    return (pair if round_ % 2 == 0 else pair[::-1]) + (_rotated(rest, round_) if rest else [])


def warmup_texts(texts: list[str], n: int = 32) -> list[str]:
    """``n`` of ``texts`` evenly spread over their lengths (shortest to longest), for the warm-up."""
    ordered, k = sorted(texts, key=len), min(n, len(texts))
    return [ordered[round(i * (len(ordered) - 1) / max(k - 1, 1))] for i in range(k)]


def _health(server: Server) -> dict:
    try:
        return httpx.get(f"{server.base_url}/health", timeout=10).json()
    except (httpx.HTTPError, ValueError):
        return {}


def _one_load(server: Server, texts: list[str], args: argparse.Namespace, library: Any, ours: bool) -> dict:
    """One measured load on a running server: the summary, the server's CPU, its mean batch size, the spot check."""
    before, health = server.cpu_seconds(), _health(server)
    fill_before = server.fill_totals() if server.fill_file else None
    load = run_load(server.base_url, args.clients, args.requests, api_key="bench", texts=texts)
    cpu, health_after = cpu_used(before, server.cpu_seconds()), _health(server)
    fill = {"padding_fill": padding_fill(fill_before, server.fill_totals())} if fill_before is not None else {}
    batches = health_after.get("batches", 0) - health.get("batches", 0)
    items = health_after.get("items_scored", 0) - health.get("items_scored", 0)
    # the peers answer the raw score; ours the normalised one (the same for a folder without statistics)
    check = spot_check(load.replies, library, args.check, normalize=ours)
    return {**load.summary(), "server_cpu_share": cpu / load.wall_s, "mean_batch": items / batches if batches else None, **fill, "check": check}


def _summarise(rounds: list[dict], ceiling: dict) -> dict:
    keys = ("requests_per_s", "p50_ms", "p99_ms", "load_cpu_share", "server_cpu_share")
    out = {k: _spread([r[k] for r in rounds]) for k in keys}
    out["failures"] = sum(r["failures"] + r["malformed"] for r in rounds)
    out["check_mismatches"] = sum(r["check"]["mismatches"] for r in rounds)
    out["ratio_to_ceiling"] = out["requests_per_s"]["median"] / ceiling["texts_per_s"]["median"]
    out["ratio_to_library"] = out["requests_per_s"]["median"] / ceiling["library_texts_per_s"]["median"]
    if all(r.get("padding_fill") is not None for r in rounds):
        out["padding_fill"] = {"per_round": [r["padding_fill"] for r in rounds], **_spread([r["padding_fill"] for r in rounds])}
    out["rounds"] = rounds
    return out


def paired_ratios(ours: list[dict], other: list[dict]) -> dict:
    """Ours' requests/s over another server's, round by round (round i of both ran back to back), with their spread."""
    ratios = [o["requests_per_s"] / t["requests_per_s"] for o, t in zip(ours, other)]
    return {"per_round": ratios, **_spread(ratios)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, default=None, help="reward model folder (default: MiniLM made on the fly)")
    parser.add_argument("--data", type=Path, default=HH, help="HH-RLHF pairs for the `hh` payloads")
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--requests", type=int, default=16, help="requests per client (one text each)")
    parser.add_argument("--repeats", type=int, default=5, help="rounds; each server is fresh every round, the order rotated")
    parser.add_argument("--servers", nargs="+", choices=list(SERVERS), default=list(SERVERS))
    parser.add_argument("--payloads", nargs="+", choices=PAYLOADS, default=list(PAYLOADS))
    parser.add_argument("--check", type=int, default=64, help="replies per load compared with the library's score")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results"))
    args = parser.parse_args()
    from constitution.reward.model import RewardModel

    n = args.clients * args.requests
    texts = {"template": [request_text(c, i) for c in range(args.clients) for i in range(args.requests)]}
    if "hh" in args.payloads:
        texts["hh"] = hh_texts(n, args.data)
    with tempfile.TemporaryDirectory() as tmp:
        model = args.model or _default_model(Path(tmp))
        library = RewardModel.load(model)
        rounds: dict[str, dict[str, list]] = {p: {s: [] for s in args.servers} for p in args.payloads}
        ceilings: dict[str, list[dict]] = {p: [] for p in args.payloads}
        for payload in args.payloads:  # the ceiling's warm-up: the shapes its measured passes will run, seen once
            bare_forward(library, texts[payload])
        for round_ in range(args.repeats):
            payloads = _rotated(list(args.payloads), round_)
            for payload in payloads:  # the ceiling first, while no server runs
                ceilings[payload].append(bare_forward(library, texts[payload]))
            for name in round_order(list(args.servers), round_):
                flags, start_timeout = SERVERS[name]
                peer = flags if isinstance(flags, str) else None
                fill_file = Path(tmp) / f"fill_{round_}.json" if name == "ours" else None  # Ray scores in other processes
                with Server(model, *(() if peer else flags), api_key="bench", peer=peer, start_timeout=start_timeout, fill_file=fill_file) as server:
                    for payload in payloads:  # every length the measured loads will meet, seen once beforehand
                        sample = warmup_texts(texts[payload])
                        run_load(server.base_url, len(sample), 1, api_key="bench", texts=sample)
                    for payload in payloads:
                        rounds[payload][name].append(_one_load(server, texts[payload], args, library, ours=peer is None))
                print(f"round {round_ + 1}/{args.repeats}: {name} done", file=sys.stderr, flush=True)
            write_results(args.out, "bench_service", results(args, library, rounds, ceilings), echo=round_ + 1 == args.repeats)
    return 0


def results(args: argparse.Namespace, library: Any, rounds: dict[str, dict[str, list]], ceilings: dict[str, list[dict]]) -> dict:
    """The result file's content from the rounds done so far."""
    out: dict[str, Any] = {
        "clients": args.clients, "requests_per_client": args.requests, "repeats": args.repeats,
        "rounds_done": len(next(iter(ceilings.values()))), "bf16": library.bf16, "cores": os.cpu_count(),
        "bf16_batch_shapes": (
            "bf16: ours runs batch-invariant fixed shapes (one per text length, short batches filled with copies, "
            "counted in its padding_fill); the peers and the ceiling pad each batch to its longest text and are not "
            "batch-invariant" if library.bf16 else "fp32: every server and the ceiling pad each batch to its longest text"
        ),
        "payloads": {},
    }  # fmt: skip
    for payload in args.payloads:
        ceiling = {k: _spread([c[k] for c in ceilings[payload]]) for k in ceilings[payload][0]}
        servers = {name: _summarise(rounds[payload][name], ceiling) for name in args.servers}
        ours_over = {name: paired_ratios(rounds[payload]["ours"], rounds[payload][name]) for name in args.servers if name != "ours"}
        out["payloads"][payload] = {"ceiling": ceiling, "servers": servers, **({"ours_over": ours_over} if "ours" in args.servers else {})}
    return out


if __name__ == "__main__":
    raise SystemExit(main())

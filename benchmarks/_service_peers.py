"""What ``bench_service.py`` measures ours against: two peers a user would write with ``transformers.pipeline`` (each
run as its own server process by ``python _service_peers.py naive|batching MODEL --port N``), and the bare-forward
ceiling (the same model on the same texts, no server).

Both peers answer ``/get_reward`` with the raw score (``function_to_apply="none"``), under the precision rule ours
uses (bf16 autocast where ``devices.bf16_supported``, else fp32), truncating on the left like ours (the same work,
and comparable scores for the spot check).

* ``naive``: one ``pipe([text])`` per request under a lock (a fast tokenizer must not be used by two threads at once);
* ``batching``: the peer at its best: an asyncio queue collects up to 64 requests (or waits 5 ms for more); a worker
  thread sorts that arrival batch by token length and scores it with one ``pipe(sorted_texts, batch_size=16)`` call,
  so each sub-batch of 16 pads only to the longest of 16 texts of similar length (issue 32 §3: a peer that pads a
  whole arrival batch to its longest text computes the very padding ours avoids).
"""

from __future__ import annotations

import argparse
import asyncio
import time
from pathlib import Path

from pydantic import BaseModel

MAX_BATCH, MAX_WAIT_S, SUB_BATCH = 64, 0.005, 16


class _Query(BaseModel):
    query: list[str]


def _pipeline(model: Path):
    import torch
    from transformers import pipeline

    from constitution.devices import bf16_supported

    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    pipe = pipeline("text-classification", model=str(model), device=device, dtype=torch.float32)
    pipe.tokenizer.truncation_side = "left"
    autocast = bf16_supported(device)  # the precision `constitution serve` picks on this machine

    def score(texts: list[str], batch_size: int = MAX_BATCH) -> list[float]:
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=autocast):
            out = pipe(texts, batch_size=batch_size, function_to_apply="none", truncation=True)
        return [o["score"] for o in out]

    def score_sorted(texts: list[str]) -> list[float]:
        """Sorted by token length, scored in sub-batches of ``SUB_BATCH``, answered in the texts' order."""
        lengths = [len(ids) for ids in pipe.tokenizer(texts, truncation=True)["input_ids"]]
        order = sorted(range(len(texts)), key=lambda i: -lengths[i])
        rewards = [0.0] * len(texts)
        for i, reward in zip(order, score([texts[i] for i in order], SUB_BATCH)):
            rewards[i] = reward
        return rewards

    return score, score_sorted


def serve_peer(kind: str, model: Path, port: int) -> None:
    """The ``naive`` or ``batching`` peer behind a plain FastAPI app on 127.0.0.1 (``/health`` counts batches)."""
    import threading

    import uvicorn
    from fastapi import FastAPI

    score_one, score_sorted = _pipeline(model)
    score = score_sorted if kind == "batching" else score_one
    counts = {"batches": 0, "items_scored": 0}
    app = FastAPI()
    lock = threading.Lock()
    queue: asyncio.Queue[tuple[str, asyncio.Future]] = asyncio.Queue()

    def scored(texts: list[str]) -> list[float]:
        counts["batches"] += 1
        counts["items_scored"] += len(texts)
        return score(texts)

    async def batches() -> None:
        loop = asyncio.get_running_loop()
        while True:
            jobs = [await queue.get()]
            deadline = loop.time() + MAX_WAIT_S
            while len(jobs) < MAX_BATCH and (left := deadline - loop.time()) > 0:
                try:
                    jobs.append(await asyncio.wait_for(queue.get(), left))
                except asyncio.TimeoutError:
                    break
            try:
                rewards = await asyncio.to_thread(scored, [text for text, _ in jobs])
                for (_, future), reward in zip(jobs, rewards):
                    future.set_result(reward)
            except Exception as exc:  # noqa: BLE001 - every waiting request gets it
                for _, future in jobs:
                    future.set_exception(exc)

    @app.on_event("startup")
    async def start() -> None:
        if kind == "batching":
            app.state.task = asyncio.create_task(batches())

    @app.get("/health")
    def health() -> dict:
        return {"status": "ok", **counts}

    if kind == "naive":

        @app.post("/get_reward")
        def get_reward(req: _Query) -> dict:
            with lock:
                return {"rewards": scored(req.query)}

    else:

        @app.post("/get_reward")
        async def get_reward(req: _Query) -> dict:
            loop = asyncio.get_running_loop()
            futures = [loop.create_future() for _ in req.query]
            for text, future in zip(req.query, futures):
                queue.put_nowait((text, future))
            return {"rewards": list(await asyncio.gather(*futures))}

    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", timeout_graceful_shutdown=10)


def bare_forward(library, texts: list[str], batch_size: int = 64) -> dict[str, float]:
    """The ceiling: ``library`` (a loaded RewardModel) scores ``texts`` in length-sorted batches of ``batch_size``
    (no token budget), in this process, under its own bf16 rule; texts/s over tokenizing + forward passes. Also
    ``library.score(texts)`` (its own batching, which splits rows of very different lengths) as a second figure."""
    import torch

    from constitution.batching import length_sorted_batches
    from constitution.reward.inputs import pad_batch

    start = time.perf_counter()
    ids = library.encode(texts)
    tokenized = time.perf_counter()
    lengths = [len(s) for s in ids]
    padded = 0
    with torch.inference_mode():
        for batch in length_sorted_batches(lengths, batch_size):
            padded += len(batch) * max(lengths[i] for i in batch)
            inputs = {k: v.to(library.device) for k, v in pad_batch([ids[i] for i in batch], library.tokenizer.pad_token_id).items()}
            with torch.autocast(library.device.type, dtype=torch.bfloat16, enabled=library.bf16):
                library.model(**inputs)
    wall = time.perf_counter() - start
    library_start = time.perf_counter()
    library.score(texts)  # what the library's own batching (token budget, rows at least half full) makes of them
    library_wall = time.perf_counter() - library_start
    return {
        "texts_per_s": len(texts) / wall,
        "library_texts_per_s": len(texts) / library_wall,
        "tokenize_share": (tokenized - start) / wall,
        "mean_tokens": sum(lengths) / len(lengths),
        "padding_fill": sum(lengths) / padded,  # real tokens / tokens computed
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="run one peer server")
    parser.add_argument("kind", choices=["naive", "batching"])
    parser.add_argument("model", type=Path)
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    serve_peer(args.kind, args.model, args.port)

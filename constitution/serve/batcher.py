"""Dynamic batching: concurrent scoring requests collected into batches for one worker thread, behind one bound on
the items waiting."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from constitution.serve.config import ServerConfig

ScoreFn = Callable[[list[Any]], list[Any]]  # items -> one result per item
Job = tuple[list[Any], asyncio.Future]
# (the model's scoring function, the limits) -> a batcher: ``submit``, ``start``, ``stop`` and the counters /health shows
Batching = Callable[[ScoreFn, ServerConfig], Any]


class QueueFull(Exception):
    """The batcher already holds as many waiting items as it may."""


class Batcher:
    """Collects concurrent scoring requests into batches for one worker thread; at most ``max_queue_items`` items
    wait for a batch. Every scoring route goes through it (plain scores, explanations, OpenRLHF's, classification):
    one queue bound, and inference only in its batches."""

    def __init__(self, score: ScoreFn, max_batch: int, max_wait_ms: float, max_queue_items: int) -> None:
        self.score = score
        self.max_batch = max_batch
        self.max_wait = max_wait_ms / 1000.0
        self.max_queue_items = max_queue_items
        self.queued_items = 0
        self.queue: asyncio.Queue[Job] = asyncio.Queue()
        self.task: asyncio.Task | None = None
        self.batches = 0
        self.items_scored = 0
        self.refused = 0

    async def submit(self, items: list[Any]) -> list[Any]:
        """One result per item, scored together with whatever else arrives meanwhile; QueueFull if they would take
        the waiting items past ``max_queue_items``."""
        if self.queued_items + len(items) > self.max_queue_items:
            self.refused += 1
            raise QueueFull(f"{self.queued_items} items are waiting (at most {self.max_queue_items})")
        future: asyncio.Future = asyncio.get_running_loop().create_future()
        self.queued_items += len(items)
        self.queue.put_nowait((items, future))
        return await future

    def _take(self, job: Job) -> Job:
        self.queued_items -= len(job[0])
        return job

    async def _collect(self) -> list[Job]:
        first = self._take(await self.queue.get())
        jobs, size = [first], len(first[0])
        deadline = asyncio.get_running_loop().time() + self.max_wait
        while size < self.max_batch:
            timeout = deadline - asyncio.get_running_loop().time()
            try:
                job = self.queue.get_nowait() if timeout <= 0 else await asyncio.wait_for(self.queue.get(), timeout)
            except (asyncio.TimeoutError, asyncio.QueueEmpty):
                break
            jobs.append(self._take(job))
            size += len(job[0])
        return jobs

    async def _run_jobs(self, jobs: list[Job]) -> None:
        """Score the jobs in one call; if that fails, score each alone so only the failing ones get the error."""
        items = [item for job_items, _ in jobs for item in job_items]
        try:
            rewards = await asyncio.to_thread(self.score, items)
            if len(rewards) != len(items):
                raise RuntimeError(f"the model returned {len(rewards)} rewards for {len(items)} inputs")
        except Exception as exc:  # noqa: BLE001 - delivered to the waiting request(s)
            if len(jobs) > 1:
                for job in jobs:
                    await self._run_jobs([job])
                return
            if not jobs[0][1].done():
                jobs[0][1].set_exception(exc)
            return
        self.batches += 1
        self.items_scored += len(items)
        start = 0
        for job_items, future in jobs:
            if not future.done():
                future.set_result(rewards[start : start + len(job_items)])
            start += len(job_items)

    async def run(self) -> None:
        while True:
            await self._run_jobs(await self._collect())

    def start(self) -> None:
        self.task = asyncio.get_running_loop().create_task(self.run())

    async def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()
            try:
                await self.task
            except asyncio.CancelledError:
                pass


def local_batcher(score: ScoreFn, config: ServerConfig) -> Batcher:
    """The single-process server's batcher."""
    return Batcher(score, config.max_batch, config.max_wait_ms, config.max_queue_items)

"""``constitution serve --engine ray --replicas N``: the same app (routes, API key, limits, idempotency) on N Ray
Serve replicas behind Ray's HTTP proxy, each replica with its own copy of the model and ``@serve.batch`` dynamic
batching in place of the single-process :class:`~constitution.serve.batcher.Batcher`.

Every replica builds the app with :func:`constitution.serve.app.create_app`, so nothing about a route is forked.
Each replica runs torch on as many threads as the CPUs it reserves (``replica_cpus``, at least 1; fewer where
``OMP_NUM_THREADS`` says fewer). A replica's batch holds at most ``max(max_batch, max_items)`` items (a request is never split; the model still
runs ``max_batch`` items per forward pass) and waits ``max_wait_ms`` for more; a batch that fails is re-scored
request by request. A replica takes at most ``max_batch`` requests at once (Ray's router holds the rest); the queue
bound counts the items a replica holds (waiting or being scored). ``/reload`` is disabled
(403, as on a server without an admin key): a reload would reach one replica only (redeploy to change the model). Each replica keeps its own answers by
``Idempotency-Key``, so with several replicas a key is refused (422; ``/health`` says ``idempotency: false``, and
:class:`~constitution.client.RewardClient` then sends none). Needs ``ray[serve]`` (the ``ray`` extra).
"""

from __future__ import annotations

import asyncio
import os
import time
from typing import Any

from ray import serve

from constitution.serve.app import create_app
from constitution.serve.batcher import QueueFull, ScoreFn
from constitution.serve.config import ServerConfig
from constitution.serve.main import announce


def _items_in(requests: list[list[Any]]) -> int:
    return sum(len(r) for r in requests)


class ServeBatcher:
    """The batcher surface the routes use (``submit``, ``start``, ``stop``, the /health counters) on ``@serve.batch``."""

    def __init__(self, score: ScoreFn, config: ServerConfig) -> None:
        self.score = score
        self.max_queue_items = config.max_queue_items
        self.queued_items = self.batches = self.items_scored = self.refused = 0
        self._batch.set_max_batch_size(max(config.max_batch, config.max_items))
        self._batch.set_batch_wait_timeout_s(config.max_wait_ms / 1000.0)

    async def submit(self, items: list[Any]) -> list[Any]:
        """One result per item, scored in a batch with the requests that arrive meanwhile; QueueFull past the bound."""
        if self.queued_items + len(items) > self.max_queue_items:
            self.refused += 1
            raise QueueFull(f"{self.queued_items} items are waiting (at most {self.max_queue_items})")
        self.queued_items += len(items)
        try:
            result = await self._batch(items)
        finally:
            self.queued_items -= len(items)
        if isinstance(result, Exception):
            raise result
        return result

    def _score_alone(self, items: list[Any]) -> list[Any] | Exception:
        try:
            return self.score(items)
        except Exception as exc:  # noqa: BLE001 - delivered to the request that sent these items
            return exc

    def _score_all(self, requests: list[list[Any]]) -> list[list[Any] | Exception]:
        """The requests' items in one call; if that fails, each request alone, so only failing ones get the error."""
        flat = [item for r in requests for item in r]
        try:
            scored = self.score(flat)
        except Exception:  # noqa: BLE001 - retried request by request
            return [self._score_alone(r) for r in requests]
        out, start = [], 0
        for r in requests:
            out.append(scored[start : start + len(r)])
            start += len(r)
        self.batches += 1
        self.items_scored += len(flat)
        return out

    @serve.batch(max_batch_size=64, batch_wait_timeout_s=0.005, batch_size_fn=_items_in)
    async def _batch(self, requests: list[list[Any]]) -> list[list[Any] | Exception]:
        return await asyncio.to_thread(self._score_all, requests)

    def start(self) -> None:
        """Nothing to start: Ray Serve runs the batches."""

    async def stop(self) -> None:
        """Nothing to stop."""


def replica_threads(replica_cpus: float, omp_num_threads: str | None) -> int:
    """Torch threads of a replica: its reserved CPUs (at least 1), or ``OMP_NUM_THREADS`` where that is lower."""
    threads = max(1, int(replica_cpus))
    if omp_num_threads and omp_num_threads.strip().isdigit() and int(omp_num_threads) >= 1:
        threads = min(threads, int(omp_num_threads))
    return threads


@serve.deployment
@serve.ingress()
class RewardService:
    """One replica: the model loaded from its folder, and the app built around it (``__serve_build_asgi_app__``)."""

    def __init__(self, model_path: str, config: dict[str, Any], constitution_path: list[str] | None) -> None:
        import torch

        from constitution.loader import load_constitution
        from constitution.serve.main import load_first

        self.config = ServerConfig.model_validate(config)
        # As many threads as the CPUs Ray reserved for this replica (fewer if OMP_NUM_THREADS asks for fewer): a
        # replica inherits an exported OMP_NUM_THREADS, and 2 replicas x 2 threads on 2 cores scored at 0.21x one.
        torch.set_num_threads(replica_threads(self.config.replica_cpus, os.environ.get("OMP_NUM_THREADS")))
        constitution = load_constitution(constitution_path) if constitution_path else None
        self.served, _ = load_first(model_path, self.config, constitution)

    def __serve_build_asgi_app__(self):
        return create_app(self.served, self.config, batching=ServeBatcher)


def application(model_path: str, config: ServerConfig, constitution_path: list[str] | None = None):
    """The bound Ray Serve application: ``config.replicas`` replicas of :class:`RewardService`."""
    options = {
        "num_replicas": config.replicas,
        "ray_actor_options": {"num_cpus": config.replica_cpus},
        "max_ongoing_requests": config.max_batch,  # so a batch of one-item requests can fill (Ray's default is 5)
    }
    return RewardService.options(**options).bind(model_path, config.model_dump(), constitution_path)


def serve_on_ray(model_path: str, config: ServerConfig, constitution_path: list[str] | None = None) -> None:
    """Start (or join: ``$RAY_ADDRESS``) a Ray cluster, serve the app at ``config.host:config.port`` (printing
    "listening on http://HOST:PORT" once the replicas run) until SIGINT."""
    import ray

    ray.init()
    serve.start(http_options={"host": config.host, "port": config.port})
    serve.run(application(model_path, config, constitution_path), route_prefix="/")
    announce(config.host, config.port)
    while True:  # until SIGINT (KeyboardInterrupt), as serve.run(blocking=True) waits
        time.sleep(3600)

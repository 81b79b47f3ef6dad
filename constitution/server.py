"""The reward service: FastAPI app with dynamic batching of concurrent requests.

Routes: ``GET /health`` (no key needed), ``POST /score`` ``{"items": [{"prompt", "response"}] | "texts": [...],
"normalize": bool}`` -> ``{"rewards"}``, ``POST /classify`` (same input) -> ``{"results": [{decision, score,
threshold}]}``, and OpenRLHF's remote reward API ``POST /get_reward {"query": [...]}`` -> ``{"rewards"}``.
Requests that arrive together are scored in one length-sorted batch on a worker thread. Binds 127.0.0.1 by default;
with an API key, every route but /health needs ``Authorization: Bearer KEY`` (or ``X-API-Key``). Bodies over
``max_body_bytes`` get 413, more than ``max_items`` items 413, malformed JSON 400, a wrong shape 422.
"""

from __future__ import annotations

import asyncio
import hmac
import math
from collections.abc import Callable, Sequence
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, model_validator

from constitution.data import Message

ScoreFn = Callable[[list[Any]], list[float]]


class ServerConfig(BaseModel):
    """Service limits and batching."""

    model_config = ConfigDict(extra="forbid")

    host: str = "127.0.0.1"
    port: int = 8000
    api_key: str | None = None
    max_body_bytes: int = Field(1 << 20, ge=1024, description="larger request bodies are refused with 413")
    max_items: int = Field(256, ge=1, description="more items in one request are refused with 413")
    max_batch: int = Field(64, ge=1, description="items scored together in one forward pass at most")
    max_wait_ms: float = Field(5.0, ge=0.0, description="how long a batch waits for more requests")
    threshold: float | None = Field(None, description="/classify threshold; default: the model's, else 0.5")


class ScoreItem(BaseModel):
    """A response in its conversation."""

    model_config = ConfigDict(extra="forbid")

    prompt: str | list[Message] = ""
    response: str


class ScoreRequest(BaseModel):
    """Items or plain texts (exactly one of them)."""

    model_config = ConfigDict(extra="forbid")

    items: list[ScoreItem] | None = None
    texts: list[str] | None = None
    normalize: bool = True

    @model_validator(mode="after")
    def _one_input(self) -> ScoreRequest:
        if (self.items is None) == (self.texts is None):
            raise ValueError("give exactly one of `items` or `texts`")
        return self

    def scoring_items(self) -> list[Any]:
        if self.texts is not None:
            return list(self.texts)
        return [(i.prompt if isinstance(i.prompt, list) else ([Message(role="user", content=i.prompt)] if i.prompt else []), i.response) for i in self.items or []]


class RewardQuery(BaseModel):
    """OpenRLHF's remote reward request: full texts (prompt + response); extra keys are accepted and ignored."""

    model_config = ConfigDict(extra="allow")

    query: list[str]


class Batcher:
    """Collects concurrent scoring requests into batches for one worker thread."""

    def __init__(self, score: ScoreFn, max_batch: int, max_wait_ms: float) -> None:
        self.score = score
        self.max_batch = max_batch
        self.max_wait = max_wait_ms / 1000.0
        self.queue: asyncio.Queue[tuple[list[Any], asyncio.Future]] = asyncio.Queue()
        self.task: asyncio.Task | None = None
        self.batches = 0

    async def submit(self, items: list[Any]) -> list[float]:
        future: asyncio.Future = asyncio.get_running_loop().create_future()
        await self.queue.put((items, future))
        return await future

    async def _collect(self) -> list[tuple[list[Any], asyncio.Future]]:
        first = await self.queue.get()
        jobs, size = [first], len(first[0])
        deadline = asyncio.get_running_loop().time() + self.max_wait
        while size < self.max_batch:
            timeout = deadline - asyncio.get_running_loop().time()
            try:
                job = self.queue.get_nowait() if timeout <= 0 else await asyncio.wait_for(self.queue.get(), timeout)
            except (asyncio.TimeoutError, asyncio.QueueEmpty):
                break
            jobs.append(job)
            size += len(job[0])
        return jobs

    async def run(self) -> None:
        while True:
            jobs = await self._collect()
            items = [item for job_items, _ in jobs for item in job_items]
            try:
                rewards = await asyncio.to_thread(self.score, items)
            except Exception as exc:  # noqa: BLE001 - delivered to every waiting request
                for _, future in jobs:
                    if not future.done():
                        future.set_exception(exc)
                continue
            self.batches += 1
            start = 0
            for job_items, future in jobs:
                if not future.done():
                    future.set_result(rewards[start : start + len(job_items)])
                start += len(job_items)

    def start(self) -> None:
        self.task = asyncio.get_running_loop().create_task(self.run())

    async def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()
            try:
                await self.task
            except asyncio.CancelledError:
                pass


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse(status_code=status, content={"error": message})


def create_app(
    score: ScoreFn,
    config: ServerConfig,
    *,
    normalize: Callable[[list[float]], list[float]] = list,
    model_name: str = "",
    default_threshold: float | None = None,
) -> FastAPI:
    """The ASGI app around a scoring function (``items -> raw rewards``) and the model's normalisation."""
    batcher = Batcher(score, config.max_batch, config.max_wait_ms)
    threshold = config.threshold if config.threshold is not None else (default_threshold if default_threshold is not None else 0.5)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        batcher.start()
        yield
        await batcher.stop()

    app = FastAPI(title="constitution reward service", lifespan=lifespan)
    app.state.batcher = batcher

    @app.middleware("http")
    async def guard(request: Request, call_next):
        if request.url.path != "/health" and config.api_key:
            header = request.headers.get("authorization", "")
            given = header[7:] if header.lower().startswith("bearer ") else request.headers.get("x-api-key", "")
            if not hmac.compare_digest(given.encode(), config.api_key.encode()):
                return _error(401, "missing or wrong API key")
        length = request.headers.get("content-length")
        if length is not None and (not length.isdigit() or int(length) > config.max_body_bytes):
            return _error(413, f"request body over {config.max_body_bytes} bytes")
        if request.method == "POST" and length is None:
            body = b""
            async for chunk in request.stream():
                body += chunk
                if len(body) > config.max_body_bytes:
                    return _error(413, f"request body over {config.max_body_bytes} bytes")
            request._body = body  # let the route read the buffered body
        return await call_next(request)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError):
        errors = exc.errors()
        if any(e.get("type") == "json_invalid" for e in errors):
            return _error(400, "malformed JSON")
        return JSONResponse(status_code=422, content={"error": "invalid request", "detail": [{"loc": e["loc"], "msg": e["msg"]} for e in errors]})

    async def _score(items: Sequence[Any]) -> list[float] | JSONResponse:
        if len(items) > config.max_items:
            return _error(413, f"{len(items)} items; at most {config.max_items} per request")
        if not items:
            return []
        return await batcher.submit(list(items))

    @app.get("/health")
    async def health() -> dict[str, Any]:
        return {"status": "ok", "model": model_name, "batches": batcher.batches}

    @app.post("/score")
    async def score_route(req: ScoreRequest):
        rewards = await _score(req.scoring_items())
        if isinstance(rewards, JSONResponse):
            return rewards
        return {"rewards": normalize(rewards) if req.normalize else rewards}

    @app.post("/classify")
    async def classify_route(req: ScoreRequest):
        rewards = await _score(req.scoring_items())
        if isinstance(rewards, JSONResponse):
            return rewards
        results = []
        for r in normalize(rewards):
            unsafe = 1.0 / (1.0 + math.exp(r))
            results.append({"decision": "unsafe" if unsafe >= threshold else "safe", "score": unsafe, "threshold": threshold})
        return {"results": results}

    @app.post("/get_reward")
    async def get_reward(req: RewardQuery):
        rewards = await _score(req.query)
        if isinstance(rewards, JSONResponse):
            return rewards
        return {"rewards": normalize(rewards)}

    return app


def serve(model_path: str, config: ServerConfig) -> None:
    """Load a reward model and serve it with uvicorn until SIGINT/SIGTERM (in-flight requests finish)."""
    import uvicorn

    from constitution.reward.model import RewardModel

    model = RewardModel.load(model_path)

    def score(items: list[Any]) -> list[float]:
        return model.score(items, batch_size=config.max_batch)

    app = create_app(
        score,
        config,
        normalize=model.normalize,
        model_name=str(model_path),
        default_threshold=getattr(model.metadata, "safety_threshold", None),
    )
    uvicorn.run(app, host=config.host, port=config.port, log_level="warning", timeout_graceful_shutdown=10)

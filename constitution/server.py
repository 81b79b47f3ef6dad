"""The reward service: FastAPI app with dynamic batching of concurrent requests.

Routes: ``GET /health`` (no key needed), ``POST /score`` ``{"items": [{"prompt", "response"}] | "texts": [...],
"normalize": bool, "explain": bool}`` -> ``{"rewards"}`` (with ``explain`` and a per-principle model, also
``{"contributions": [{principle: share}]}``, each item's shares summing to its reward; 422 for a scalar model), ``POST /classify`` (same input) -> ``{"results": [{decision, score,
threshold}]}``, and OpenRLHF's remote reward API ``POST /get_reward {"query": [...], "prompts": [...]}`` ->
``{"rewards", "scores", "extra_logs"}``: each query is split into its prompt's turns and the response (see
``openrlhf``) and scored in the reward model's own input format; without ``prompts`` the query is scored as text.
Requests that arrive together are scored in one length-sorted batch on a worker thread; a batch that fails is
re-scored request by request, so one bad request cannot fail the others. At most ``max_queue_items`` items wait
for a batch; beyond that a request gets 503 with ``Retry-After``.

Binds 127.0.0.1 by default. With an API key, every path but /health needs ``Authorization: Bearer KEY`` (or
``X-API-Key``), checked before routing (unknown paths get 401 too), and the interactive docs and OpenAPI schema
are not served. Bodies over ``max_body_bytes`` get 413, more than ``max_items`` items 413, malformed JSON 400, a
wrong shape or type 422; every error body is ``{"error": message}``. A failure while scoring is a 500 that names a
request id and nothing else; the exception and its traceback are logged under that id.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import uuid
from collections.abc import Callable, Sequence
from contextlib import asynccontextmanager
from typing import Any, Literal

from fastapi import FastAPI, Request
from fastapi.exceptions import HTTPException, RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, StrictBool, model_validator
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message as AsgiMessage, Receive, Scope, Send

from constitution.data import Message
from constitution.openrlhf import QueryFormatError, reward_items
from constitution.safety.scorers import resolve_threshold, unsafe_score
from constitution.server_config import ServerConfig

log = logging.getLogger(__name__)

ScoreFn = Callable[[list[Any]], list[Any]]  # items -> one result per item
ExplainFn = Callable[[list[Any], bool], tuple[list[float], list[dict[str, float]]]]  # (items, normalize) -> rewards, shares
Job = tuple[list[Any], asyncio.Future, ScoreFn]
RETRY_AFTER_S = 1


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
    normalize: StrictBool = True
    explain: StrictBool = False

    @model_validator(mode="after")
    def _one_input(self) -> ScoreRequest:
        if (self.items is None) == (self.texts is None):
            raise ValueError("give exactly one of `items` or `texts`")
        return self

    def scoring_items(self) -> list[Any]:
        """Texts as they are; items as (messages, response), an empty prompt meaning no prompt turn."""
        if self.texts is not None:
            return list(self.texts)
        return [(i.prompt if isinstance(i.prompt, list) else ([Message(role="user", content=i.prompt)] if i.prompt else []), i.response) for i in self.items or []]


class RewardQuery(BaseModel):
    """OpenRLHF's remote reward request: ``query`` (templated prompt + response, as the policy's tokenizer decoded
    them) and ``prompts`` (the templated prompts); ``labels`` and other keys are accepted and ignored."""

    model_config = ConfigDict(extra="allow")

    query: list[str]
    prompts: list[str] | None = None


class Rewards(BaseModel):
    """One reward per input, in input order."""

    rewards: list[float]


class ExplainedRewards(Rewards):
    """Rewards with each weighted principle's share of them (per-principle models, ``explain: true``)."""

    contributions: list[dict[str, float]]


class OpenRLHFRewards(Rewards):
    """/get_reward's answer in OpenRLHF's own reward-server shape (versions before 2026 read every key)."""

    scores: list[float]
    extra_logs: dict[str, list[float]] = Field(default_factory=dict)


class Decision(BaseModel):
    """/classify's verdict on one input: the unsafe score ``sigmoid(-normalised reward)`` against the threshold."""

    decision: Literal["safe", "unsafe"]
    score: float
    threshold: float


class Decisions(BaseModel):
    """One decision per input, in input order."""

    results: list[Decision]


class Health(BaseModel):
    """Liveness, the model served, and how many batches it has scored."""

    status: Literal["ok"] = "ok"
    model: str
    batches: int


class QueueFull(Exception):
    """The batcher already holds as many waiting items as it may."""


class ScoringFailed(Exception):
    """Scoring a request raised; the cause is logged, never sent to the client."""


class Batcher:
    """Collects concurrent scoring requests into batches for one worker thread; at most ``max_queue_items`` items
    wait for a batch. Every request goes through it (plain scores and explanations alike): one queue bound, and
    inference only on the worker thread."""

    def __init__(self, score: ScoreFn, max_batch: int, max_wait_ms: float, max_queue_items: int) -> None:
        self.score = score
        self.max_batch = max_batch
        self.max_wait = max_wait_ms / 1000.0
        self.max_queue_items = max_queue_items
        self.queued_items = 0
        self.queue: asyncio.Queue[Job] = asyncio.Queue()
        self.task: asyncio.Task | None = None
        self.batches = 0

    async def submit(self, items: list[Any], score: ScoreFn | None = None) -> list[Any]:
        """One result per item from ``score`` (default: the batcher's), scored together with whatever else arrives
        meanwhile for the same function; QueueFull if they would take the waiting items past ``max_queue_items``."""
        if self.queued_items + len(items) > self.max_queue_items:
            raise QueueFull(f"{self.queued_items} items are waiting (at most {self.max_queue_items})")
        future: asyncio.Future = asyncio.get_running_loop().create_future()
        self.queued_items += len(items)
        self.queue.put_nowait((items, future, score or self.score))
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
        """Score the jobs in one call per scoring function; if a call fails, score its jobs one by one so only the
        failing ones get the error."""
        groups: dict[ScoreFn, list[Job]] = {}
        for job in jobs:
            groups.setdefault(job[2], []).append(job)
        for score, group in groups.items():
            await self._run_group(score, group)

    async def _run_group(self, score: ScoreFn, jobs: list[Job]) -> None:
        items = [item for job_items, _, _ in jobs for item in job_items]
        try:
            rewards = await asyncio.to_thread(score, items)
            if len(rewards) != len(items):
                raise RuntimeError(f"the model returned {len(rewards)} rewards for {len(items)} inputs")
        except Exception as exc:  # noqa: BLE001 - delivered to the waiting request(s)
            if len(jobs) > 1:
                for job in jobs:
                    await self._run_group(score, [job])
                return
            if not jobs[0][1].done():
                jobs[0][1].set_exception(exc)
            return
        self.batches += 1
        start = 0
        for job_items, future, _ in jobs:
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


def _error(status: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(status_code=status, content={"error": message}, headers=headers)


async def _read_body(receive: Receive, limit: int) -> bytes | None:
    """The whole request body, or None as soon as it passes ``limit`` bytes."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":  # the client went away
            break
        chunks.append(message.get("body", b""))
        size += len(chunks[-1])
        if size > limit:
            return None
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def _replay(body: bytes, receive: Receive) -> Receive:
    """A receive channel that yields the buffered body first, then whatever the client sends next."""
    pending: list[AsgiMessage] = [{"type": "http.request", "body": body, "more_body": False}]

    async def replay() -> AsgiMessage:
        return pending.pop() if pending else await receive()

    return replay


class Guard:
    """ASGI middleware in front of everything: the API key on every path but /health, then the body-size bound
    (from Content-Length, or counted while buffering a body sent without one)."""

    def __init__(self, app: ASGIApp, api_key: str | None, max_body_bytes: int) -> None:
        self.app = app
        self.api_key = api_key
        self.max_body_bytes = max_body_bytes
        self.unauthorized = _error(401, "missing or wrong API key")
        self.too_large = _error(413, f"request body over {max_body_bytes} bytes")

    def _authorized(self, headers: Headers) -> bool:
        if not self.api_key:
            return True
        header = headers.get("authorization", "")
        given = header[7:] if header.lower().startswith("bearer ") else headers.get("x-api-key", "")
        return hmac.compare_digest(given.encode(), self.api_key.encode())

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        if scope["path"] != "/health" and not self._authorized(headers):
            await self.unauthorized(scope, receive, send)
            return
        length = headers.get("content-length")
        if length is None:
            body = await _read_body(receive, self.max_body_bytes)
            if body is None:
                await self.too_large(scope, receive, send)
                return
            receive = _replay(body, receive)
        elif not length.isdigit() or int(length) > self.max_body_bytes:
            await self.too_large(scope, receive, send)
            return
        await self.app(scope, receive, send)


def _internal_error(request: Request, exc: BaseException) -> JSONResponse:
    """A 500 that names a request id; the exception and its traceback are logged under that id."""
    request_id = uuid.uuid4().hex
    log.error("request %s (%s %s) failed", request_id, request.method, request.url.path, exc_info=(type(exc), exc, exc.__traceback__))
    return JSONResponse(
        status_code=500,
        content={"error": f"internal error (request id {request_id}; the server log has the details)", "request_id": request_id},
        headers={"X-Request-ID": request_id},
    )


def create_app(
    score: ScoreFn,
    config: ServerConfig,
    *,
    normalize: Callable[[list[float]], list[float]] = list,
    model_name: str = "",
    default_threshold: float | None = None,
    explain: ExplainFn | None = None,
) -> FastAPI:
    """The ASGI app around a scoring function (``items -> raw rewards``) and the model's normalisation; ``explain``
    (per-principle models) answers ``/score`` requests with ``explain: true``. Both go through the one bounded
    batcher."""
    batcher = Batcher(score, config.max_batch, config.max_wait_ms, config.max_queue_items)
    explainers: dict[bool, ScoreFn] = {}
    if explain is not None:
        explainers = {norm: (lambda items, norm=norm: list(zip(*explain(items, norm)))) for norm in (True, False)}
    warned_no_prompts = False
    threshold = resolve_threshold(config.threshold, default_threshold)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        batcher.start()
        yield
        await batcher.stop()

    # With a key, no docs or schema: a browser's Swagger UI could not send the key anyway.
    docs: dict[str, Any] = {"docs_url": None, "redoc_url": None, "openapi_url": None} if config.api_key else {}
    app = FastAPI(title="constitution reward service", lifespan=lifespan, **docs)
    app.state.batcher = batcher
    app.add_middleware(Guard, api_key=config.api_key, max_body_bytes=config.max_body_bytes)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = exc.errors()
        if any(e.get("type") == "json_invalid" for e in errors):
            return _error(400, "malformed JSON")
        return JSONResponse(status_code=422, content={"error": "invalid request", "detail": [{"loc": e["loc"], "msg": e["msg"]} for e in errors]})

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return _error(exc.status_code, str(exc.detail), exc.headers)

    @app.exception_handler(ScoringFailed)
    async def scoring_failed(request: Request, exc: ScoringFailed) -> JSONResponse:
        return _internal_error(request, exc.__cause__ or exc)

    @app.exception_handler(Exception)
    async def failed(request: Request, exc: Exception) -> JSONResponse:
        return _internal_error(request, exc)

    async def _score(items: Sequence[Any], fn: ScoreFn | None = None) -> list[Any]:
        if len(items) > config.max_items:
            raise HTTPException(413, f"{len(items)} items; at most {config.max_items} per request")
        if not items:
            return []
        try:
            return await batcher.submit(list(items), fn)
        except QueueFull as exc:
            raise HTTPException(503, f"server busy: {exc}; retry later", headers={"Retry-After": str(RETRY_AFTER_S)}) from None
        except Exception as exc:
            raise ScoringFailed from exc

    def _reward_items(req: RewardQuery) -> list[Any]:
        nonlocal warned_no_prompts
        if req.prompts is None:
            if not warned_no_prompts:
                warned_no_prompts = True
                log.warning("/get_reward without `prompts`: scoring each query as raw text, in the policy's chat format")
            return list(req.query)
        try:
            return reward_items(req.query, req.prompts)
        except QueryFormatError as exc:
            raise HTTPException(422, str(exc)) from None

    @app.get("/health")
    async def health() -> Health:
        return Health(model=model_name, batches=batcher.batches)

    async def _explain(req: ScoreRequest) -> ExplainedRewards:
        if not explainers:
            raise HTTPException(422, "explain needs a per-principle reward model (`constitution train --heads per_principle`)")
        results = await _score(req.scoring_items(), explainers[req.normalize])
        return ExplainedRewards(rewards=[r for r, _ in results], contributions=[s for _, s in results])

    @app.post("/score", response_model=None)
    async def score_route(req: ScoreRequest) -> Rewards | ExplainedRewards:
        if req.explain:
            return await _explain(req)
        rewards = await _score(req.scoring_items())
        return Rewards(rewards=normalize(rewards) if req.normalize else rewards)

    @app.post("/classify")
    async def classify_route(req: ScoreRequest) -> Decisions:
        unsafe = [unsafe_score(r) for r in normalize(await _score(req.scoring_items()))]
        return Decisions(results=[Decision(decision="unsafe" if u >= threshold else "safe", score=u, threshold=threshold) for u in unsafe])

    @app.post("/get_reward")
    async def get_reward(req: RewardQuery) -> OpenRLHFRewards:
        rewards = normalize(await _score(_reward_items(req)))
        return OpenRLHFRewards(rewards=rewards, scores=rewards)

    return app


def serve(model_path: str, config: ServerConfig, constitution: str | None = None) -> None:
    """Load a reward model (a per-principle one weighted by ``constitution``, a principles folder or file; None: its
    training weights) and serve it with uvicorn until SIGINT/SIGTERM (in-flight requests finish)."""
    import uvicorn

    from constitution.loader import load_constitution
    from constitution.reward.model import RewardModel

    # Our warnings and the id'ed 500s go to stderr with a timestamp (uvicorn configures only its own loggers).
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    model = RewardModel.load(model_path, constitution=load_constitution(constitution) if constitution else None)

    def score(items: list[Any]) -> list[float]:
        return model.score(items, batch_size=config.max_batch)

    app = create_app(
        score,
        config,
        normalize=model.normalize,
        model_name=str(model_path),
        default_threshold=getattr(model.metadata, "safety_threshold", None),
        explain=(lambda items, norm: model.explain(items, batch_size=config.max_batch, normalize=norm)) if model.heads else None,
    )
    uvicorn.run(app, host=config.host, port=config.port, log_level="warning", timeout_graceful_shutdown=10)

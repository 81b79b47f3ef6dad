"""The ASGI app: routes, error handlers, and the batcher's lifetime."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Sequence
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import HTTPException, RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from constitution.openrlhf import QueryFormatError, reward_items
from constitution.safety.scorers import resolve_threshold, unsafe_score
from constitution.serve.auth import Guard, error
from constitution.serve.batcher import Batcher, QueueFull, ScoreFn
from constitution.serve.config import ServerConfig
from constitution.serve.schema import (
    Decision,
    Decisions,
    ExplainedRewards,
    Health,
    OpenRLHFRewards,
    RewardQuery,
    Rewards,
    ScoreRequest,
)

log = logging.getLogger(__name__)

ExplainFn = Callable[[list[Any], bool], tuple[list[float], list[dict[str, float]]]]  # (items, normalize) -> rewards, shares
RETRY_AFTER_S = 1


class ScoringFailed(Exception):
    """Scoring a request raised; the cause is logged, never sent to the client."""


def _internalerror(request: Request, exc: BaseException) -> JSONResponse:
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
            return error(400, "malformed JSON")
        return JSONResponse(status_code=422, content={"error": "invalid request", "detail": [{"loc": e["loc"], "msg": e["msg"]} for e in errors]})

    @app.exception_handler(StarletteHTTPException)
    async def httperror(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return error(exc.status_code, str(exc.detail), exc.headers)

    @app.exception_handler(ScoringFailed)
    async def scoring_failed(request: Request, exc: ScoringFailed) -> JSONResponse:
        return _internalerror(request, exc.__cause__ or exc)

    @app.exception_handler(Exception)
    async def failed(request: Request, exc: Exception) -> JSONResponse:
        return _internalerror(request, exc)

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

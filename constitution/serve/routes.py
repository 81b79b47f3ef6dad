"""The service's routes, one router per concern: scoring (``/score``, ``/classify``, OpenRLHF's ``/get_reward``),
scoring reasoning steps (``/score_steps``, process reward models) and administration (``/health``, ``/reload``). A
new kind of route is a new router built the same way from :class:`Service` and included in :func:`constitution.serve.app.create_app`; its inference goes
through :meth:`Service.score` so that it shares the one bounded queue."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.exceptions import HTTPException
from pydantic import BaseModel

from constitution.errors import InputError
from constitution.openrlhf import QueryFormatError, reward_items
from constitution.safety.scorers import resolve_threshold, unsafe_score
from constitution.serve.batcher import Batcher, QueueFull
from constitution.serve.config import ServerConfig
from constitution.serve.idempotency import HEADER, AnswerCache, KeyReused
from constitution.serve.schema import (
    Decision,
    Decisions,
    ExplainedRewards,
    Health,
    Limits,
    OpenRLHFRewards,
    Reloaded,
    ReloadRequest,
    RewardQuery,
    Rewards,
    ScoreRequest,
    StepScores,
    StepsRequest,
    item_of,
    non_finite,
)
from constitution.serve.served_process import ServedProcessModel, StepItem
from constitution.serve.slot import ModelSlot, ReloadBusy, Served

log = logging.getLogger(__name__)

RETRY_AFTER_S = 1


class ScoringFailed(Exception):
    """Scoring a request raised; the cause is logged, never sent to the client."""


class NonFiniteAnswer(Exception):
    """An answer holds a NaN or an infinity (JSON would carry it as ``null``): a 500 naming where, and which item."""

    def __init__(self, where: str) -> None:
        self.where = where
        item = item_of(where)
        of_item = "" if item is None else f" (item {item} of the request)"
        super().__init__(f"the model gave a non-finite number (NaN or infinity) for `{where}`{of_item}")


def _unhonoured_key(replicas: int) -> str:
    return (
        f"{HEADER} is not honoured by {replicas} Ray Serve replicas: each keeps its own answers, so a retry routed to"
        " another one would be scored again; send requests without it (a retry is then scored again), or serve one replica"
    )


class Service:
    """What the routes share: the limits, the model slot, the one batcher in front of it, and the recent answers
    by idempotency key."""

    def __init__(self, config: ServerConfig, slot: ModelSlot, batcher: Batcher) -> None:
        self.config = config
        self.slot = slot
        self.batcher = batcher
        self.answers = AnswerCache(config.max_cached_answer_bytes)
        self.warned_no_prompts = False
        self.warned_keys: set[str] = set()  # /get_reward's keys beyond OpenRLHF's, each warned of once

    async def once(self, request: Request, body: BaseModel, answer: Callable[[], Awaitable[BaseModel]]) -> Response:
        """``answer()`` as JSON (NonFiniteAnswer if it holds a NaN or an infinity), or the answer already given to
        this request's ``Idempotency-Key`` (422 if the key was used for another request)."""

        async def encoded() -> bytes:
            body = await answer()
            if (where := non_finite(body)) is not None:
                raise NonFiniteAnswer(where)
            return body.model_dump_json().encode()

        key = request.headers.get(HEADER)
        if key is not None and not self.config.idempotent:
            raise HTTPException(422, _unhonoured_key(self.config.replicas))
        try:
            content = await self.answers.once(key, request.url.path, body, encoded)
        except KeyReused as exc:
            raise HTTPException(422, str(exc)) from None
        return Response(content, media_type="application/json")

    async def score(self, items: Sequence[Any]) -> tuple[Served, list[Any]]:
        """The items' raw scores and the one model that scored them: 413 past ``max_items``, 503 + Retry-After
        when the queue is full, ScoringFailed (a 500 with a request id) when scoring raised."""
        if len(items) > self.config.max_items:
            raise HTTPException(413, f"{len(items)} items; at most {self.config.max_items} per request")
        if not items:
            return self.slot.current, []
        try:
            scored = await self.batcher.submit(list(items))
        except QueueFull as exc:
            raise HTTPException(503, f"server busy: {exc}; retry later", headers={"Retry-After": str(RETRY_AFTER_S)}) from None
        except Exception as exc:
            raise ScoringFailed from exc
        return scored[0].by, scored

    def reward_items(self, req: RewardQuery) -> list[Any]:
        """OpenRLHF's queries as (conversation, response) items; without ``prompts``, the raw texts (warned once).
        Keys beyond OpenRLHF's (only accepted beside ``prompts``) are ignored, each warned of once."""
        for key in sorted(set(req.model_extra or ()) - self.warned_keys):
            self.warned_keys.add(key)
            log.warning("/get_reward: ignoring the key `%s` (not one of OpenRLHF's `query`, `prompts`, `labels`)", key)
        if req.prompts is None:
            if isinstance(self.slot.current, ServedProcessModel):
                raise HTTPException(422, "a process reward model scores a response's steps after its prompt: send `prompts` with `query`")
            if not self.warned_no_prompts:
                self.warned_no_prompts = True
                log.warning("/get_reward without `prompts`: scoring each query as raw text, in the policy's chat format")
            return list(req.query)
        try:
            return reward_items(req.query, req.prompts)
        except QueryFormatError as exc:
            raise HTTPException(422, str(exc)) from None


def _no_heads() -> HTTPException:
    return HTTPException(422, "explain needs a per-principle reward model (`constitution train --heads per_principle`)")


def scoring_router(service: Service) -> APIRouter:
    """``/score``, ``/classify`` and ``/get_reward``: every answer names the version that scored it; a request sent
    again with the same ``Idempotency-Key`` gets the first answer and is not scored again."""
    router = APIRouter()

    async def score(req: ScoreRequest) -> Rewards | ExplainedRewards:
        if req.texts is not None and isinstance(service.slot.current, ServedProcessModel):
            raise HTTPException(
                422, "a process reward model scores a response's steps after its prompt: send `items` (prompt and response), or the steps to /score_steps"
            )
        if req.explain and not service.slot.current.heads:
            raise _no_heads()
        by, scored = await service.score(req.scoring_items())
        body = {
            **by.identity.model_dump(),
            "rewards": by.rewards(scored, req.normalize),
            "principles": by.principles(scored, req.normalize),
            "normalization": by.normalization() if req.normalize else None,
        }
        if not req.explain:
            return Rewards(**body)
        if not by.heads:  # a reload swapped in a scalar model meanwhile
            raise _no_heads()
        return ExplainedRewards(**body, contributions=by.contributions(scored, req.normalize))

    async def classify(req: ScoreRequest) -> Decisions:
        if isinstance(service.slot.current, ServedProcessModel):
            raise HTTPException(422, "/classify needs an outcome reward model; a process model's answers come from /score_steps")
        by, scored = await service.score(req.scoring_items())
        threshold = resolve_threshold(service.config.threshold, by.default_threshold)
        unsafe = [unsafe_score(r) for r in by.rewards(scored, True)]
        results = [Decision(decision="unsafe" if u >= threshold else "safe", score=u, threshold=threshold) for u in unsafe]
        return Decisions(**by.identity.model_dump(), results=results)

    async def get_reward(req: RewardQuery) -> OpenRLHFRewards:
        by, scored = await service.score(service.reward_items(req))
        rewards = by.rewards(scored, True)
        return OpenRLHFRewards(
            **by.identity.model_dump(),
            rewards=rewards,
            scores=rewards,
            extra_logs=by.principles(scored, True),
            normalization=by.normalization(),
        )

    @router.post("/score", response_model=Rewards | ExplainedRewards)
    async def score_route(req: ScoreRequest, request: Request) -> Response:
        return await service.once(request, req, lambda: score(req))

    @router.post("/classify", response_model=Decisions)
    async def classify_route(req: ScoreRequest, request: Request) -> Response:
        return await service.once(request, req, lambda: classify(req))

    @router.post("/get_reward", response_model=OpenRLHFRewards)
    async def get_reward_route(req: RewardQuery, request: Request) -> Response:
        return await service.once(request, req, lambda: get_reward(req))

    return router


def steps_router(service: Service) -> APIRouter:
    """``/score_steps``: each step's score, each trace's aggregate and first error, from a process reward model (the
    service's model kind never changes: /reload swaps in process models only); 422 for an outcome model."""
    router = APIRouter()

    async def score_steps(req: StepsRequest) -> StepScores:
        served = service.slot.current
        if not isinstance(served, ServedProcessModel):
            raise HTTPException(422, "/score_steps needs a process reward model (`constitution train --kind process`)")
        if req.traces is not None:
            items: list[Any] = [StepItem(p, tuple(t)) for p, t in zip(req.prompts, req.traces)]
        else:
            items = [(p, c) for p, c in zip(req.prompts, req.completions or [])]
        by, scored = await service.score(items)
        prm = by.model
        return StepScores(
            **by.identity.model_dump(),
            step_scores=[s.steps for s in scored],
            truncated_steps=[s.truncated_steps for s in scored],
            scores=by.aggregates(scored, req.aggregate),
            first_error=[prm.first_error(s.steps) for s in scored],
            aggregate=req.aggregate or prm.aggregate_by,
            threshold=prm.metadata.threshold,
        )

    @router.post("/score_steps", response_model=StepScores)
    async def score_steps_route(req: StepsRequest, request: Request) -> Response:
        return await service.once(request, req, lambda: score_steps(req))

    return router


def admin_router(service: Service) -> APIRouter:
    """``/health`` (no key needed; it names no folder) and ``/reload`` (the admin key; a reload sent again with the
    same ``Idempotency-Key`` gets the first one's answer and loads nothing)."""
    router = APIRouter()

    @router.get("/health")
    async def health() -> Health:
        import torch

        batcher = service.batcher
        return Health(
            **service.slot.current.identity.model_dump(include=set(Health.model_fields)),
            batches=batcher.batches,
            items_scored=batcher.items_scored,
            queued_items=batcher.queued_items,
            refused=batcher.refused,
            limits=Limits(max_items=service.config.max_items, max_body_bytes=service.config.max_body_bytes),
            idempotency=service.config.idempotent,
            threads=torch.get_num_threads(),
        )

    async def reload(req: ReloadRequest) -> Reloaded:
        try:
            return await service.slot.reload(req)
        except ReloadBusy as exc:
            raise HTTPException(409, str(exc)) from None
        except (InputError, OSError) as exc:
            raise HTTPException(422, f"cannot reload: {exc}; still serving version {service.slot.current.identity.version}") from None

    @router.post("/reload", response_model=Reloaded)
    async def reload_route(req: ReloadRequest, request: Request) -> Response:
        return await service.once(request, req, lambda: reload(req))  # a retried reload is answered, not redone

    return router

"""Clients of the reward service (``constitution serve``): :class:`RewardClient` (sync) and :class:`AsyncRewardClient`.

Both keep a pool of connections (httpx), time requests out, and retry what is safe to retry: a 503 (the server shed
load; its ``Retry-After`` is honoured up to ``max_backoff_s``), a 502/504, and connection errors and timeouts, with
exponential backoff and jitter. Every logical request carries one ``Idempotency-Key`` for all its attempts, so a
retry of a request the server already scored (or is still scoring) gets that answer and is not scored twice.
Failures raise :class:`ServiceError` subclasses that name the route, the status and the server's message.

    with RewardClient("http://127.0.0.1:8000", api_key=KEY) as client:
        answer = client.score([("How do I boil an egg?", "Eight minutes in boiling water.")])
        answer.rewards, answer.principles, answer.version
"""

from __future__ import annotations

import asyncio
import itertools
import random
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import httpx
from pydantic import BaseModel, ConfigDict, Field

from constitution.data import Message
from constitution.serve.idempotency import HEADER
from constitution.serve.schema import Decisions, ExplainedRewards, Health, OpenRLHFRewards, Reloaded, Rewards

RETRIED_STATUSES = frozenset({502, 503, 504})
Item = str | tuple[str | Sequence[Message | dict], str]


class ClientConfig(BaseModel):
    """Where the service is and how hard to try."""

    model_config = ConfigDict(extra="forbid")

    base_url: str = Field("http://127.0.0.1:8000", description="the service's address")
    api_key: str | None = Field(None, description="sent as Authorization: Bearer KEY")
    timeout_s: float = Field(60.0, gt=0, description="per attempt: longest wait for a response")
    connect_timeout_s: float = Field(5.0, gt=0, description="per attempt: longest wait to connect")
    max_retries: int = Field(8, ge=0, description="retries after the first attempt (503, 502, 504, connection errors)")
    backoff_s: float = Field(0.2, gt=0, description="first retry delay; doubles per retry, with jitter")
    max_backoff_s: float = Field(10.0, gt=0, description="longest delay between attempts (also caps Retry-After)")
    max_connections: int = Field(64, ge=1, description="connections kept in the pool")


class ServiceError(Exception):
    """The service answered with an error, or could not be reached."""

    def __init__(self, message: str, *, status: int | None = None, request_id: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.request_id = request_id


class AuthError(ServiceError):
    """401: no API key, or a wrong one."""


class RequestRejected(ServiceError):
    """4xx: the request is wrong (bad shape, too large, an idempotency key reused); retrying will not help."""


class ServiceUnavailable(ServiceError):
    """Still busy or unreachable after every retry."""


def _item(item: Item) -> dict[str, Any]:
    prompt, response = item
    if not isinstance(prompt, str):
        prompt = [m.model_dump() if isinstance(m, Message) else dict(m) for m in prompt]
    return {"prompt": prompt, "response": response}


def score_body(items: Sequence[Item], normalize: bool = True, explain: bool = False) -> dict[str, Any]:
    """The ``/score`` and ``/classify`` body: plain texts, or (prompt, response) pairs (a prompt is a string or a list
    of chat messages)."""
    if all(isinstance(i, str) for i in items):
        return {"texts": list(items), "normalize": normalize, "explain": explain}
    return {"items": [_item(i) for i in items], "normalize": normalize, "explain": explain}


@dataclass(frozen=True)
class Call:
    """One logical request: where it goes, its body, and the model its answer is read as."""

    path: str
    body: dict[str, Any]
    answer: type[BaseModel]


def score_call(items: Sequence[Item], normalize: bool = True, explain: bool = False) -> Call:
    """``/score``: rewards (and per-principle rewards; contributions with ``explain``)."""
    return Call("/score", score_body(items, normalize, explain), ExplainedRewards if explain else Rewards)


def classify_call(items: Sequence[Item]) -> Call:
    """``/classify``: safe/unsafe decisions."""
    return Call("/classify", score_body(items), Decisions)


def get_reward_call(query: Sequence[str], prompts: Sequence[str] | None = None) -> Call:
    """OpenRLHF's ``/get_reward``: templated prompt + response queries, and their templated prompts."""
    return Call("/get_reward", {"query": list(query)} | ({"prompts": list(prompts)} if prompts is not None else {}), OpenRLHFRewards)


def reload_call(model: str | None = None, constitution: str | None = None, training_weights: bool = False) -> Call:
    """``/reload``: swap in a model folder and/or a re-read constitution."""
    return Call("/reload", {"model": model, "constitution": constitution, "training_weights": training_weights}, Reloaded)


class _Policy:
    """What the two clients share: headers, when to retry, how long to wait, and how to read an answer."""

    def __init__(self, config: ClientConfig) -> None:
        self.config = config
        self.attempts = 0
        self.retries = 0

    def headers(self, key: str) -> dict[str, str]:
        auth = {"Authorization": f"Bearer {self.config.api_key}"} if self.config.api_key else {}
        return {**auth, HEADER: key}

    def client_args(self) -> dict[str, Any]:
        c = self.config
        return {
            "base_url": c.base_url,
            "timeout": httpx.Timeout(c.timeout_s, connect=c.connect_timeout_s),
            "limits": httpx.Limits(max_connections=c.max_connections, max_keepalive_connections=c.max_connections),
        }

    def _delay(self, retry: int, response: httpx.Response | None) -> float | None:
        """Seconds to wait before retry number ``retry`` (from 0), or None when no retry is left."""
        if retry >= self.config.max_retries:
            return None
        wait = min(self.config.max_backoff_s, self.config.backoff_s * 2**retry) * random.uniform(0.5, 1.0)
        after = response.headers.get("Retry-After", "") if response is not None else ""
        if after.replace(".", "", 1).isdigit():
            wait = max(wait, min(float(after), self.config.max_backoff_s))
        self.retries += 1
        return wait

    def outcome(self, call: Call, key: str, retry: int, response: httpx.Response | None, error: Exception | None) -> tuple[float | None, Any]:
        """After an attempt: (seconds to wait, None) to retry, or (None, the answer); raises the ServiceError that
        ends the call."""
        self.attempts += 1
        if response is None:
            wait = self._delay(retry, None)
            if wait is None:
                raise ServiceUnavailable(f"POST {call.path}: {type(error).__name__}: {error}", request_id=key) from error
            return wait, None
        if response.status_code in RETRIED_STATUSES and (wait := self._delay(retry, response)) is not None:
            return wait, None
        return None, self._read(call, key, response)

    def _read(self, call: Call, key: str, response: httpx.Response) -> Any:
        if response.status_code == 200:
            return call.answer.model_validate(response.json())
        try:
            message = response.json().get("error", response.text)
        except ValueError:
            message = response.text
        text = f"POST {call.path}: {response.status_code} {message}"
        server_id = response.headers.get("X-Request-ID")
        if response.status_code == 401:
            raise AuthError(text, status=401, request_id=key)
        if response.status_code in RETRIED_STATUSES:
            raise ServiceUnavailable(f"{text} (gave up after {self.config.max_retries} retries)", status=response.status_code, request_id=key)
        if 400 <= response.status_code < 500:
            raise RequestRejected(text, status=response.status_code, request_id=key)
        raise ServiceError(text + (f" (server request id {server_id})" if server_id else ""), status=response.status_code, request_id=key)


def _policy(base_url: str | None, api_key: str | None, config: ClientConfig | None) -> _Policy:
    updates = {k: v for k, v in {"base_url": base_url, "api_key": api_key}.items() if v is not None}
    return _Policy((config or ClientConfig()).model_copy(update=updates))


class RewardClient:
    """Synchronous client (thread-safe: httpx's pool is shared). ``call`` sends any :class:`Call`; ``score``,
    ``classify``, ``get_reward`` and ``reload`` build theirs from :func:`score_call` etc."""

    def __init__(self, base_url: str | None = None, *, api_key: str | None = None, config: ClientConfig | None = None) -> None:
        self.policy = _policy(base_url, api_key, config)
        self.http = httpx.Client(**self.policy.client_args())

    def call(self, call: Call, request_id: str | None = None) -> Any:
        """Send ``call`` until it is answered or retries run out, all attempts under one idempotency key."""
        key = request_id or uuid.uuid4().hex
        for retry in itertools.count():
            try:
                response, error = self.http.post(call.path, json=call.body, headers=self.policy.headers(key)), None
            except httpx.TransportError as exc:
                response, error = None, exc
            wait, answer = self.policy.outcome(call, key, retry, response, error)
            if wait is None:
                return answer
            time.sleep(wait)

    def score(self, items: Sequence[Item], *, normalize: bool = True, explain: bool = False, request_id: str | None = None) -> Rewards:
        return self.call(score_call(items, normalize, explain), request_id)

    def classify(self, items: Sequence[Item], *, request_id: str | None = None) -> Decisions:
        return self.call(classify_call(items), request_id)

    def get_reward(self, query: Sequence[str], prompts: Sequence[str] | None = None, *, request_id: str | None = None) -> OpenRLHFRewards:
        return self.call(get_reward_call(query, prompts), request_id)

    def reload(self, model: str | None = None, constitution: str | None = None, training_weights: bool = False) -> Reloaded:
        return self.call(reload_call(model, constitution, training_weights))

    def health(self) -> Health:
        return Health.model_validate(self.http.get("/health").json())

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> RewardClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class AsyncRewardClient:
    """Asynchronous client: the same calls as :class:`RewardClient`, awaited."""

    def __init__(self, base_url: str | None = None, *, api_key: str | None = None, config: ClientConfig | None = None) -> None:
        self.policy = _policy(base_url, api_key, config)
        self.http = httpx.AsyncClient(**self.policy.client_args())

    async def call(self, call: Call, request_id: str | None = None) -> Any:
        """Send ``call`` until it is answered or retries run out, all attempts under one idempotency key."""
        key = request_id or uuid.uuid4().hex
        for retry in itertools.count():
            try:
                response, error = await self.http.post(call.path, json=call.body, headers=self.policy.headers(key)), None
            except httpx.TransportError as exc:
                response, error = None, exc
            wait, answer = self.policy.outcome(call, key, retry, response, error)
            if wait is None:
                return answer
            await asyncio.sleep(wait)

    async def score(self, items: Sequence[Item], *, normalize: bool = True, explain: bool = False, request_id: str | None = None) -> Rewards:
        return await self.call(score_call(items, normalize, explain), request_id)

    async def classify(self, items: Sequence[Item], *, request_id: str | None = None) -> Decisions:
        return await self.call(classify_call(items), request_id)

    async def get_reward(self, query: Sequence[str], prompts: Sequence[str] | None = None, *, request_id: str | None = None) -> OpenRLHFRewards:
        return await self.call(get_reward_call(query, prompts), request_id)

    async def reload(self, model: str | None = None, constitution: str | None = None, training_weights: bool = False) -> Reloaded:
        return await self.call(reload_call(model, constitution, training_weights))

    async def health(self) -> Health:
        return Health.model_validate((await self.http.get("/health")).json())

    async def aclose(self) -> None:
        await self.http.aclose()

    async def __aenter__(self) -> AsyncRewardClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

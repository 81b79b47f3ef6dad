"""Clients of the reward service (``constitution serve``): :class:`RewardClient` (sync) and :class:`AsyncRewardClient`.

Both keep a pool of connections (httpx), time requests out, and retry what is safe to retry: a 503 (the server shed
load; its ``Retry-After`` is honoured up to ``max_backoff_s``), a 502/504, and connection errors and timeouts, with
exponential backoff and jitter. Every logical request carries one ``Idempotency-Key`` for all its attempts, so a
retry of a request the server already scored (or is still scoring) gets that answer and is not scored twice.
A request longer than the server takes (``max_items`` items, ``max_body_bytes`` bytes: learned from ``/health``, and
halved again on a 413) is sent in parts, each under its own key, and their answers are joined into one answer, all
from one model version (parts answered by different versions, across a reload, are scored again). A server that
cannot honour the key (several Ray Serve replicas, as its ``/health`` says) gets none: a retry is scored again there.
Failures raise :class:`ServiceError` subclasses that name the route, the status and the server's message; an answer
with a ``null``, a NaN or an infinity for a number raises :class:`BadAnswer`, and so does a server's 500 saying its
model gave a NaN or an infinity (``error_kind: non_finite``); neither is retried.

    with RewardClient("http://127.0.0.1:8000", api_key=KEY) as client:
        answer = client.score([("How do I boil an egg?", "Eight minutes in boiling water.")])
        answer.rewards, answer.principles, answer.version
"""

from __future__ import annotations

import asyncio
import itertools
import json
import random
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from typing import Any

import httpx
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from constitution.data import Message
from constitution.serve.idempotency import HEADER
from constitution.serve.schema import ITEM_INDEX, NON_FINITE, Decisions, ExplainedRewards, Health, Limits, OpenRLHFRewards, Reloaded, Rewards, ServedBy, item_of, non_finite

RETRIED_STATUSES = frozenset({502, 503, 504})
MODEL_CHANGES = 2  # a call sent in parts is scored again at most this often when a reload lands between its parts
Item = str | tuple[str | Sequence[Message | dict], str]


class ClientConfig(BaseModel):
    """Where the service is and how hard to try."""

    model_config = ConfigDict(extra="forbid")

    base_url: str = Field("http://127.0.0.1:8000", description="the service's address")
    api_key: str | None = Field(None, description="sent as Authorization: Bearer KEY")
    admin_key: str | None = Field(None, description="sent instead of the API key on /reload")
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


class BadAnswer(ServiceError):
    """An answer that cannot be used: a 200 not of the route's shape (a ``null`` for a number), with a NaN or
    infinity, or not one entry per item sent; or a 500 saying the model gave a NaN or infinity (``status`` 500)."""


def _item(index: int, item: Item) -> dict[str, Any]:
    if isinstance(item, (str, bytes)) or not hasattr(item, "__len__") or len(item) != 2:  # a tuple, list or numpy row
        raise ValueError(
            f"item {index} is {type(item).__name__} {str(item)[:60]!r}: items are all plain texts, or all (prompt, response) pairs"
        )
    prompt, response = item
    if not isinstance(prompt, str):
        prompt = [m.model_dump() if isinstance(m, Message) else dict(m) for m in prompt]
    return {"prompt": prompt, "response": response}


def score_body(items: Sequence[Item], normalize: bool = True, explain: bool = False) -> dict[str, Any]:
    """The ``/score`` and ``/classify`` body: plain texts, or (prompt, response) pairs (a prompt is a string or a list
    of chat messages)."""
    if all(isinstance(i, str) for i in items):
        return {"texts": list(items), "normalize": normalize, "explain": explain}
    return {"items": [_item(k, i) for k, i in enumerate(items)], "normalize": normalize, "explain": explain}


def _encode(value: Any) -> bytes:
    """JSON as the clients send it (so that a part's size is known before it is sent)."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode()


@dataclass(frozen=True)
class Call:
    """One logical request: where it goes, its body, the model its answer is read as, and the body's lists that hold
    one entry per item (``per_item``: a long call is sent in parts along them; ``start``: where a part's items begin
    in the whole call, so that errors name an item by its place in the call)."""

    path: str
    body: dict[str, Any]
    answer: type[BaseModel]
    per_item: tuple[str, ...] = ()
    admin: bool = False  # sent with the admin key
    start: int = 0

    @property
    def size(self) -> int:
        """Its number of items."""
        return len(self.body[self.per_item[0]]) if self.per_item else 1

    def part(self, start: int, stop: int) -> Call:
        """The same call for items ``start:stop``."""
        return replace(self, body={**self.body, **{k: self.body[k][start:stop] for k in self.per_item}}, start=self.start + start)

    def field(self, where: str) -> str:
        """A field of this call's answer named as in the whole call, with its item: ``rewards[2]`` in the part from
        item 4 is "`rewards[6]` (item 6 of the call)"."""
        shifted = ITEM_INDEX.sub(lambda found: f"[{int(found.group(1)) + self.start}]", where, count=1)
        item = item_of(shifted)
        return f"`{shifted}`" + ("" if item is None else f" (item {item} of the call)")

    @property
    def items_sent(self) -> str:
        """Says "the 4 items sent", and where they are in the whole call when it was sent in parts."""
        place = f" (items {self.start} to {self.start + self.size - 1} of the call)" if self.start else ""
        return f"the {self.size} items sent{place}"


def spans(call: Call, limits: Limits | None) -> list[tuple[int, int]]:
    """Item ranges whose requests fit ``limits`` (at most ``max_items`` items and ``max_body_bytes`` bytes each; an
    item too large alone is a range of its own); one range when the limits are unknown."""
    if limits is None or not call.per_item:
        return [(0, call.size)]
    base = len(_encode(call.part(0, 0).body))
    found, start, size = [], 0, base
    for i in range(call.size):
        item = sum(len(_encode(call.body[k][i])) + 1 for k in call.per_item)  # + its comma
        if i > start and (i - start >= limits.max_items or size + item > limits.max_body_bytes):
            found.append((start, i))
            start, size = i, base
        size += item
    return [*found, (start, call.size)]


def _per_item(answer: BaseModel) -> Iterator[tuple[str, str | None, list]]:
    """An answer's per-item lists as (field, key, list): its list fields (key None) and the lists of a dict of lists
    (e.g. one per principle)."""
    for name, value in answer:
        if isinstance(value, list):
            yield name, None, value
        elif isinstance(value, dict) and all(isinstance(v, list) for v in value.values()):
            yield from ((name, k, v) for k, v in value.items())


def join(answers: Sequence[BaseModel]) -> BaseModel:
    """One answer from the answers to a call's parts, in item order: their per-item lists joined, the rest
    (version, model, normalization) the first part's."""
    first = answers[0]
    joined: dict[str, Any] = {name: {} for name, key, _ in _per_item(first) if key is not None}
    for name, key, _ in _per_item(first):
        values = [x for a in answers for x in (getattr(a, name) if key is None else getattr(a, name)[key])]
        if key is None:
            joined[name] = values
        else:
            joined[name][key] = values
    return first.model_copy(update=joined)


def _one_version(answers: Sequence[BaseModel]) -> bool:
    """Whether every part was answered by the same served model (version, folder and constitution)."""
    return len({a.model_dump_json(include=set(ServedBy.model_fields)) for a in answers if isinstance(a, ServedBy)}) <= 1


def _inputs(body: dict[str, Any]) -> tuple[str, ...]:
    return ("texts",) if "texts" in body else ("items",)


def score_call(items: Sequence[Item], normalize: bool = True, explain: bool = False) -> Call:
    """``/score``: rewards (and per-principle rewards; contributions with ``explain``)."""
    body = score_body(items, normalize, explain)
    return Call("/score", body, ExplainedRewards if explain else Rewards, per_item=_inputs(body))


def classify_call(items: Sequence[Item]) -> Call:
    """``/classify``: safe/unsafe decisions."""
    body = score_body(items)
    return Call("/classify", body, Decisions, per_item=_inputs(body))


def get_reward_call(query: Sequence[str], prompts: Sequence[str] | None = None) -> Call:
    """OpenRLHF's ``/get_reward``: templated prompt + response queries, and their templated prompts (one per query:
    refused here as the server refuses it, since a call sent in parts is sliced along both)."""
    if prompts is not None and len(prompts) != len(query):
        raise RequestRejected(f"POST /get_reward: {len(query)} queries but {len(prompts)} prompts")
    body = {"query": list(query)} | ({"prompts": list(prompts)} if prompts is not None else {})
    return Call("/get_reward", body, OpenRLHFRewards, per_item=tuple(body))


def reload_call(model: str | None = None, constitution: str | None = None, training_weights: bool = False) -> Call:
    """``/reload``: swap in a model folder and/or a re-read constitution."""
    return Call("/reload", {"model": model, "constitution": constitution, "training_weights": training_weights}, Reloaded, admin=True)


class _Policy:
    """What the two clients share: headers, when to retry, how long to wait, and how to read an answer."""

    def __init__(self, config: ClientConfig) -> None:
        self.config = config
        self.attempts = 0
        self.retries = 0
        self.limits: Limits | None = None  # the server's, once /health has told them
        self.idempotent = True  # whether the server honours Idempotency-Key (not several Ray Serve replicas)

    def learn(self, health: Health) -> None:
        """The server's terms, from its /health."""
        self.limits, self.idempotent = health.limits, health.idempotency

    def rounds(self, call: Call, key: str) -> Iterator[list[tuple[Call, str]]]:
        """The parts of ``call`` that fit the server's limits, each with its idempotency key (one part: ``key``
        itself), once per try; the next try (fresh keys) when the parts were answered by different model versions."""
        ranges = spans(call, self.limits)
        for attempt in range(MODEL_CHANGES + 1):
            tried = f"{key}~{attempt}" if attempt else key
            yield [(call, tried)] if len(ranges) == 1 else [(call.part(a, b), f"{tried}/{a}") for a, b in ranges]
        tries = MODEL_CHANGES + 1
        raise ServiceUnavailable(f"POST {call.path}: the served model changed while its {len(ranges)} parts were scored, {tries} times", request_id=key)

    @staticmethod
    def halves(call: Call, key: str, rejected: RequestRejected) -> list[tuple[Call, str]]:
        """A call the server refused as too large (413), in two halves with their keys; other refusals re-raised."""
        if rejected.status != 413 or call.size < 2:
            raise rejected
        mid = call.size // 2
        return [(call.part(0, mid), f"{key}/0"), (call.part(mid, call.size), f"{key}/{mid}")]

    def headers(self, key: str, admin: bool = False) -> dict[str, str]:
        secret = self.config.admin_key if admin else self.config.api_key
        auth = {"Authorization": f"Bearer {secret}"} if secret else {}
        return {**auth, **({HEADER: key} if self.idempotent else {}), "Content-Type": "application/json"}

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

    @staticmethod
    def _answer(call: Call, key: str, response: httpx.Response) -> Any:
        """A 200's answer, read as ``call.answer``; BadAnswer naming the field that is malformed, not finite, or
        not one entry per item sent (a server answering fewer or more would shift every later item's reward)."""
        try:
            answer = call.answer.model_validate(response.json())
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(part) for part in first["loc"])
            raise BadAnswer(f"POST {call.path}: a malformed answer: `{where}`: {first['msg']} (got {first['input']!r})", status=200, request_id=key) from None
        except ValueError as exc:
            raise BadAnswer(f"POST {call.path}: an answer that is not JSON: {exc}", status=200, request_id=key) from None
        if (where := non_finite(answer)) is not None:
            raise BadAnswer(f"POST {call.path}: the answer's {call.field(where)} is not a finite number", status=200, request_id=key)
        for name, k, values in _per_item(answer) if call.per_item else ():
            if len(values) != call.size:
                where = name if k is None else f"{name}.{k}"
                raise BadAnswer(f"POST {call.path}: the answer has {len(values)} `{where}` for {call.items_sent}", status=200, request_id=key)
        return answer

    def _read(self, call: Call, key: str, response: httpx.Response) -> Any:
        if response.status_code == 200:
            return self._answer(call, key, response)
        try:
            error = response.json()
        except ValueError:
            error = None
        error = error if isinstance(error, dict) else {}
        text = f"POST {call.path}: {response.status_code} {error.get('error', response.text)}"
        server_id = response.headers.get("X-Request-ID")
        if error.get("error_kind") == NON_FINITE:  # the model's NaN or infinity: scoring again gives it again
            if isinstance(where := error.get("field"), str):  # named by its place in the whole call, not in this part
                text = f"POST {call.path}: {response.status_code} the model gave a non-finite number (NaN or infinity) for {call.field(where)}"
            raise BadAnswer(text + (f" (server request id {server_id})" if server_id else ""), status=response.status_code, request_id=key)
        if response.status_code == 401:
            raise AuthError(text, status=401, request_id=key)
        if response.status_code in RETRIED_STATUSES:
            raise ServiceUnavailable(f"{text} (gave up after {self.config.max_retries} retries)", status=response.status_code, request_id=key)
        if 400 <= response.status_code < 500:
            raise RequestRejected(text, status=response.status_code, request_id=key)
        raise ServiceError(text + (f" (server request id {server_id})" if server_id else ""), status=response.status_code, request_id=key)


def _policy(base_url: str | None, api_key: str | None, admin_key: str | None, config: ClientConfig | None) -> _Policy:
    updates = {k: v for k, v in {"base_url": base_url, "api_key": api_key, "admin_key": admin_key}.items() if v is not None}
    return _Policy((config or ClientConfig()).model_copy(update=updates))


class RewardClient:
    """Synchronous client (thread-safe: httpx's pool is shared). ``call`` sends any :class:`Call`; ``score``,
    ``classify``, ``get_reward`` and ``reload`` build theirs from :func:`score_call` etc."""

    def __init__(
        self, base_url: str | None = None, *, api_key: str | None = None, admin_key: str | None = None, config: ClientConfig | None = None
    ) -> None:
        self.policy = _policy(base_url, api_key, admin_key, config)
        self.http = httpx.Client(**self.policy.client_args())

    def call(self, call: Call, request_id: str | None = None) -> Any:
        """``call``'s answer: sent in parts that fit the server's limits (see the module), each part until it is
        answered or retries run out, all attempts of a part under one idempotency key."""
        if self.policy.limits is None:
            self._learn_terms()
        for parts in self.policy.rounds(call, request_id or uuid.uuid4().hex):
            answers = [answer for part, key in parts for answer in self._send_split(part, key)]
            if _one_version(answers):
                return join(answers)

    def _learn_terms(self) -> None:
        try:
            self.policy.learn(self.health())
        except (httpx.HTTPError, ValueError):
            pass  # unknown for now: a part too large is halved on its 413

    def _send_split(self, call: Call, key: str) -> list[Any]:
        try:
            return [self._send(call, key)]
        except RequestRejected as rejected:
            return [answer for part, k in self.policy.halves(call, key, rejected) for answer in self._send_split(part, k)]

    def _send(self, call: Call, key: str) -> Any:
        content = _encode(call.body)
        for retry in itertools.count():
            try:
                response, error = self.http.post(call.path, content=content, headers=self.policy.headers(key, call.admin)), None
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

    def __init__(
        self, base_url: str | None = None, *, api_key: str | None = None, admin_key: str | None = None, config: ClientConfig | None = None
    ) -> None:
        self.policy = _policy(base_url, api_key, admin_key, config)
        self.http = httpx.AsyncClient(**self.policy.client_args())

    async def call(self, call: Call, request_id: str | None = None) -> Any:
        """``call``'s answer: sent in parts that fit the server's limits (see the module), the parts at once, each
        until it is answered or retries run out, all attempts of a part under one idempotency key."""
        if self.policy.limits is None:
            await self._learn_terms()
        for parts in self.policy.rounds(call, request_id or uuid.uuid4().hex):
            answers = [answer for found in await asyncio.gather(*(self._send_split(p, k) for p, k in parts)) for answer in found]
            if _one_version(answers):
                return join(answers)

    async def _learn_terms(self) -> None:
        try:
            self.policy.learn(await self.health())
        except (httpx.HTTPError, ValueError):
            pass  # unknown for now: a part too large is halved on its 413

    async def _send_split(self, call: Call, key: str) -> list[Any]:
        try:
            return [await self._send(call, key)]
        except RequestRejected as rejected:
            halves = self.policy.halves(call, key, rejected)
            return [answer for found in await asyncio.gather(*(self._send_split(p, k) for p, k in halves)) for answer in found]

    async def _send(self, call: Call, key: str) -> Any:
        content = _encode(call.body)
        for retry in itertools.count():
            try:
                response, error = await self.http.post(call.path, content=content, headers=self.policy.headers(key, call.admin)), None
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

"""Client for one or more ``vllm serve`` endpoints (OpenAI ``/v1/completions``), for scale-out labeling.

* prompts are sent as token ids (tokenized locally with the judge's tokenizer, no special tokens added), so the
  server sees exactly what the in-process backends see;
* option scoring asks for ``logprobs=len(ids)`` + ``logprob_token_ids=ids`` + ``return_tokens_as_token_ids``
  and reads ``top_logprobs[0]["token_id:<id>"]``;
* one connection pool and one event loop (on a thread of its own) per backend; ``max_concurrency`` requests in
  flight over all endpoints, round-robin; an endpoint that fails is skipped for ``endpoint_cooldown_s`` while
  others are healthy, so one dead server does not stop the run;
* :meth:`OpenAIBackend.score_options` streams: it keeps the window full from its input and yields each answer
  as it arrives;
* timeouts, connection errors, 429/5xx, malformed JSON and responses without every option's logprob are retried
  with exponential backoff, each retry on the next endpoint; 4xx (bad request, bad key) fail at once;
* when the retries are exhausted the request's result carries the error (``option_logprobs`` and ``generate``
  raise :class:`FeedbackError` naming the prompt index and the endpoints tried; ``generate`` waits for the other
  prompts and raises :class:`GenerationFailed` with their completions). No value is ever made up.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import math
import queue
import random
import threading
import time
from collections.abc import Callable, Coroutine, Iterable, Iterator
from typing import TYPE_CHECKING, Any, TypeVar

import httpx

from constitution.errors import InputError
from constitution.llm.base import (
    FeedbackError,
    GenerationFailed,
    OptionRequest,
    OptionResult,
    check_prompt_lengths,
    encode_prompts,
    replicate,
    sample_count,
)
from constitution.llm.config import OpenAIConfig
from constitution.llm.options import OptionScoring
from constitution.model_identity import model_identity
from constitution.embedded_models import display_name, resolve_model

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerBase

T = TypeVar("T")
MAX_BACKOFF_S = 8.0


class RetryableError(Exception):
    """One attempt failed in a way worth retrying (possibly on another endpoint)."""


class RejectedError(Exception):
    """The server refused the request itself (4xx): retrying would not help."""


def completions_url(base_url: str) -> str:
    """``http://host:port``, ``…/v1`` or ``…/v1/completions`` -> the completions URL."""
    url = base_url.rstrip("/")
    if url.endswith("/completions"):
        return url
    if not url.endswith("/v1"):
        url += "/v1"
    return url + "/completions"


class EndpointPool:
    """Round-robin over endpoints, skipping recently failed ones while a healthy one exists."""

    def __init__(self, base_urls: list[str], cooldown_s: float) -> None:
        if not base_urls:
            raise InputError("the openai backend needs at least one --base-url (a `vllm serve` endpoint)")
        self.urls = [completions_url(u) for u in base_urls]
        self.cooldown_s = cooldown_s
        self._down_until = [0.0] * len(self.urls)
        self._next = 0
        self._lock = threading.Lock()

    def pick(self, avoid: str | None = None) -> str:
        """The next endpoint that is up (and not ``avoid`` when another exists); any endpoint if all are down."""
        with self._lock:
            now = time.monotonic()
            count = len(self.urls)
            candidates = [(self._next + k) % count for k in range(count)]
            up = [i for i in candidates if self._down_until[i] <= now]
            preferred = [i for i in up if self.urls[i] != avoid] or up
            if not preferred:  # everything is cooling down: the one that comes back first
                preferred = [min(candidates, key=lambda i: self._down_until[i])]
            choice = preferred[0]
            self._next = (choice + 1) % count
            return self.urls[choice]

    def mark_down(self, url: str) -> None:
        """Skip ``url`` for the cooldown period."""
        with self._lock:
            self._down_until[self.urls.index(url)] = time.monotonic() + self.cooldown_s

    def mark_up(self, url: str) -> None:
        """``url`` answered well."""
        with self._lock:
            self._down_until[self.urls.index(url)] = 0.0


def parse_option_logprobs(body: Any, ids: list[int]) -> list[float]:
    """Option log-probs from a completions response body; RetryableError if malformed or incomplete."""
    try:
        top = body["choices"][0]["logprobs"]["top_logprobs"][0]
        values = [float(top[f"token_id:{t}"]) for t in ids]
    except (KeyError, IndexError, TypeError, ValueError) as exc:
        raise RetryableError(f"response lacks the option logprobs ({exc.__class__.__name__}: {exc})") from exc
    if any(math.isnan(v) or v > 1e-6 for v in values):
        raise RetryableError(f"response has invalid option logprobs {values}")
    return values


def parse_texts(body: Any, n: int) -> list[str]:
    """The ``n`` completion texts of one prompt, in choice order; RetryableError if malformed."""
    try:
        choices = sorted(body["choices"], key=lambda c: c.get("index", 0))
        texts = [str(c["text"]) for c in choices]
    except (KeyError, TypeError, AttributeError) as exc:
        raise RetryableError(f"malformed completion response ({exc.__class__.__name__}: {exc})") from exc
    if len(texts) != n:
        raise RetryableError(f"expected {n} choices, got {len(texts)}")
    return texts


class OpenAIBackend(OptionScoring):
    """A judge/policy served by ``vllm serve`` (or any server with vLLM's ``logprob_token_ids`` extension)."""

    def __init__(
        self, config: OpenAIConfig | None = None, *, tokenizer: PreTrainedTokenizerBase | None = None, **overrides: Any
    ) -> None:
        """``tokenizer``: reuse an already loaded tokenizer of ``config.model`` (default: load it locally)."""
        self.config = OpenAIConfig.model_validate({**(config or OpenAIConfig()).model_dump(), **overrides})
        self.pool = EndpointPool(self.config.base_urls, self.config.endpoint_cooldown_s)
        path = resolve_model(self.config.model)
        self.name = f"openai:{display_name(self.config.model)}"
        self.max_model_len = self.config.max_model_len
        if tokenizer is None:
            from transformers import AutoTokenizer

            tokenizer = AutoTokenizer.from_pretrained(path)
        self.tokenizer = tokenizer
        # Prompts are tokenized here with config.model's tokenizer, so the endpoints must serve that model.
        self.identity = f"openai:{self.config.served_model_name or ''}@{model_identity(path)}"
        self.headers = {"Authorization": f"Bearer {self.config.api_key}"} if self.config.api_key else {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._client: httpx.AsyncClient | None = None
        self._slots: asyncio.Semaphore | None = None

    # -- the event loop and connection pool of this backend ------------------------------------------------
    def _run_soon(self, coro: Coroutine[Any, Any, T]) -> concurrent.futures.Future[T]:
        if self._loop is None:
            loop = asyncio.new_event_loop()
            self._thread = threading.Thread(target=loop.run_forever, name="openai-backend", daemon=True)
            self._thread.start()
            self._loop = loop
            asyncio.run_coroutine_threadsafe(self._open(), loop).result()
        return asyncio.run_coroutine_threadsafe(coro, self._loop)

    async def _open(self) -> None:
        n = self.config.max_concurrency
        limits = httpx.Limits(max_connections=n, max_keepalive_connections=n)
        self._client = httpx.AsyncClient(timeout=httpx.Timeout(self.config.timeout_s), limits=limits)
        self._slots = asyncio.Semaphore(n)

    # -- one request, with retries and failover -------------------------------------------------------------
    async def _post(self, url: str, payload: dict[str, Any]) -> Any:
        assert self._client is not None
        try:
            response = await self._client.post(url, json=payload, headers=self.headers)
        except httpx.HTTPError as exc:  # timeouts, refused/reset connections, protocol errors
            raise RetryableError(f"{exc.__class__.__name__}: {exc}") from exc
        if response.status_code in (408, 429) or response.status_code >= 500:
            raise RetryableError(f"HTTP {response.status_code}: {response.text[:200]}")
        if response.status_code >= 400:
            raise RejectedError(f"HTTP {response.status_code}: {response.text[:500]}")
        try:
            return response.json()
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise RetryableError(f"malformed JSON ({exc.__class__.__name__})") from exc

    async def _request(self, payload: dict[str, Any], parse: Callable[[Any], T]) -> T:
        assert self._slots is not None
        errors: list[str] = []
        url: str | None = None
        attempts = self.config.max_retries + 1
        for attempt in range(attempts):
            if attempt:
                delay = min(self.config.backoff_s * 2 ** (attempt - 1), MAX_BACKOFF_S)
                await asyncio.sleep(delay * (0.5 + random.random() / 2))
            url = self.pool.pick(avoid=url)
            try:
                async with self._slots:
                    value = parse(await self._post(url, payload))
            except RetryableError as exc:
                self.pool.mark_down(url)
                errors.append(f"{url}: {exc}")
                continue
            except RejectedError as exc:
                raise FeedbackError(f"{url} rejected the request: {exc}") from None
            self.pool.mark_up(url)
            return value
        tried = sorted({e.split(": ", 1)[0] for e in errors})
        raise FeedbackError(
            f"no valid answer after {attempts} attempt(s) on {', '.join(tried)}; "
            f"last error: {errors[-1]}"
        )

    async def _gather(self, payloads: list[dict[str, Any]], parse: Callable[[Any], T]) -> list[T]:
        """Every payload's answer; when some fail (every retry), :class:`GenerationFailed` with the others' answers."""
        results = await asyncio.gather(*(self._request(p, parse) for p in payloads), return_exceptions=True)
        for result in results:
            if isinstance(result, BaseException) and not isinstance(result, FeedbackError):
                raise result
        errors = {i: str(r) for i, r in enumerate(results) if isinstance(r, FeedbackError)}
        if errors:
            raise GenerationFailed([None if i in errors else r for i, r in enumerate(results)], errors)  # type: ignore[misc]
        return results  # type: ignore[return-value]

    def _base_payload(self, prompt_ids: list[int]) -> dict[str, Any]:
        payload: dict[str, Any] = {"prompt": prompt_ids, "add_special_tokens": False}
        if self.config.served_model_name:
            payload["model"] = self.config.served_model_name
        return payload

    async def _score_one(self, request: OptionRequest) -> OptionResult:
        ids = list(request.option_ids)
        payload = {
            **self._base_payload(request.token_ids),
            "max_tokens": 1,
            "temperature": 0.0,
            "logprobs": len(ids),
            "logprob_token_ids": ids,
            "return_tokens_as_token_ids": True,
        }
        try:
            values = await self._request(payload, lambda body: parse_option_logprobs(body, ids))
        except FeedbackError as exc:
            return OptionResult(request.key, None, str(exc))
        return OptionResult(request.key, tuple(values))

    # -- the LLM protocol -----------------------------------------------------------------------------------
    def score_options(self, requests: Iterable[OptionRequest]) -> Iterator[OptionResult]:
        """Stream option log-probs: the window is kept full from ``requests``, answers are yielded as they arrive."""
        finished: queue.SimpleQueue[concurrent.futures.Future[OptionResult]] = queue.SimpleQueue()
        inflight: set[concurrent.futures.Future[OptionResult]] = set()
        window = 2 * self.config.max_concurrency  # queued past the slots, so a freed slot never waits for us
        source = iter(requests)
        exhausted = False
        try:
            while True:
                while not exhausted and len(inflight) < window:
                    request = next(source, None)
                    if request is None:
                        exhausted = True
                        break
                    future = self._run_soon(self._score_one(request))
                    inflight.add(future)
                    future.add_done_callback(finished.put)
                if not inflight:
                    return
                future = finished.get()
                inflight.discard(future)
                yield future.result()
        finally:
            for future in inflight:
                future.cancel()

    def generate(
        self,
        prompts: list[str],
        *,
        max_tokens: int,
        temperature: float = 0.0,
        n: int = 1,
        seed: int | None = None,
        stop: list[str] | None = None,
    ) -> list[list[str]]:
        """``n`` completions per prompt from the servers."""
        token_ids = encode_prompts(self.tokenizer, prompts)
        check_prompt_lengths(token_ids, self.max_model_len)
        draws = sample_count(n, temperature)
        extra: dict[str, Any] = {"max_tokens": max_tokens, "temperature": temperature, "n": draws}
        if seed is not None:
            extra["seed"] = seed
        if stop:
            extra["stop"] = stop
        payloads = [{**self._base_payload(p), **extra} for p in token_ids]
        return self._run_soon(self._gather(payloads, lambda body: replicate(parse_texts(body, draws), n))).result()

    def close(self) -> None:
        """Close the connection pool and stop the event loop thread."""
        loop, self._loop = self._loop, None
        if loop is None:
            return
        if self._client is not None:
            asyncio.run_coroutine_threadsafe(self._client.aclose(), loop).result()
        loop.call_soon_threadsafe(loop.stop)
        if self._thread is not None:
            self._thread.join()
        loop.close()

"""Idempotent requests: an ``Idempotency-Key`` header names one logical request, so its retries are not scored again.

A retry whose first attempt is still being scored waits for that attempt's answer; a retry after it was answered gets
the same answer from a bounded cache of recent answers (the oldest answered ones are dropped first; requests still in
flight are never dropped, and the queue bound already limits them). A failed attempt (503 busy, 500, 4xx) is not
kept, so its retry is tried afresh. The same key with another route or body is an error (422), never a stale answer.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from constitution.hashing import content_hash

T = TypeVar("T")
HEADER = "Idempotency-Key"
MAX_KEY_LENGTH = 200


class KeyReused(ValueError):
    """An idempotency key sent again with a different route or body."""


class AnswerCache:
    """Recent answers by idempotency key (at most ``capacity`` answered ones)."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.entries: OrderedDict[str, tuple[str, asyncio.Task]] = OrderedDict()
        self.replays = 0

    async def once(self, key: str | None, route: str, body: Any, compute: Callable[[], Awaitable[T]]) -> T:
        """``compute()``'s answer, computed once per ``key`` (every call computes without a key)."""
        if key is None:
            return await compute()
        if not key or len(key) > MAX_KEY_LENGTH or not key.isprintable():
            raise KeyReused(f"{HEADER} must be 1-{MAX_KEY_LENGTH} printable characters")
        fingerprint = content_hash(route, body)
        entry = self.entries.get(key)
        if entry is not None:
            if entry[0] != fingerprint:
                raise KeyReused(f"{HEADER} {key!r} was already used for another request")
            self.entries.move_to_end(key)
            self.replays += 1
            return await asyncio.shield(entry[1])
        task = asyncio.ensure_future(compute())
        self.entries[key] = (fingerprint, task)
        task.add_done_callback(lambda done: self._settled(key, done))
        return await asyncio.shield(task)  # a client that goes away does not cancel the scoring its retry will need

    def _settled(self, key: str, task: asyncio.Task) -> None:
        if task.cancelled() or task.exception() is not None:
            if key in self.entries and self.entries[key][1] is task:
                del self.entries[key]
        for old in list(self.entries):
            if len(self.entries) <= self.capacity:
                break
            if self.entries[old][1].done():
                del self.entries[old]

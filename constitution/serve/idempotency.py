"""Idempotent requests: an ``Idempotency-Key`` header names one logical request, so its retries are not scored again.

A retry whose first attempt is still being scored waits for that attempt's answer; a retry after it was answered gets
the same answer, kept as the JSON bytes that were sent, in a cache bounded by bytes (``max_bytes``: each answer's
JSON plus :data:`ENTRY_OVERHEAD` for its key; the oldest answered ones are dropped first, and an answer larger than
the whole bound is not kept). Requests still in flight are never dropped (the queue bound already limits them). A
failed attempt (503 busy, 500, 4xx) is not kept, so its retry is tried afresh. The same key with another route or
body is an error (422), never a stale answer.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Any

from constitution.hashing import content_hash

HEADER = "Idempotency-Key"
MAX_KEY_LENGTH = 200
ENTRY_OVERHEAD = 512  # bytes an entry holds besides its answer: the key, the body's fingerprint, the cache's node


class KeyReused(ValueError):
    """An idempotency key sent again with a different route or body."""


class AnswerCache:
    """Answers by idempotency key: in flight (a task), or answered (its JSON bytes, at most ``max_bytes`` in all)."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.entries: OrderedDict[str, tuple[str, asyncio.Task | bytes]] = OrderedDict()
        self.bytes = 0  # held by the answered entries
        self.replays = 0

    async def once(self, key: str | None, route: str, body: Any, compute: Callable[[], Awaitable[bytes]]) -> bytes:
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
            return entry[1] if isinstance(entry[1], bytes) else await asyncio.shield(entry[1])
        task = asyncio.ensure_future(compute())
        self.entries[key] = (fingerprint, task)
        task.add_done_callback(lambda done: self._settled(key, done))
        return await asyncio.shield(task)  # a client that goes away does not cancel the scoring its retry will need

    @staticmethod
    def _size(key: str, answer: bytes) -> int:
        return len(answer) + len(key) + ENTRY_OVERHEAD

    def _settled(self, key: str, task: asyncio.Task) -> None:
        """Keep a successful answer's bytes (dropping the oldest answers past ``max_bytes``); forget a failure."""
        entry = self.entries.get(key)
        if entry is None or entry[1] is not task:
            return
        if task.cancelled() or task.exception() is not None:
            del self.entries[key]
            return
        answer = task.result()
        size = self._size(key, answer)
        if size > self.max_bytes:  # it could never be kept: it pushes no other answer out
            del self.entries[key]
            return
        self.entries[key] = (entry[0], answer)
        self.entries.move_to_end(key)  # dropped by when it was answered (a slow reload is not the oldest answer)
        self.bytes += size
        for old in list(self.entries):
            if self.bytes <= self.max_bytes:
                break
            held = self.entries[old][1]
            if isinstance(held, bytes):
                del self.entries[old]
                self.bytes -= self._size(old, held)

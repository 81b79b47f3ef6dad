"""The generation cache: every text the policy writes for ``revise`` is stored as soon as its batch returns, in
SQLite (WAL mode).

A generation is keyed by (model identity, hash of the exact model input, round, sampling settings). The input is the
rendered request (template, the principle's request texts, the conversation and the text being critiqued or revised,
with the chat template applied), so a killed run resumes without asking again for anything stored, and editing one
principle's request changes the inputs only of the chains that drew it, from the step that uses it on.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from pathlib import Path
from typing import NamedTuple

from constitution.sqlite_store import SqliteStore


class GenerationKey(NamedTuple):
    """What identifies one generation."""

    model: str
    request_hash: str
    round: int
    sampling: str


class Generation(NamedTuple):
    """A generated text, with the step it was made for (``response``, ``critique`` or ``revision``)."""

    key: GenerationKey
    step: str
    text: str


_SCHEMA = """
CREATE TABLE IF NOT EXISTS generations_v1 (
    model TEXT NOT NULL, request_hash TEXT NOT NULL, round INTEGER NOT NULL, sampling TEXT NOT NULL,
    step TEXT NOT NULL, text TEXT NOT NULL, created REAL NOT NULL,
    PRIMARY KEY (model, request_hash, round, sampling)
) WITHOUT ROWID
"""
_READ_CHUNK = 200  # keys per query (4 parameters each; SQLite allows 32766)


class GenerationCache(SqliteStore):
    """SQLite store of generations; safe against SIGKILL (each write is one transaction)."""

    def __init__(self, path: str | Path) -> None:
        super().__init__(path, table="generations_v1", schema=_SCHEMA, what="generation cache")

    def get_many(self, keys: Iterable[GenerationKey]) -> dict[GenerationKey, str]:
        """Stored texts among ``keys``, looked up by primary key a few hundred at a time."""
        wanted = list(dict.fromkeys(keys))
        found: dict[GenerationKey, str] = {}
        for start in range(0, len(wanted), _READ_CHUNK):
            chunk = wanted[start : start + _READ_CHUNK]
            query = (
                "SELECT model, request_hash, round, sampling, text FROM generations_v1 "
                f"WHERE (model, request_hash, round, sampling) IN (VALUES {','.join(['(?, ?, ?, ?)'] * len(chunk))})"
            )
            for model, request_hash, round_, sampling, text in self.select(query, [v for key in chunk for v in key]):
                found[GenerationKey(model, request_hash, round_, sampling)] = text
        return found

    def put_many(self, generations: Iterable[Generation]) -> int:
        """Store generations in one transaction; an existing key is kept (never duplicated). Returns rows added."""
        now = time.time()
        rows = [(*g.key, g.step, g.text, now) for g in generations]
        return self.insert_new(("model", "request_hash", "round", "sampling", "step", "text", "created"), rows)

    def count(self, step: str | None = None) -> int:
        """Number of stored generations (of one step, if given)."""
        return super().count("step=?", (step,)) if step is not None else super().count()

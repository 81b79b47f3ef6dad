"""The judgment cache: every judge answer is stored as soon as it arrives, in SQLite (WAL mode).

A judgment is keyed by (judge identity, pair hash, principle hash, template hash, order); the primary key starts
with (judge, pair) so that all of a chunk of pairs' judgments are read in one query. A run killed at any point
loses at most the answers not yet flushed (a few hundred, or two seconds' worth); restarted, it finds every stored
judgment and asks only for the rest, and the primary key makes a duplicate impossible. Editing one principle
changes only that principle's hash, so only its judgments are asked again.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from pathlib import Path
from typing import NamedTuple

from constitution.sqlite_store import SqliteStore


class JudgmentKey(NamedTuple):
    """What identifies one judgment."""

    judge: str
    pair_hash: str
    principle_hash: str
    template_hash: str
    order: str


class Judgment(NamedTuple):
    """The judge's answer: log-probs of the options (slot order) and, with chain-of-thought, its rationale."""

    key: JudgmentKey
    logprobs: tuple[float, ...]
    rationale: str | None = None


_SCHEMA = """
CREATE TABLE IF NOT EXISTS judgments_v2 (
    judge TEXT NOT NULL, pair_hash TEXT NOT NULL, principle_hash TEXT NOT NULL, template_hash TEXT NOT NULL,
    ord TEXT NOT NULL, logprobs TEXT NOT NULL, rationale TEXT, created REAL NOT NULL,
    PRIMARY KEY (judge, pair_hash, principle_hash, template_hash, ord)
) WITHOUT ROWID
"""
_READ_CHUNK = 400  # pair hashes per query (SQLite allows 32766 parameters)


def _parse(text: str) -> tuple[float, ...]:
    return tuple(float(x) for x in text.split(","))


class JudgmentCache(SqliteStore):
    """SQLite store of judgments; safe against SIGKILL (each write is one transaction)."""

    def __init__(self, path: str | Path) -> None:
        super().__init__(path, table="judgments_v2", schema=_SCHEMA, what="judgment cache")

    def get_many(self, keys: Iterable[JudgmentKey]) -> dict[JudgmentKey, Judgment]:
        """Stored judgments among ``keys``: one query per few hundred pairs of the same judge."""
        wanted = set(keys)
        groups: dict[str, set[str]] = {}
        for key in wanted:
            groups.setdefault(key.judge, set()).add(key.pair_hash)
        found: dict[JudgmentKey, Judgment] = {}
        for judge, pair_hashes in groups.items():
            hashes = sorted(pair_hashes)
            for start in range(0, len(hashes), _READ_CHUNK):
                chunk = hashes[start : start + _READ_CHUNK]
                query = (
                    "SELECT pair_hash, principle_hash, template_hash, ord, logprobs, rationale FROM judgments_v2 "
                    f"WHERE judge=? AND pair_hash IN ({','.join('?' * len(chunk))})"
                )
                for pair_hash, principle_hash, template_hash, order, logprobs, rationale in self.select(query, [judge, *chunk]):
                    key = JudgmentKey(judge, pair_hash, principle_hash, template_hash, order)
                    if key in wanted:
                        found[key] = Judgment(key, _parse(logprobs), rationale)
        return found

    def put_many(self, judgments: Iterable[Judgment]) -> int:
        """Store judgments in one transaction; an existing key is kept (never duplicated). Returns rows added."""
        now = time.time()
        rows = [(*j.key, ",".join(repr(x) for x in j.logprobs), j.rationale, now) for j in judgments]
        return self.insert_new(("judge", "pair_hash", "principle_hash", "template_hash", "ord", "logprobs", "rationale", "created"), rows)

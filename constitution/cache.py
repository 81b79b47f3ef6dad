"""The judgment cache: every judge answer is stored the moment it is made, in SQLite (WAL mode).

A judgment is keyed by (judge, template hash, principle hash, pair hash, order). A run killed at any point loses
at most the batch in flight; restarted, it finds every stored judgment and asks only for the rest, and the primary
key makes a duplicate impossible. Editing one principle changes only that principle's hash, so only its judgments
are asked again.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterable
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from constitution.errors import InputError


class JudgmentKey(BaseModel):
    """What identifies one judgment."""

    model_config = ConfigDict(frozen=True)

    judge: str
    template_hash: str
    principle_hash: str
    pair_hash: str
    order: str

    def as_tuple(self) -> tuple[str, str, str, str, str]:
        return (self.judge, self.template_hash, self.principle_hash, self.pair_hash, self.order)


class Judgment(BaseModel):
    """The judge's answer: log-probabilities of the options (slot order) and, with chain-of-thought, its rationale."""

    model_config = ConfigDict(frozen=True)

    key: JudgmentKey
    logprobs: tuple[float, ...]
    rationale: str | None = None


_SCHEMA = """
CREATE TABLE IF NOT EXISTS judgments (
    judge TEXT NOT NULL, template_hash TEXT NOT NULL, principle_hash TEXT NOT NULL,
    pair_hash TEXT NOT NULL, ord TEXT NOT NULL,
    logprobs TEXT NOT NULL, rationale TEXT, created REAL NOT NULL,
    PRIMARY KEY (judge, template_hash, principle_hash, pair_hash, ord)
) WITHOUT ROWID
"""


class JudgmentCache:
    """SQLite store of judgments; safe against SIGKILL (each batch is one transaction)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._db = sqlite3.connect(self.path, timeout=30.0)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute(_SCHEMA)
            self._db.commit()
        except sqlite3.DatabaseError as exc:
            raise InputError(f"the label cache is not a readable SQLite database ({exc}); move it away to start afresh", where=str(self.path)) from exc

    def get_many(self, keys: Iterable[JudgmentKey]) -> dict[JudgmentKey, Judgment]:
        """Stored judgments among ``keys``."""
        found: dict[JudgmentKey, Judgment] = {}
        query = "SELECT logprobs, rationale FROM judgments WHERE judge=? AND template_hash=? AND principle_hash=? AND pair_hash=? AND ord=?"
        for key in keys:
            row = self._db.execute(query, key.as_tuple()).fetchone()
            if row is not None:
                logprobs = tuple(float(x) for x in row[0].split(","))
                found[key] = Judgment(key=key, logprobs=logprobs, rationale=row[1])
        return found

    def put_many(self, judgments: Iterable[Judgment]) -> int:
        """Store judgments in one transaction; an existing key is kept (never duplicated). Returns rows added."""
        now = time.time()
        rows = [(*j.key.as_tuple(), ",".join(repr(x) for x in j.logprobs), j.rationale, now) for j in judgments]
        with self._db:
            before = self._db.total_changes
            self._db.executemany("INSERT OR IGNORE INTO judgments VALUES (?, ?, ?, ?, ?, ?, ?, ?)", rows)
            return self._db.total_changes - before

    def count(self) -> int:
        """Number of stored judgments."""
        return int(self._db.execute("SELECT COUNT(*) FROM judgments").fetchone()[0])

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> JudgmentCache:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
